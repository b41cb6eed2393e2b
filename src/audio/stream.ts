/**
 * Decoding as a stream: encoded bytes go to audio-decode's codecs a small chunk at a time, each
 * decoded chunk is mixed to mono and resampled on the fly, so memory holds one chunk, not the file.
 * `decodeAudio` collects the stream (the same samples as decoding the whole file at once);
 * `openAudioStream` hands out fixed windows of a file of any length.
 *
 * Limits (src/audio/limits.ts) are checked on the header before decoding and on the decoded
 * stream as it grows: a crafted file stops at the limit, never after allocating what it declares.
 */
import * as fs from 'fs';
import decode from 'audio-decode';
import audioType from 'audio-type';
import { checkAudioFormat, AudioLimitError, AudioLimits, DEFAULT_MAX_CHANNELS, formatDuration } from './limits';
import { AudioFormat, parseAudioFormat, readHead } from './header';
import { Resampler, ResampleQuality } from './resample';
import { regularFile } from '../io/node';

export interface AudioDecodeOptions extends AudioLimits {
  /** Output rate (default 16000, Whisper's). */
  sampleRate?: number;
  /** Resampler quality ('best' is closest to ffmpeg; 'medium' is about 5x faster and still ~3e-4 RMS from it). */
  quality?: ResampleQuality;
}

/**
 * audio-type's names of the formats decoded. Not tracker modules (mod, xm, s3m, it) nor DSD: those
 * synthesize or expand audio far beyond their size, and nobody records speech in them.
 */
const FORMATS = new Set(['wav', 'flac', 'mp3', 'oga', 'opus', 'm4a', 'mp4', 'mov', 'webm', 'mkv', 'aac', 'aiff', 'caf',
  'amr', 'wma', 'qoa', 'avi']);

/**
 * Bytes per codec call, adapted to what the previous call expanded to: about a million samples
 * per call, so a crafted stretch of silence (FLAC packs 65535 silent samples into ~17 bytes) never
 * decodes to more than a few megabytes at once, while ordinary audio goes in 64 KiB pieces.
 * (MP4 with its index at the end is the exception: its decoder needs the whole file, so its
 * declared length is checked before decoding.)
 */
const SAMPLES_PER_CALL = 1 << 20;
const MIN_CHUNK = 256;
const MAX_CHUNK = 65536;
const FIRST_CHUNK = 2048;

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
 * Re-cuts `source` into chunks of `size()` bytes, each ending before the first FLAC frame sync
 * (0xFFF8/0xFFF9) in its last 32 bytes: @audio/decode-flac's stream parser misses a frame whose
 * header (at most 16 bytes) straddles two chunks, and the two frames then decode as one. A false
 * sync only moves the cut; other codecs do not care where chunks end.
 */
async function* codecChunks(source: AsyncIterable<Uint8Array>, size: () => number): AsyncGenerator<Uint8Array> {
  let carry: Uint8Array = new Uint8Array(0);
  for await (const piece of source) {
    let buf = piece;
    if (carry.length) {
      buf = new Uint8Array(carry.length + piece.length);
      buf.set(carry);
      buf.set(piece, carry.length);
    }
    let at = 0;
    for (let n = size(); buf.length - at > n; n = size()) {
      let end = at + n;
      for (let k = end - 32; k < end; k++) {
        if (buf[k] === 0xff && (buf[k + 1] & 0xfe) === 0xf8) {
          end = k;
          break;
        }
      }
      yield buf.subarray(at, end);
      at = end;
    }
    carry = new Uint8Array(buf.subarray(at)); // a copy: `piece` may be a view into a big buffer
  }
  if (carry.length) yield carry;
}

type StreamDecoder = ((chunk?: Uint8Array) => Promise<{ channelData: Float32Array[]; sampleRate: number }>) & { free(): void };

/**
 * Decodes the bytes of `source` (whose first bytes are `head`, for format detection and the header
 * checks) to mono at `opts.sampleRate`, yielding the samples as they come. `name` (a file name or
 * URL) is used in error messages: `"<name>: cannot decode audio: <reason>"`.
 */
