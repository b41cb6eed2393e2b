/**
 * WhisperForConditionalGeneration: encoder + decoder + tied output projection, loaded from a
 * Hugging Face checkpoint (config.json + safetensors), as in transformers.
 *
 * Base weights are plain (non-trainable) tf.Tensors; LoRA attaches adapters to the `Linear`s
 * returned by `linears()`, and full fine-tuning turns the weights into tf.Variables
 * (`trainableParameters()`) and saves them back in HF layout (`savePretrained`).
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as path from 'path';
import { quantize, QuantizedWeight, WeightDtype } from '../backend';
import { Files } from '../io/files';
import { nodeFiles } from '../io/node';
import { atomicWriteDir } from '../atomic';
import { WhisperAttention } from './attention';
import { WhisperConfig } from './config';
import { ResidualAttentionBlock } from './block';
import { WhisperDecoder } from './decoder';
import { WhisperEncoder } from './encoder';
import { generate, GenerateOptions, GenerateOutput } from './generate';
import { resolveModel, ResolveOptions } from './hub';
import { Conv1d, LayerNorm, Linear, WeightSlot } from './layers';
import { LoadedTensor, loadSafetensorsCheckpoint, saveSafetensors } from './safetensors';
import { readSpecialTokens, SpecialTokens, specialTokensFromConfig } from '../tokenizer/special';
import { CONFIG_NAME, GENERATION_CONFIG_NAME, PROCESSOR_FILES, WEIGHTS_NAME } from './files';

const PROJ_OUT = 'proj_out.weight';

/** Reads one checkpoint tensor by name, given the shape the config implies for it. */
type TakeWeight = (name: string, shape: number[]) => tf.Tensor;
/** The same for the layers' Linear weights, which may be kept as int8/float16 bytes. */
type TakeLayerWeight = (name: string, shape: [number, number]) => tf.Tensor2D | QuantizedWeight;

/**
 * The checkpoint layout, written once: every module of Whisper with its Hugging Face name and the
 * shape `c` implies for each weight, built from what `take` returns. Loading passes the checkpoint's
 * tensors; `expectedWeightShapes` passes a recorder.
 */
function buildWhisper(c: WhisperConfig, take: TakeWeight, takeLayer: TakeLayerWeight = take as TakeLayerWeight,
  storedProjection = false): WhisperForConditionalGeneration {
  const d = c.dModel;
  const linear = (p: string, out: number, inp: number, bias = true) =>
    new Linear(p, takeLayer(`${p}.weight`, [out, inp]), bias ? take(`${p}.bias`, [out]) as tf.Tensor1D : undefined);
  const norm = (p: string) => new LayerNorm(p, take(`${p}.weight`, [d]) as tf.Tensor1D, take(`${p}.bias`, [d]) as tf.Tensor1D);
  const attention = (p: string, heads: number) => new WhisperAttention(p, heads,
    linear(`${p}.q_proj`, d, d), linear(`${p}.k_proj`, d, d, false), linear(`${p}.v_proj`, d, d), linear(`${p}.out_proj`, d, d));
  const block = (p: string, heads: number, ffn: number, cross: boolean) => new ResidualAttentionBlock(
    attention(`${p}.self_attn`, heads), norm(`${p}.self_attn_layer_norm`), linear(`${p}.fc1`, ffn, d), linear(`${p}.fc2`, d, ffn),
    norm(`${p}.final_layer_norm`),
    cross ? attention(`${p}.encoder_attn`, heads) : undefined, cross ? norm(`${p}.encoder_attn_layer_norm`) : undefined);
  const conv = (p: string, inp: number, stride: number) =>
    new Conv1d(p, take(`${p}.weight`, [d, inp, 3]) as tf.Tensor3D, take(`${p}.bias`, [d]) as tf.Tensor1D, stride, 1);

  const encoder = new WhisperEncoder(conv('model.encoder.conv1', c.numMelBins, 1), conv('model.encoder.conv2', d, 2),
    take('model.encoder.embed_positions.weight', [c.maxSourcePositions, d]) as tf.Tensor2D,
    Array.from({ length: c.encoderLayers }, (_, i) => block(`model.encoder.layers.${i}`, c.encoderAttentionHeads, c.encoderFfnDim, false)),
    norm('model.encoder.layer_norm'));
  const embedTokens = take('model.decoder.embed_tokens.weight', [c.vocabSize, d]) as tf.Tensor2D;
  const decoder = new WhisperDecoder(embedTokens, take('model.decoder.embed_positions.weight', [c.maxTargetPositions, d]) as tf.Tensor2D,
    Array.from({ length: c.decoderLayers }, (_, i) => block(`model.decoder.layers.${i}`, c.decoderAttentionHeads, c.decoderFfnDim, true)),
    norm('model.decoder.layer_norm'));
  // Tied output projection: proj_out = embed_tokens when the checkpoint does not store it.
  const projOut = new Linear('proj_out', storedProjection ? take(PROJ_OUT, [c.vocabSize, d]) as tf.Tensor2D : embedTokens);
  return new WhisperForConditionalGeneration(c, encoder, decoder, projOut);
}

