/**
 * WhisperConfig: the Hugging Face `config.json` of a Whisper checkpoint, in camelCase.
 *
 * Every size from tiny to large-v3 is the same architecture with different numbers, so the model
 * code reads all shapes from here. `generation_config.json` (when present) overrides the decoding
 * fields (suppress tokens, language ids), like transformers' GenerationConfig.
 */
import * as path from 'path';
import { Files, readJson } from '../io/files';
import { nodeFiles } from '../io/node';

export interface WhisperConfigJSON {
  [key: string]: unknown;
}

function snakeToCamel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export class WhisperConfig {
  modelType = 'whisper';
  dModel = 384;
  encoderLayers = 4;
  decoderLayers = 4;
  encoderAttentionHeads = 6;
  decoderAttentionHeads = 6;
  encoderFfnDim = 1536;
  decoderFfnDim = 1536;
  numMelBins = 80;
  vocabSize = 51865;
  maxSourcePositions = 1500;
  maxTargetPositions = 448;
  decoderStartTokenId = 50258;
  eosTokenId = 50257;
  padTokenId = 50257;
  bosTokenId = 50257;
  suppressTokens: number[] = [];
  beginSuppressTokens: number[] = [];
  scaleEmbedding = false;
  activationFunction = 'gelu';
  /** `lang_to_id` from generation_config.json, e.g. {"<|en|>": 50259}; empty when unknown. */
  langToId: Record<string, number> = {};
  /** `task_to_id` from generation_config.json. */
  taskToId: Record<string, number> = {};
  noTimestampsTokenId?: number;
  isMultilingual?: boolean;
  /** `alignment_heads` of generation_config.json: [layer, head] pairs whose cross-attention follows the words. */
  alignmentHeads: [number, number][] = [];
  /** Width of the median filter on those attention maps (config.json `median_filter_width`). */
  medianFilterWidth = 7;
  /** Where this config came from (a file path), used in error messages. */
  source = '<object>';
  /** Every field of the JSON, camelCased, including those not declared above. */
  raw: Record<string, unknown> = {};

  get numHiddenLayers(): number {
    return this.encoderLayers;
  }

  /** Builds and validates a config from parsed `config.json` (snake_case or camelCase keys). */
  static fromJSON(obj: WhisperConfigJSON, source = '<object>'): WhisperConfig {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new Error(`${source}: a Whisper config must be a JSON object`);
    }
    const c = new WhisperConfig();
    c.source = source;
    const target = c as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) {
      const key = snakeToCamel(k);
      c.raw[key] = v;
      if (Object.prototype.hasOwnProperty.call(target, key) && key !== 'raw' && key !== 'source' && v !== null && v !== undefined) target[key] = v;
    }
    c.validate();
    return c;
  }

  static fromFile(file: string): WhisperConfig {
    return WhisperConfig.fromFiles(nodeFiles(path.dirname(file)), path.basename(file));
  }

  /** `name` (config.json) of a checkpoint's files, with generation_config.json when present. */
  static fromFiles(files: Files, name = 'config.json'): WhisperConfig {
    const c = WhisperConfig.fromJSON(readJson<WhisperConfigJSON>(files, name, 'config file'), files.path(name));
    // generation_config.json beside it holds the decoding settings transformers actually uses.
    const gen = 'generation_config.json';
    if (files.has(gen)) c.applyGenerationConfig(readJson<WhisperConfigJSON>(files, gen), files.path(gen));
    return c;
  }

  /** A local folder, or a Hub id resolved through the HF cache / download (see hub.ts). */
  static async fromPretrained(idOrDir: string): Promise<WhisperConfig> {
    const { resolveModel } = await import('./hub');
    const dir = await resolveModel(idOrDir);
    return WhisperConfig.fromFile(path.join(dir, 'config.json'));
  }

  applyGenerationConfig(obj: WhisperConfigJSON, source: string): void {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${source}: must be a JSON object`);
    const pick = (k: string) => obj[k];
    /** {"<|en|>": 50259, ...}: token texts to token ids below vocab_size. */
    const idMap = (k: string) => {
      const v = pick(k);
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'object' || Array.isArray(v) ||
        !Object.values(v).every((id) => Number.isInteger(id) && (id as number) >= 0 && (id as number) < this.vocabSize)) {
        throw new Error(`${source}: field '${k}' must map token texts to token ids below ${this.vocabSize}`);
      }
      return v as Record<string, number>;
    };
    const arr = (k: string) => {
      const v = pick(k);
      if (v === undefined || v === null) return undefined;
      if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0 && x < this.vocabSize)) {
        throw new Error(`${source}: field '${k}' must be a list of token ids below ${this.vocabSize}`);
      }
      return v as number[];
    };
    this.suppressTokens = arr('suppress_tokens') ?? this.suppressTokens;
    this.beginSuppressTokens = arr('begin_suppress_tokens') ?? this.beginSuppressTokens;
    this.langToId = idMap('lang_to_id') ?? this.langToId;
    this.taskToId = idMap('task_to_id') ?? this.taskToId;
    if (Number.isInteger(pick('no_timestamps_token_id'))) this.noTimestampsTokenId = pick('no_timestamps_token_id') as number;
    if (typeof pick('is_multilingual') === 'boolean') this.isMultilingual = pick('is_multilingual') as boolean;
    const heads = pick('alignment_heads');
    if (heads !== undefined && heads !== null) {
      const ok = Array.isArray(heads) && heads.every((h) => Array.isArray(h) && h.length === 2 &&
        Number.isInteger(h[0]) && h[0] >= 0 && h[0] < this.decoderLayers && Number.isInteger(h[1]) && h[1] >= 0 && h[1] < this.decoderAttentionHeads);
      if (!ok) throw new Error(`${source}: field 'alignment_heads' must be a list of [layer, head] pairs of this model`);
      this.alignmentHeads = heads as [number, number][];
    }
    for (const k of ['decoder_start_token_id', 'eos_token_id', 'pad_token_id'] as const) {
      if (Number.isInteger(pick(k))) (this as unknown as Record<string, number>)[snakeToCamel(k)] = pick(k) as number;
    }
  }

  /** Throws naming the first field that is missing or wrong. */
  validate(): void {
    const src = this.source;
    const posInt: (keyof WhisperConfig)[] = ['dModel', 'encoderLayers', 'decoderLayers', 'encoderAttentionHeads',
      'decoderAttentionHeads', 'encoderFfnDim', 'decoderFfnDim', 'numMelBins', 'vocabSize', 'maxSourcePositions',
      'maxTargetPositions'];
    for (const k of posInt) {
      const v = this[k];
      const max = BOUNDS[k as string];
      if (!Number.isInteger(v) || (v as number) <= 0 || (v as number) > max) {
        throw new Error(`${src}: field '${toSnake(k)}' must be a whole number in 1..${max}, got ${JSON.stringify(v)}`);
      }
    }
    const params = this.parameterCount();
    if (params > MAX_PARAMETERS) {
      throw new Error(`${src}: fields 'd_model', '*_layers' and '*_ffn_dim' describe a model of ${(params / 1e9).toFixed(1)} ` +
        `billion parameters, more than the ${MAX_PARAMETERS / 1e9} billion this implementation can hold`);
    }
    for (const k of ['decoderStartTokenId', 'eosTokenId', 'padTokenId'] as const) {
      const v = this[k];
      if (!Number.isInteger(v) || v < 0 || v >= this.vocabSize) {
        throw new Error(`${src}: field '${toSnake(k)}' must be a token id below vocab_size ${this.vocabSize}, got ${JSON.stringify(v)}`);
      }
    }
    for (const [k, h] of [['encoderAttentionHeads', this.encoderAttentionHeads], ['decoderAttentionHeads', this.decoderAttentionHeads]] as const) {
      if (this.dModel % h !== 0) {
        throw new Error(`${src}: field 'd_model' (${this.dModel}) must be divisible by '${toSnake(k)}' (${h})`);
      }
    }
    for (const k of ['suppressTokens', 'beginSuppressTokens'] as const) {
      const v = this[k];
      if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0 && x < this.vocabSize)) {
        throw new Error(`${src}: field '${toSnake(k)}' must be a list of token ids below ${this.vocabSize}`);
      }
    }
    if (this.activationFunction !== 'gelu') {
      throw new Error(`${src}: field 'activation_function' is '${this.activationFunction}'; only 'gelu' (Whisper) is supported`);
    }
    if (this.maxSourcePositions * 2 <= 0) throw new Error(`${src}: field 'max_source_positions' is invalid`);
  }

  /** Weights the config describes (embeddings, conv stem, attention and MLP blocks), before loading any. */
  parameterCount(): number {
    const d = this.dModel;
    const enc = this.encoderLayers * (4 * d * d + 2 * d * this.encoderFfnDim);
    const dec = this.decoderLayers * (8 * d * d + 2 * d * this.decoderFfnDim);
    return enc + dec + (this.vocabSize + this.maxTargetPositions + this.maxSourcePositions) * d + 3 * d * (this.numMelBins + d);
  }

  /** Input frames the encoder expects (two conv strides: 1 and 2). */
  get nFrames(): number {
    return this.maxSourcePositions * 2;
  }
}

/**
 * Upper bounds of the size fields: far above any Whisper (large-v3: d_model 1280, 32 layers, 20
 * heads, ffn 5120, 128 mel bins, vocab 51866, 1500/448 positions), low enough that a hostile
 * config.json fails here instead of after minutes and gigabytes of building layers.
 */
const BOUNDS: Record<string, number> = {
  dModel: 8192, encoderLayers: 128, decoderLayers: 128, encoderAttentionHeads: 256, decoderAttentionHeads: 256,
  encoderFfnDim: 65536, decoderFfnDim: 65536, numMelBins: 512, vocabSize: 1_000_000, maxSourcePositions: 16384,
  maxTargetPositions: 16384,
};
/** Float32 weights of 10 billion parameters are 40 GB: beyond any backend here. */
const MAX_PARAMETERS = 10e9;

function toSnake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}
