/**
 * Any audio file (wav, flac, mp3, ogg, ...) -> mono Float32Array at 16 kHz, what Whisper's
 * `load_audio` gets from `ffmpeg -ac 1 -ar 16000`, without ffmpeg: audio-decode's pure JS/WASM
 * codecs, channel mean, then libsamplerate.
 */
import * as fs from 'fs';
import decode from 'audio-decode';
import { resample, ResampleQuality } from './resample';
import { declaredFrames } from './declaredLength';

/** Mean of the channels, as the reference pipeline mixes stereo to mono ((L + R) / 2). */
export function mixToMono(channels: Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0];
  const n = Math.min(...channels.map((c) => c.length));
  const out = new Float32Array(n);
  for (const c of channels) for (let i = 0; i < n; i++) out[i] += c[i];
  const k = 1 / channels.length;
  for (let i = 0; i < n; i++) out[i] *= k;
  return out;
}

/**
 * Decodes an encoded audio file held in memory. `name` (a file name or URL) is only used in
 * error messages: `"<name>: cannot decode audio: <reason>"`. `quality` is the resampler's
 * ('best' is closest to ffmpeg; 'medium' is about 5x faster and still ~3e-4 RMS from it).
 */
export async function decodeAudio(bytes: Uint8Array, name = '<bytes>', sampleRate = 16000,
  quality: ResampleQuality = 'best'): Promise<Float32Array> {
  const fail = (why: string): never => {
    throw new Error(`${name}: cannot decode audio: ${why}`);
  };
  if (!bytes || bytes.length === 0) fail('empty data');
  let decoded: { channelData: Float32Array[]; sampleRate: number };
  try {
    decoded = await decode(bytes);
  } catch (e) {
    const why = (e as Error)?.message ?? String(e);
    if (/unknown audio format/i.test(why)) {
      const head = Buffer.from(bytes.subarray(0, 16)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
      return fail(`unknown format, not WAV/FLAC/MP3/OGG/Opus/AAC/... (starts with "${head}")`);
    }
    return fail(why);
  }
  const { channelData, sampleRate: rate } = decoded;
  if (!channelData?.length || !rate) fail('no audio samples in the data (truncated or corrupt file?)');
  const mono = mixToMono(channelData);
  if (mono.length === 0) fail('no audio samples in the data (truncated or corrupt file?)');
  const declared = declaredFrames(bytes);
  if (declared !== undefined && mono.length < declared) {
    fail(`truncated or corrupt: decoded ${mono.length} of the ${declared} samples its header declares`);
  }
  for (let i = 0; i < mono.length; i++) {
    if (!Number.isFinite(mono[i])) fail(`sample ${i} is not a finite number (corrupt data?)`);
  }
  return resample(mono, rate, sampleRate, quality);
}

/** Reads and decodes an audio file: `loadAudio('clip.mp3')` -> 16 kHz mono samples in [-1, 1]. */
export async function loadAudio(file: string, sampleRate = 16000,
  quality: ResampleQuality = 'best'): Promise<Float32Array> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${file}: file not found`);
    if (code === 'EISDIR') throw new Error(`${file}: is a directory, not an audio file`);
    throw new Error(`${file}: cannot read: ${(e as Error).message}`);
  }
  return decodeAudio(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file, sampleRate, quality);
}