/** Every tensor name of a Whisper checkpoint and the shape the config implies (proj_out included, which a tied checkpoint omits). */
export function expectedWeightShapes(c: WhisperConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  // The layout is read off buildWhisper with a stand-in of each weight's rank (a 1 x 1 x ... tensor).
  tf.tidy(() => buildWhisper(c, (name, shape) => (shapes.set(name, shape), tf.zeros(shape.map(() => 1))), undefined, true).dispose());
  return shapes;
}

export interface FromPretrainedOptions extends ResolveOptions {
  /**
   * Store the frozen linear weights of the encoder and decoder layers as int8 (per-row scales),
   * like transformers' `load_in_8bit=True` for a PEFT base: about 4x less memory for them, some
   * speed and a little accuracy lost (BENCHMARKS.md). The vocabulary projection stays float.
   * The same as weightsDtype: 'int8'.
   */
  loadIn8bit?: boolean;
  /**
   * How the linear weights of the encoder and decoder layers are kept in memory: 'float32'
   * (default), 'float16' (half the bytes; exact for the float16 checkpoints of the Hub) or 'int8'.
   * The arithmetic is float32 either way: each layer's weights are expanded while it runs, so
   * whisper-medium and large-v3 fit the wasm backend's 4 GB (BENCHMARKS.md).
   */
  weightsDtype?: WeightDtype;
}

/** How the layer weights are kept: `weightsDtype`, or int8 for `loadIn8bit` (transformers' name for it). */
export function weightsDtypeOf(opts: Pick<FromPretrainedOptions, 'loadIn8bit' | 'weightsDtype'>): WeightDtype {
  if (opts.loadIn8bit && opts.weightsDtype && opts.weightsDtype !== 'int8') {
    throw new Error(`loadIn8bit asks for int8 weights but weightsDtype says '${opts.weightsDtype}': give one of them`);
  }
  return opts.weightsDtype ?? (opts.loadIn8bit ? 'int8' : 'float32');
}

export interface ForwardOptions {
  /** Encoder output to reuse (then inputFeatures may be null). */
  encoderHiddenStates?: tf.Tensor3D;
  training?: boolean;
  /**
   * Flat positions b * T + t whose logits are wanted (the labelled ones, for a loss); the result
   * is then [1, positions.length, vocab]. The vocabulary projection is the biggest product of a
   * training step and padding rows need none of it.
   */
  positions?: number[];
}

/** hidden [B, T, d] -> [1, N, d], the rows at flat `positions`: a product with a 0/1 matrix (gather has no gradient on wasm). */
function selectPositions(hidden: tf.Tensor3D, positions: number[]): tf.Tensor3D {
  const [b, t, d] = hidden.shape;
  const pick = new Float32Array(positions.length * b * t);
  positions.forEach((p, i) => (pick[i * b * t + p] = 1));
  const rows = tf.matMul(tf.tensor2d(pick, [positions.length, b * t]), tf.reshape(hidden, [b * t, d]));
  return tf.reshape(rows, [1, positions.length, d]);
}

export type { WeightSlot };

export class WhisperForConditionalGeneration {
  /** Where the checkpoint was loaded from. */
  dir = '';
  /** Set by freezeEncoder(): full fine-tuning leaves the encoder's weights alone. */
  encoderFrozen = false;
  private special?: SpecialTokens;