export async function* decodeStream(head: Uint8Array, source: AsyncIterable<Uint8Array>, name: string,
  opts: AudioDecodeOptions = {}): AsyncGenerator<Float32Array> {
  const fail = (why: string): never => {
    throw new Error(`${name}: cannot decode audio: ${why}`);
  };
  if (head.length === 0) fail('empty data');
  // A copy (not Buffer#slice, a view): audio-type reads `bytes.buffer` from offset 0.
  const type = audioType(new Uint8Array(head.subarray(0, 65536)));
  if (!type) {
    const start = Buffer.from(head.subarray(0, 16)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    fail(`unknown format, not WAV/FLAC/MP3/OGG/Opus/AAC/... (starts with "${start}")`);
  }
  if (!FORMATS.has(type!)) fail(`${type} files are not accepted (formats: ${[...FORMATS].join(', ')})`);
  const header: AudioFormat | undefined = parseAudioFormat(head);
  if (header) checkAudioFormat(name, header, opts, 'its header declares');

  const maxSeconds = opts.maxSeconds ?? Infinity;
  const maxChannels = opts.maxChannels ?? DEFAULT_MAX_CHANNELS;
  const outRate = opts.sampleRate ?? 16000;
  let resampler: Resampler | undefined;
  let rate = 0;
  let frames = 0;
  /** Checks one decoded chunk, then mixes it to mono and resamples it. */
  const take = async (channelData: Float32Array[], sampleRate: number): Promise<Float32Array> => {
    if (!channelData.length || !channelData[0].length) return new Float32Array(0);
    if (channelData.length > maxChannels) {
      throw new AudioLimitError(`${name}: cannot decode audio: it has ${channelData.length} channels (at most ${maxChannels} are accepted)`);
    }
    if (!resampler) {
      checkAudioFormat(name, { sampleRate }, opts, 'it has');
      rate = sampleRate;
      resampler = await Resampler.open(rate, outRate, opts.quality);
    } else if (sampleRate !== rate) {
      fail(`the sample rate changes from ${rate} to ${sampleRate} Hz inside the file`);
    }
    const mono = mixToMono(channelData);
    for (let i = 0; i < mono.length; i++) {
      if (!Number.isFinite(mono[i])) fail(`sample ${frames + i} is not a finite number (corrupt data?)`);
    }
    frames += mono.length;
    if (frames / rate > maxSeconds) {
      throw new AudioLimitError(`${name}: more than ${formatDuration(maxSeconds)} of audio, the limit`);
    }
    return resampler.push(mono);
  };

  const dec = await (decode as unknown as Record<string, () => Promise<StreamDecoder>>)[type!]();
  let flushed = false;
  let chunkBytes = FIRST_CHUNK;
  try {
    for await (const chunk of codecChunks(source, () => chunkBytes)) {
      let out: { channelData: Float32Array[]; sampleRate: number };
      try {
        out = await dec(chunk);
      } catch (e) {
        flushed = true; // the codec frees itself when it throws
        return fail((e as Error)?.message ?? String(e));
      }
      const expanded = out.channelData.length * (out.channelData[0]?.length ?? 0);
      chunkBytes = Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.floor((SAMPLES_PER_CALL * chunk.length) / Math.max(expanded, 1))));
      const y = await take(out.channelData, out.sampleRate);
      if (y.length) yield y;
    }
    let last: { channelData: Float32Array[]; sampleRate: number };
    flushed = true;
    try {
      last = await dec();
    } catch (e) {
      return fail((e as Error)?.message ?? String(e));
    }
    const y = await take(last.channelData, last.sampleRate);
    if (y.length) yield y;
    if (!resampler || frames === 0) fail('no audio samples in the data (truncated or corrupt file?)');
    // Decoders return what they could read from a cut-off file: compare with what the header declares.
    if ((header?.format === 'wav' || header?.format === 'flac') && header.frames !== undefined && frames < header.frames) {
      fail(`truncated or corrupt: decoded ${frames} of the ${header.frames} samples its header declares`);
    }
    const tail = resampler!.end();
    if (tail.length) yield tail;
  } finally {
    if (!flushed) dec.free();
    resampler?.close();
  }
}

