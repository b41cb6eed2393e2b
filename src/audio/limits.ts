/**
 * Sane bounds for decoding untrusted audio. A header can declare 65535 channels or hours of
 * samples in a few kilobytes, and silence compresses a thousandfold: every bound is checked
 * against the header before anything is allocated, and again on the decoded stream as it grows,
 * so memory stays bounded whatever the file says.
 */
import type { AudioFormat } from './header';

export interface AudioLimits {
  /** Longest audio accepted, in seconds. `decodeAudio` default: 1 hour; `openAudioStream`: none. */
  maxSeconds?: number;
  /** Most channels accepted (default 32: 7.1 surround and 4th-order ambisonics fit). */
  maxChannels?: number;
}

export const DEFAULT_MAX_CHANNELS = 32;
/** Whole-file decoding keeps every 16 kHz sample in memory (230 MB per hour). */
export const DEFAULT_MAX_SECONDS = 3600;
/** libsamplerate's range; below 1 kHz nothing is speech. */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 192000;

/** Too many channels or too long: the demo answers 413, not 400 (the file may be fine, just too big). */
export class AudioLimitError extends Error {
  readonly code = 'AUDIO_LIMIT';
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${+seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  if (m < 60) return s ? `${m} min ${s} s` : `${m} min`;
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

/** Throws (naming `name`) when channels, rate or length are out of bounds; `what` says where they come from. */
export function checkAudioFormat(name: string, f: Partial<AudioFormat>, limits: AudioLimits, what: string): void {
  const maxChannels = limits.maxChannels ?? DEFAULT_MAX_CHANNELS;
  const maxSeconds = limits.maxSeconds ?? Infinity;
  if (f.channels !== undefined && (f.channels < 1 || f.channels > maxChannels)) {
    throw new AudioLimitError(`${name}: cannot decode audio: ${what} ${f.channels} channels (at most ${maxChannels} are accepted)`);
  }
  if (f.sampleRate !== undefined && (f.sampleRate < MIN_SAMPLE_RATE || f.sampleRate > MAX_SAMPLE_RATE)) {
    throw new Error(`${name}: cannot decode audio: ${what} a sample rate of ${f.sampleRate} Hz ` +
      `(${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE} Hz are accepted; convert it, e.g. ffmpeg -i IN -ar 48000 OUT.wav)`);
  }
  if (f.frames !== undefined && f.sampleRate && f.frames / f.sampleRate > maxSeconds) {
    throw new AudioLimitError(`${name}: ${what} ${formatDuration(f.frames / f.sampleRate)} of audio, ` +
      `more than the limit of ${formatDuration(maxSeconds)}`);
  }
}
