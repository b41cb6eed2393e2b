/**
 * Any audio file (wav, flac, mp3, ogg, ...) -> mono Float32Array at 16 kHz, what Whisper's
 * `load_audio` gets from `ffmpeg -ac 1 -ar 16000`, without ffmpeg: audio-decode's pure JS/WASM
 * codecs, channel mean, then libsamplerate.
 */
import * as fs from 'fs';
import decode from 'audio-decode';
import { resample, ResampleQuality } from './resample';
import { parseAudioHeader } from './header';

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
  const declared = parseAudioHeader(bytes)?.frames;
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

/**
 * Decodes with the ffmpeg command line exactly as openai-whisper's `load_audio` does
 * (`ffmpeg -i FILE -f s16le -ac 1 -acodec pcm_s16le -ar 16000 -`, then / 32768), for results
 * identical to Python pipelines built on it. ffmpeg's resampler differs from libsamplerate by up
 * to ~1e-3 per sample, which is enough to change the first token of a short, quiet clip.
 * Needs `ffmpeg` on PATH (apt install ffmpeg).
 */
export async function loadAudioFfmpeg(file: string, sampleRate = 16000): Promise<Float32Array> {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
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