/** The chunks of a file as they are read (64 KiB each). */
async function* fileChunks(file: string): AsyncGenerator<Uint8Array> {
  for await (const c of fs.createReadStream(file, { highWaterMark: 65536 })) yield c as Buffer;
}

export interface AudioStreamOptions extends AudioDecodeOptions {
  /** Seconds per chunk handed out (default 30, one Whisper window); the last chunk is shorter. */
  chunkSeconds?: number;
  /**
   * 'js' (default): audio-decode + libsamplerate, no dependency, same samples as `loadAudio`.
   * 'ffmpeg': `ffmpeg -ac 1 -ar RATE`, the samples of openai-whisper's `load_audio` (needs ffmpeg on PATH).
   */
  decoder?: 'js' | 'ffmpeg';
}

/**
 * A file of any length as consecutive chunks of mono audio at `sampleRate` (default 16 kHz), read
 * and decoded as they are consumed: memory holds about one chunk whatever the file's length.
 *
 *   for await (const chunk of openAudioStream('lecture.mp3')) transcribeWindow(chunk);
 *
 * No duration limit unless `maxSeconds` is given. Errors name the file.
 */
export async function* openAudioStream(file: string, opts: AudioStreamOptions = {}): AsyncGenerator<Float32Array> {
  regularFile(file, 'audio file');
  const rate = opts.sampleRate ?? 16000;
  const size = Math.round((opts.chunkSeconds ?? 30) * rate);
  if (!(size > 0)) throw new Error(`openAudioStream: chunkSeconds must be positive, got ${opts.chunkSeconds}`);
  const samples = opts.decoder === 'ffmpeg' ? ffmpegStream(file, rate, opts.maxSeconds)
    : decodeStream(readHead(file), fileChunks(file), file, opts);
  let chunk = new Float32Array(size);
  let fill = 0;
  for await (let x of samples) {
    while (x.length) {
      const n = Math.min(size - fill, x.length);
      chunk.set(x.subarray(0, n), fill);
      fill += n;
      x = x.subarray(n);
      if (fill === size) {
        yield chunk;
        chunk = new Float32Array(size);
        fill = 0;
      }
    }
  }
  if (fill) yield chunk.slice(0, fill);
}

/** `ffmpeg -i FILE -f s16le -ac 1 -ar RATE -` (openai-whisper's load_audio), read as it is produced. */
async function* ffmpegStream(file: string, rate: number, maxSeconds = Infinity): AsyncGenerator<Float32Array> {
  const { spawn } = await import('child_process');
  const args = ['-nostdin', '-threads', '0', '-i', file, '-f', 's16le', '-ac', '1', '-acodec', 'pcm_s16le', '-ar', String(rate), '-'];
  const proc = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exit = new Promise<number | null>((resolve, reject) => {
    proc.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT'
      ? new Error(`${file}: ffmpeg is not on PATH (install it, or use the 'js' decoder)`) : e));
    proc.on('close', resolve);
  });
  exit.catch(() => undefined); // awaited below; this keeps an early spawn error from being "unhandled"
  let odd: Buffer | undefined;
  let total = 0;
  try {
    for await (const data of proc.stdout as AsyncIterable<Buffer>) {
      const buf = odd ? Buffer.concat([odd, data]) : data;
      const even = buf.length & ~1;
      odd = even < buf.length ? Buffer.from(buf.subarray(even)) : undefined;
      const pcm = new Int16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + even));
      total += pcm.length;
      if (total / rate > maxSeconds) throw new AudioLimitError(`${file}: more than ${formatDuration(maxSeconds)} of audio, the limit`);
      yield Float32Array.from(pcm, (s) => s / 32768);
    }
    const code = await exit;
    if (code !== 0) throw new Error(`${file}: cannot decode audio: ffmpeg: ${stderr.trim().split('\n').pop()}`);
  } finally {
    if (proc.exitCode === null) proc.kill();
    await exit.catch(() => undefined);
  }
}
