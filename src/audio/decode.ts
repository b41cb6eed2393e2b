/**
 * Any audio file (wav, flac, mp3, ogg, ...) -> mono Float32Array at 16 kHz, what Whisper's
 * `load_audio` gets from `ffmpeg -ac 1 -ar 16000`, without ffmpeg: audio-decode's pure JS/WASM
 * codecs, channel mean, then libsamplerate, chunk by chunk (src/audio/stream.ts) within the
 * limits of src/audio/limits.ts (by default at most 1 hour: longer files go through
 * `openAudioStream`, which never holds the whole file).
 */
import * as fs from 'fs';
import { regularFile } from '../io/node';
import { DEFAULT_MAX_SECONDS } from './limits';
import type { ResampleQuality } from './resample';
import { decodeStream, AudioDecodeOptions } from './stream';

export { mixToMono } from './stream';

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * Decodes an encoded audio file held in memory. `name` (a file name or URL) is only used in
 * error messages: `"<name>: cannot decode audio: <reason>"`. `quality` is the resampler's
 * ('best' is closest to ffmpeg; 'medium' is about 5x faster and still ~3e-4 RMS from it).
 * `limits.maxSeconds` defaults to 1 hour (230 MB of 16 kHz samples); pass Infinity to lift it.
 */
export async function decodeAudio(bytes: Uint8Array, name = '<bytes>', sampleRate = 16000,
  quality: ResampleQuality = 'best', limits: Omit<AudioDecodeOptions, 'sampleRate' | 'quality'> = {}): Promise<Float32Array> {
  const pieces: Float32Array[] = [];
  let n = 0;
  const opts = { maxSeconds: DEFAULT_MAX_SECONDS, ...limits, sampleRate, quality };
  for await (const p of decodeStream(bytes ?? new Uint8Array(0), once(bytes ?? new Uint8Array(0)), name, opts)) {
    pieces.push(p);
    n += p.length;
  }
  if (pieces.length === 1) return pieces[0];
  const out = new Float32Array(n);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads and decodes an audio file: `loadAudio('clip.mp3')` -> 16 kHz mono samples in [-1, 1]. */
export async function loadAudio(file: string, sampleRate = 16000, quality: ResampleQuality = 'best',
  limits: Omit<AudioDecodeOptions, 'sampleRate' | 'quality'> = {}): Promise<Float32Array> {
  regularFile(file, 'audio file');
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read: ${(e as Error).message}`);
  }
  return decodeAudio(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file, sampleRate, quality, limits);
}

/**
 * Decodes with the ffmpeg command line exactly as openai-whisper's `load_audio` does
 * (`ffmpeg -i FILE -f s16le -ac 1 -acodec pcm_s16le -ar 16000 -`, then / 32768), for results
 * identical to Python pipelines built on it. ffmpeg's resampler differs from libsamplerate by up
 * to ~1e-3 per sample, which is enough to change the first token of a short, quiet clip.
 * Needs `ffmpeg` on PATH (apt install ffmpeg).
 */
export async function loadAudioFfmpeg(file: string, sampleRate = 16000): Promise<Float32Array> {
  regularFile(file, 'audio file');
  const { execFile } = await import('child_process');
  const args = ['-nostdin', '-threads', '0', '-i', file, '-f', 's16le', '-ac', '1', '-acodec', 'pcm_s16le', '-ar', String(sampleRate), '-'];
  const out = await new Promise<Buffer>((resolve, reject) => {
    execFile('ffmpeg', args, { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(new Error(`${file}: ffmpeg is not on PATH (install it, or use loadAudio, which needs no ffmpeg)`));
      } else if (err) {
        reject(new Error(`${file}: cannot decode audio: ffmpeg: ${stderr.toString().trim().split('\n').pop()}`));
      } else resolve(stdout);
    });
  });
  const pcm = new Int16Array(out.buffer.slice(out.byteOffset, out.byteOffset + (out.byteLength & ~1)));
  return Float32Array.from(pcm, (s) => s / 32768);
}
