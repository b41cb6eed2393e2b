/**
 * The log-Mel of a whole recording, fed in chunks, as openai's transcribe() computes it before
 * slicing its 30 s windows:
 *
 *   mel = log_mel_spectrogram(audio, n_mels, padding=N_SAMPLES)   # 30 s of zeros appended
 *   mel_segment = pad_or_trim(mel[:, seek:seek + segment_size], N_FRAMES)
 *
 * So a frame at a window boundary sees the audio on both sides of it, the frames at the end of the
 * audio see the zero padding (reflect padding only at the very start), and the clamp to max - 8
 * uses the maximum of the whole recording. Before that clamp a frame depends on its 400 samples
 * only, so frames are computed as the samples arrive and kept as log10 energies (float32, nMels * 4
 * bytes per 10 ms: 115 MB for an hour at 80 Mels); `window` clamps once `end` has given the maximum.
 */
import { getLogMelComputer, LogMelComputer, LogPeak } from './logmelComputer';

/** Frames per storage block: growing in blocks never copies what is already computed. */
const BLOCK_FRAMES = 4096;

export class RecordingLogMel {
  private readonly c: LogMelComputer;
  /** The padding's all-zero frames have log10(1e-10) = -10, so the maximum is at least that. */
  private readonly peak: LogPeak = { max: -10, skipBelow: 1e-18 };
  private readonly blocks: Float32Array[] = [];
  /** Frames computed so far. */
  private frames = 0;
  /** Samples from the first one a later frame needs; `bufferStart` is the first one's index. */
  private buffer = new Float32Array(0);
  private bufferStart = 0;
  private samples = 0;
  private ended = false;

  constructor(nMels = 80, sampleRate = 16000, nFft = 400, hopLength = 160) {
    this.c = getLogMelComputer(nMels, sampleRate, nFft, hopLength);
  }

  /** Frames with audio in them (openai's content_frames): the windows cover these. */
  get contentFrames(): number {
    return Math.floor(this.samples / this.c.hopLength);
  }

  /** Appends samples and computes every frame whose samples have all arrived. */
  push(chunk: Float32Array): void {
    if (this.ended) throw new Error('RecordingLogMel.push: called after end()');
    const pad = this.c.nFft >> 1;
    const keepFrom = Math.max(0, this.frames * this.c.hopLength - pad);
    const grown = new Float32Array(this.bufferStart + this.buffer.length - keepFrom + chunk.length);
    grown.set(this.buffer.subarray(keepFrom - this.bufferStart));
    grown.set(chunk, grown.length - chunk.length);
    this.buffer = grown;
    this.bufferStart = keepFrom;
    this.samples += chunk.length;
    while (this.frames * this.c.hopLength + pad <= this.samples) this.computeFrame();
  }

  /** The audio has ended: computes the last frames, which reach into the zero padding. */
  end(): void {
    const pad = this.c.nFft >> 1;
    if (this.samples <= pad) throw new Error(`RecordingLogMel.end: ${this.samples} samples, too short for reflect padding of ${pad}`);
    this.ended = true;
    // Later frames hold nothing but padding: -10, already in `peak`, and never in a window.
    while (this.frames * this.c.hopLength - pad < this.samples) this.computeFrame();
  }

  /**
   * mel[:, seek:seek + size] clamped to the recording's max - 8 and rescaled, zero-padded to
   * `nFrames` (openai's pad_or_trim of the normalized log-Mel): [nMels * nFrames], mel-major.
   */
  window(seek: number, size: number, nFrames: number): Float32Array {
    if (!this.ended) throw new Error('RecordingLogMel.window: call end() first (the clamp needs the whole recording)');
    if (seek < 0 || size > nFrames || seek + size > this.frames) {
      throw new Error(`RecordingLogMel.window: frames [${seek}, ${seek + size}) outside the ${this.frames} computed (window of ${nFrames})`);
    }
    const nMels = this.c.nMels;
    const floor = this.peak.max - 8;
    const out = new Float32Array(nMels * nFrames);
    for (let t = 0; t < size; t++) {
      const f = seek + t;
      const block = this.blocks[Math.floor(f / BLOCK_FRAMES)];
      const row = (f % BLOCK_FRAMES) * nMels;
      for (let m = 0; m < nMels; m++) {
        const v = block[row + m];
        out[m * nFrames + t] = ((v > floor ? v : floor) + 4) / 4;
      }
    }
    return out;
  }

  private computeFrame(): void {
    const { nMels, hopLength, nFft } = this.c;
    const f = this.frames++;
    if (f % BLOCK_FRAMES === 0) this.blocks.push(new Float32Array(BLOCK_FRAMES * nMels));
    const buffer = this.buffer;
    const start = this.bufferStart;
    // Outside the buffer: reflection at the start of the recording, the zero padding after its end.
    const outside = (j: number) => (j < 0 && start === 0 ? buffer[-j] : 0);
    const power = this.c.framePower(buffer, f * hopLength - (nFft >> 1) - start, outside);
    this.c.logMelFrame(power, this.blocks[this.blocks.length - 1], (f % BLOCK_FRAMES) * nMels, this.peak);
  }
}
