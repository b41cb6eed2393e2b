/** Decodes one `audio` cell (path or bytes) with the audio module, naming the row on failure. */
import { AudioValue, DecodedAudio, RowOrigin, originLabel } from './types';

type AudioDecoder = typeof import('../audio/decode');

let decoder: AudioDecoder | undefined;
/** Loaded on first use: loading a manifest or filtering rows never pays for the codecs. */
function audioDecoder(): AudioDecoder {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  decoder ??= require('../audio/decode') as AudioDecoder;
  return decoder;
}

export async function decodeCell(value: unknown, samplingRate: number, origin?: RowOrigin): Promise<DecodedAudio> {
  try {
    if (typeof value === 'string') {
      return { path: value, array: await audioDecoder().loadAudio(value, samplingRate), samplingRate };
    }
    if (value instanceof Uint8Array) {
      return { array: await audioDecoder().decodeAudio(value, originLabel(origin), samplingRate), samplingRate };
    }
    if (isDecoded(value)) {
      if (value.samplingRate === samplingRate) return value;
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { resample } = require('../audio/resample') as typeof import('../audio/resample');
      return { path: value.path, array: await resample(value.array, value.samplingRate, samplingRate), samplingRate };
    }
  } catch (e) {
    throw new Error(`${originLabel(origin)}: ${(e as Error).message}`);
  }
  throw new Error(`${originLabel(origin)}: no 'audio' value to decode (got ${value === undefined ? 'no audio column' : typeof value})`);
}

function isDecoded(v: unknown): v is DecodedAudio {
  return typeof v === 'object' && v !== null && (v as DecodedAudio).array instanceof Float32Array &&
    typeof (v as DecodedAudio).samplingRate === 'number';
}

export function isAudioValue(v: unknown): v is AudioValue {
  return typeof v === 'string' || v instanceof Uint8Array || isDecoded(v);
}