  constructor(
    public config: WhisperConfig,
    public encoder: WhisperEncoder,
    public decoder: WhisperDecoder,
    /** Output projection [vocab, d]; shares the embedding tensor when tied. */
    public projOut: Linear,
  ) {}

  static async fromPretrained(idOrDir: string, opts: FromPretrainedOptions = {}): Promise<WhisperForConditionalGeneration> {
    const dir = await resolveModel(idOrDir, opts);
    const model = WhisperForConditionalGeneration.fromFiles(nodeFiles(dir), opts);
    model.dir = dir;
    return model;
  }

  /** The model of a checkpoint's files: a folder's (fromPretrained) or a web server's (io/files.ts httpFiles). */
  static fromFiles(files: Files, opts: Pick<FromPretrainedOptions, 'loadIn8bit' | 'weightsDtype'> = {}): WhisperForConditionalGeneration {
    const config = WhisperConfig.fromFiles(files);
    const expected = expectedWeightShapes(config);
    // Everything is validated here, before one tensor exists.
    const weights = loadSafetensorsCheckpoint(files, expected, new Set([PROJ_OUT]));
    const model = WhisperForConditionalGeneration.fromWeights(config, weights, { weightsDtype: weightsDtypeOf(opts), consume: true });
    model.specialTokens = readSpecialTokens(files, config);
    return model;
  }

  /**
   * Builds the model from validated float32 weights (names as in the checkpoint). With `consume`,
   * each weight leaves `weights` once used, so that float32 copies are freed as the model is built.
   */
  static fromWeights(config: WhisperConfig, weights: Map<string, LoadedTensor>,
    opts: { weightsDtype?: WeightDtype; consume?: boolean } = {}): WhisperForConditionalGeneration {
    const get = (name: string): LoadedTensor => {
      const w = weights.get(name);
      if (!w) throw new Error(`WhisperForConditionalGeneration: weight '${name}' is missing`);
      if (opts.consume) weights.delete(name);
      return w;
    };
    const dtype = opts.weightsDtype ?? 'float32';
    const tensor = (n: string) => (({ data, shape }) => tf.tensor(data, shape))(get(n));
    // Layer weights in the dtype asked for; kept as bytes, they never become a float32 tensor.
    const layerWeight = (n: string) => {
      if (dtype === 'float32') return tensor(n) as tf.Tensor2D;
      const w = get(n);
      return quantize(dtype, w.data, w.shape as [number, number]);
    };
    return buildWhisper(config, tensor, layerWeight, weights.has(PROJ_OUT));
  }

  /**
   * The prompt's special token ids, looked up by text in the checkpoint's tokenizer.json (a model
   * built from weights alone: from generation_config's ids, see tokenizer/special.ts).
   */
  get specialTokens(): SpecialTokens {
    return this.special ??= specialTokensFromConfig(this.config);
  }

  set specialTokens(sp: SpecialTokens) {
    this.special = sp;
  }

  /** Every Linear of the model with its HF module path (targets for LoRA). */
  linears(): Linear[] {
    return [...this.encoder.linears(), ...this.decoder.linears(), this.projOut];
  }

  /** Int8 or float16 storage for every encoder/decoder layer Linear (see FromPretrainedOptions.weightsDtype). */
  quantize(dtype: QuantizedWeight['dtype']): void {
    for (const l of [...this.encoder.linears(), ...this.decoder.linears()]) l.quantize(dtype);
  }

  /** True when the output projection is the token embedding (not stored in checkpoints). */
  get tiedProjection(): boolean {
    return this.projOut.weight === this.decoder.embedTokens;
  }

  /** Every weight, in checkpoint order, by its Hugging Face name (a tied proj_out is not listed). */
  weightSlots(): WeightSlot[] {
    const tied = this.tiedProjection;
    const decoder = this.decoder.slots().map((slot) => slot.name !== 'model.decoder.embed_tokens.weight' || !tied ? slot : {
      ...slot, set: (t: tf.Tensor) => {
        slot.set(t);
        this.projOut.weight = t as tf.Tensor2D;
      },
    });
    return [...this.encoder.slots(), ...decoder, ...(tied ? [] : this.projOut.slots())];
  }

