/**
 * The demo's "run in this browser" mode: this library, bundled for the page (bundle.ts), loads
 * the checkpoint and the PEFT adapter over HTTP from the demo server (/model/, /adapter/) and
 * transcribes on the page's own backend (webgpu -> webgl -> wasm, backend/browser.ts). The page
 * reaches it as the global `WhisperInPage`.
 */
import { describeBackend, tf } from '../../src/backend';
import { BrowserBackend, initBrowserBackend } from '../../src/backend/browser';

export { initBrowserBackend };
import { Files, httpFiles, memoryFiles } from '../../src/io/files';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, PeftModel } from '../../src/lora/peft';
import { WhisperForConditionalGeneration } from '../../src/model/whisper';
import { WhisperTokenizer } from '../../src/tokenizer/whisper';
import { transcribeAny } from './transcribeAny';
import { CHECKPOINT_FILES, WEIGHTS_INDEX_NAME, WEIGHTS_NAME } from '../../src/model/files';
import { WhisperFeatureExtractor } from '../../src/features/logmel';

const ADAPTER_FILES = [ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME];

/** The model's files, shards included (fetched once their index is read). */
async function modelFiles(url: string): Promise<Files> {
  const files = await httpFiles(url, CHECKPOINT_FILES);
  if (files.has(WEIGHTS_NAME) || !files.has(WEIGHTS_INDEX_NAME)) return files;
  const index = JSON.parse(new TextDecoder().decode(files.bytes(WEIGHTS_INDEX_NAME)));
  const shards = [...new Set(Object.values(index.weight_map ?? {}) as string[])];
  const more = await httpFiles(url, shards);
  const all = new Map([...CHECKPOINT_FILES, ...shards].filter((n) => files.has(n) || more.has(n))
    .map((n) => [n, (files.has(n) ? files : more).bytes(n)]));
  return memoryFiles(files.where, all);
}

export interface InPageOptions {
  /** URL folders of the model, the adapter (optional) and tfjs-backend-wasm's .wasm files. */
  model: string;
  adapter?: string | null;
  wasm: string;
  /** Forces a backend (e.g. 'webgl' in a headless test). */
  backend?: BrowserBackend;
  /** The language to transcribe; none (null) detects it. */
  language?: string | null;
}

export interface InPageResult {
  text: string;
  tokens: number[];
  /** Transcription time in the page. */
  seconds: number;
  audioSeconds: number;
}

export class WhisperInPage {
  private constructor(readonly backend: string, readonly model: WhisperForConditionalGeneration,
    readonly tokenizer: WhisperTokenizer, readonly featureExtractor: WhisperFeatureExtractor, private peft: PeftModel | undefined,
    private language: string | undefined) {}

  static async load(opts: InPageOptions): Promise<WhisperInPage> {
    const report = await initBrowserBackend({ backend: opts.backend, wasmPaths: opts.wasm });
    const files = await modelFiles(opts.model);
    const model = WhisperForConditionalGeneration.fromFiles(files);
    const tokenizer = await WhisperTokenizer.fromPretrained(files);
    const peft = opts.adapter ? PeftModel.fromPretrained(model, await httpFiles(opts.adapter, ADAPTER_FILES)) : undefined;
    const featureExtractor = WhisperFeatureExtractor.fromPretrained(files);
    return new WhisperInPage(describeBackend(report), model, tokenizer, featureExtractor, peft, opts.language ?? undefined);
  }

  get hasAdapter(): boolean {
    return this.peft !== undefined;
  }

  /** 16 kHz mono samples to text, with the adapter ('adapter') or without ('base'). */
  async transcribe(audio: Float32Array, variant: 'base' | 'adapter' = 'base'): Promise<InPageResult> {
    const t0 = performance.now();
    const run = () => transcribeAny(this, audio, { language: this.language });
    if (variant === 'adapter' && !this.peft) throw new Error('no adapter was loaded');
    const r = variant === 'adapter' || !this.peft ? await run() : await this.peft.withAdapterDisabled(run);
    return { text: r.text, tokens: r.segments.flatMap((s) => s.tokens), seconds: (performance.now() - t0) / 1000, audioSeconds: audio.length / 16000 };
  }

  dispose(): void {
    this.peft?.dispose();
    this.model.dispose();
  }
}

/** Any audio file the browser can decode, as 16 kHz mono samples (WebAudio decodes and resamples). */
export async function decodeToMono16k(bytes: ArrayBuffer): Promise<Float32Array> {
  const probe = new OfflineAudioContext(1, 1, 16000);
  const decoded = await probe.decodeAudioData(bytes);
  return resampleTo16k(decoded);
}

/** An AudioBuffer (any rate, any channels) as 16 kHz mono: rendered through an OfflineAudioContext. */
export async function resampleTo16k(buffer: AudioBuffer): Promise<Float32Array> {
  if (buffer.sampleRate === 16000 && buffer.numberOfChannels === 1) return buffer.getChannelData(0).slice();
  const ctx = new OfflineAudioContext(1, Math.ceil(buffer.duration * 16000), 16000);
  const src = ctx.createBufferSource();
  src.buffer = buffer;
  src.connect(ctx.destination);
  src.start();
  return (await ctx.startRendering()).getChannelData(0).slice();
}

export { tf };