  /** HF's freeze_encoder(): full fine-tuning then trains the decoder only (set before training starts). */
  freezeEncoder(): void {
    if (this.trainedWeights.size) throw new Error('freezeEncoder: call it before the model is trained (its weights are already tf.Variables)');
    this.encoderFrozen = true;
  }

  private trainedWeights = new Map<string, tf.Variable>();

  /**
   * The weights full fine-tuning updates, by HF name, as tf.Variables (made in place of the plain
   * tensors on the first call): everything but the encoder's sinusoidal positions (frozen in HF
   * too) and, after freezeEncoder(), the encoder.
   */
  trainableParameters(): Map<string, tf.Variable> {
    if (this.trainedWeights.size) return this.trainedWeights;
    if (this.linears().some((l) => l.quantized)) throw new Error('full fine-tuning needs float weights: load the model with float32 weights (no loadIn8bit or weightsDtype)');
    for (const slot of this.weightSlots()) {
      if (slot.name === 'model.encoder.embed_positions.weight' || (this.encoderFrozen && slot.name.startsWith('model.encoder.'))) continue;
      const t = slot.get();
      const v = tf.variable(t, true, `${slot.name}#${nextVariableId++}`);
      slot.set(v);
      t.dispose();
      this.trainedWeights.set(slot.name, v);
    }
    return this.trainedWeights;
  }

  /** Every weight as float32 in Hugging Face names and layouts (what model.safetensors holds). */
  stateDict(): Record<string, LoadedTensor> {
    const out: Record<string, LoadedTensor> = {};
    for (const slot of this.weightSlots()) {
      if (slot.quantized?.()) throw new Error(`stateDict: '${slot.name}' is stored as ${slot.quantized()!.dtype} bytes; load the model with float32 weights to save it`);
      const t = slot.get();
      const hf = slot.perm ? tf.transpose(t, slot.perm) : t;
      out[slot.name] = { shape: hf.shape, data: hf.dataSync() as Float32Array };
      if (hf !== t) hf.dispose();
    }
    return out;
  }

  /**
   * Replaces every weight by the one in `dir`'s model.safetensors (checked against the config
   * first); trained tf.Variables are assigned in place.
   */
  loadWeights(dir: string): void {
    const weights = loadSafetensorsCheckpoint(dir, expectedWeightShapes(this.config), new Set([PROJ_OUT]));
    for (const slot of this.weightSlots()) {
      const w = weights.get(slot.name)!;
      const hf = tf.tensor(w.data, w.shape);
      const t = slot.perm ? tf.transpose(hf, slot.perm) : hf;
      if (t !== hf) hf.dispose();
      const old = slot.get();
      if (old instanceof tf.Variable) {
        old.assign(t);
        t.dispose();
      } else {
        slot.set(t);
        old.dispose();
      }
    }
  }

  /**
   * Writes a complete Hugging Face checkpoint into `dir` (atomically): config.json,
   * generation_config.json, model.safetensors (F32, HF names; a tied proj_out is not stored, as
   * transformers saves it) and the tokenizer and feature-extractor files of the folder the model
   * was loaded from. `from_pretrained` in Python, `loadWhisper(dir)` and the CLI read it.
   */
  savePretrained(dir: string): void {
    atomicWriteDir(dir, (tmp) => this.writePretrainedFiles(tmp));
  }

  /** The files of savePretrained, into an existing folder (checkpoints use it). */
  writePretrainedFiles(dir: string): void {
    const src = (f: string) => (this.dir && fs.existsSync(path.join(this.dir, f)) ? path.join(this.dir, f) : undefined);
    const json = (f: string, obj: unknown) => fs.writeFileSync(path.join(dir, f), JSON.stringify(obj, null, 2) + '\n');
    for (const f of [CONFIG_NAME, GENERATION_CONFIG_NAME, ...PROCESSOR_FILES]) {
      const from = src(f);
      if (from) fs.copyFileSync(from, path.join(dir, f));
    }
    if (!src(CONFIG_NAME)) json(CONFIG_NAME, configJSON(this.config));
    if (!src(GENERATION_CONFIG_NAME)) json(GENERATION_CONFIG_NAME, generationConfigJSON(this.config));
    saveSafetensors(path.join(dir, WEIGHTS_NAME), this.stateDict(), { format: 'pt' });
  }


  /** inputFeatures [B, nMels, 3000] -> encoder hidden states [B, 1500, d] (fewer frames: see WhisperEncoder.apply). */
  encode(inputFeatures: tf.Tensor3D, training = false): tf.Tensor3D {
    if (inputFeatures.rank !== 3 || inputFeatures.shape[1] !== this.config.numMelBins) {
      throw new Error(`encode: input features must be [batch, ${this.config.numMelBins}, ${this.config.nFrames}], ` +
        `got [${inputFeatures.shape}]`);
    }
    return this.encoder.apply(inputFeatures, training);
  }

  /** Hidden states [B, T, d] -> logits [B, T, vocab]. */
  logits(hidden: tf.Tensor3D, training = false): tf.Tensor3D {
    return this.projOut.apply(hidden, training) as tf.Tensor3D;
  }

  /**
   * Teacher-forced logits [B, T, vocab] for decoderInputIds [B, T]. Pass `encoderHiddenStates`
   * to reuse an encoder output (then inputFeatures may be null). Differentiable w.r.t. adapter
   * variables; no data leaves the backend.
   */
  forward(inputFeatures: tf.Tensor3D | null, decoderInputIds: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    const training = opts.training ?? false;
    return tf.tidy(() => {
      let enc = opts.encoderHiddenStates;
      if (!enc) {
        if (!inputFeatures) throw new Error('forward: give inputFeatures or opts.encoderHiddenStates');
        enc = this.encode(inputFeatures, training);
      }
      let hidden = this.decoder.apply(decoderInputIds, enc, training);
      if (opts.positions) hidden = selectPositions(hidden, opts.positions);
      return this.logits(hidden, training);
    });
  }

  /** Decodes one 30 s window per clip (greedy by default; see generate.ts and decoding.ts). */
  generate(inputFeatures: tf.Tensor3D | null, opts: GenerateOptions = {}): Promise<GenerateOutput> {
    return generate(this, inputFeatures, opts);
  }

  dispose(): void {
    this.encoder.dispose();
    this.decoder.dispose();
    this.projOut.dispose();
    this.trainedWeights.clear();
  }
}

/** tf.Variable names must be unique per process: several models may be trained side by side. */
let nextVariableId = 0;

/** config.json for a model built in memory (one loaded from a folder copies that folder's file). */
function configJSON(c: WhisperConfig): Record<string, unknown> {
  return {
    architectures: ['WhisperForConditionalGeneration'], model_type: 'whisper', d_model: c.dModel,
    encoder_layers: c.encoderLayers, decoder_layers: c.decoderLayers, encoder_attention_heads: c.encoderAttentionHeads,
    decoder_attention_heads: c.decoderAttentionHeads, encoder_ffn_dim: c.encoderFfnDim, decoder_ffn_dim: c.decoderFfnDim,
    num_mel_bins: c.numMelBins, vocab_size: c.vocabSize, max_source_positions: c.maxSourcePositions,
    max_target_positions: c.maxTargetPositions, decoder_start_token_id: c.decoderStartTokenId, eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId, bos_token_id: c.bosTokenId, scale_embedding: c.scaleEmbedding,
    activation_function: c.activationFunction, suppress_tokens: c.suppressTokens, begin_suppress_tokens: c.beginSuppressTokens,
    tie_word_embeddings: true,
  };
}

function generationConfigJSON(c: WhisperConfig): Record<string, unknown> {
  return {
    decoder_start_token_id: c.decoderStartTokenId, eos_token_id: c.eosTokenId, pad_token_id: c.padTokenId,
    suppress_tokens: c.suppressTokens, begin_suppress_tokens: c.beginSuppressTokens,
    ...(Object.keys(c.langToId).length ? { lang_to_id: c.langToId, task_to_id: c.taskToId, is_multilingual: c.isMultilingual ?? true } : {}),
    ...(c.noTimestampsTokenId !== undefined ? { no_timestamps_token_id: c.noTimestampsTokenId } : {}),
  };
}
