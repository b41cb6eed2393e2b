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
import { WhisperDecoder, WhisperDecoderLayer } from './decoder';
import { WhisperEncoder, WhisperEncoderLayer } from './encoder';
import { generate, GenerateOptions, GenerateOutput } from './generate';
import { resolveModel, ResolveOptions } from './hub';
import { Conv1d, LayerNorm, Linear } from './layers';
import { LoadedTensor, loadSafetensorsCheckpoint, saveSafetensors } from './safetensors';
import { readSpecialTokens, SpecialTokens, specialTokensFromConfig } from '../tokenizer/special';
import { CONFIG_NAME, GENERATION_CONFIG_NAME, PROCESSOR_FILES, WEIGHTS_NAME } from './files';

const PROJ_OUT = 'proj_out.weight';

/** Every tensor name of a Whisper checkpoint and the shape the config implies. */
export function expectedWeightShapes(c: WhisperConfig): Map<string, number[]> {
  const d = c.dModel;
  const m = new Map<string, number[]>();
  const attn = (p: string) => {
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      m.set(`${p}.${n}.weight`, [d, d]);
      if (n !== 'k_proj') m.set(`${p}.${n}.bias`, [d]);
    }
  };
  const ln = (p: string) => {
    m.set(`${p}.weight`, [d]);
    m.set(`${p}.bias`, [d]);
  };
  const ffn = (p: string, f: number) => {
    m.set(`${p}.fc1.weight`, [f, d]);
    m.set(`${p}.fc1.bias`, [f]);
    m.set(`${p}.fc2.weight`, [d, f]);
    m.set(`${p}.fc2.bias`, [d]);
  };
  m.set('model.encoder.conv1.weight', [d, c.numMelBins, 3]);
  m.set('model.encoder.conv1.bias', [d]);
  m.set('model.encoder.conv2.weight', [d, d, 3]);
  m.set('model.encoder.conv2.bias', [d]);
  m.set('model.encoder.embed_positions.weight', [c.maxSourcePositions, d]);
  for (let i = 0; i < c.encoderLayers; i++) {
    const p = `model.encoder.layers.${i}`;
    attn(`${p}.self_attn`);
    ln(`${p}.self_attn_layer_norm`);
    ffn(p, c.encoderFfnDim);
    ln(`${p}.final_layer_norm`);
  }
  ln('model.encoder.layer_norm');
  m.set('model.decoder.embed_tokens.weight', [c.vocabSize, d]);
  m.set('model.decoder.embed_positions.weight', [c.maxTargetPositions, d]);
  for (let i = 0; i < c.decoderLayers; i++) {
    const p = `model.decoder.layers.${i}`;
    attn(`${p}.self_attn`);
    ln(`${p}.self_attn_layer_norm`);
    attn(`${p}.encoder_attn`);
    ln(`${p}.encoder_attn_layer_norm`);
    ffn(p, c.decoderFfnDim);
    ln(`${p}.final_layer_norm`);
  }
  ln('model.decoder.layer_norm');
  m.set(PROJ_OUT, [c.vocabSize, d]);
  return m;
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

/** One weight of the model by its Hugging Face name, read and replaced in place. */
export interface WeightSlot {
  /** e.g. 'model.encoder.conv1.weight' */
  name: string;
  /** The tensor the model computes with. */
  get(): tf.Tensor;
  set(t: tf.Tensor): void;
  /** Transpose from the model's layout to HF's and back (conv filters: [k, in, out] vs [out, in, k]). */
  perm?: number[];
  /** The int8/float16 bytes of a quantized Linear (its float `get()` is then disposed). */
  quantized?(): QuantizedWeight | undefined;
}

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
    const weightsDtype = opts.weightsDtype ?? (opts.loadIn8bit ? 'int8' : 'float32');
    const model = WhisperForConditionalGeneration.fromWeights(config, weights, { weightsDtype, consume: true });
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
    const t1 = (n: string) => tensor(n) as tf.Tensor1D;
    const t2 = (n: string) => tensor(n) as tf.Tensor2D;
    const t3 = (n: string) => tensor(n) as tf.Tensor3D;
    // Layer weights in the dtype asked for; kept as bytes, they never become a float32 tensor.
    const layerWeight = (n: string) => {
      if (dtype === 'float32') return t2(n);
      const w = get(n);
      return quantize(dtype, w.data, w.shape as [number, number]);
    };
    const linear = (p: string, bias = true) => new Linear(p, layerWeight(`${p}.weight`), bias ? t1(`${p}.bias`) : undefined);
    const ln = (p: string) => new LayerNorm(p, t1(`${p}.weight`), t1(`${p}.bias`));
    const attn = (p: string, heads: number) => new WhisperAttention(p, heads,
      linear(`${p}.q_proj`), linear(`${p}.k_proj`, false), linear(`${p}.v_proj`), linear(`${p}.out_proj`));

    const encLayers: WhisperEncoderLayer[] = [];
    for (let i = 0; i < config.encoderLayers; i++) {
      const p = `model.encoder.layers.${i}`;
      encLayers.push(new WhisperEncoderLayer(attn(`${p}.self_attn`, config.encoderAttentionHeads),
        ln(`${p}.self_attn_layer_norm`), linear(`${p}.fc1`), linear(`${p}.fc2`), ln(`${p}.final_layer_norm`)));
    }
    const encoder = new WhisperEncoder(
      new Conv1d('model.encoder.conv1', t3('model.encoder.conv1.weight'), t1('model.encoder.conv1.bias'), 1, 1),
      new Conv1d('model.encoder.conv2', t3('model.encoder.conv2.weight'), t1('model.encoder.conv2.bias'), 2, 1),
      t2('model.encoder.embed_positions.weight'), encLayers, ln('model.encoder.layer_norm'));

    const decLayers: WhisperDecoderLayer[] = [];
    for (let i = 0; i < config.decoderLayers; i++) {
      const p = `model.decoder.layers.${i}`;
      decLayers.push(new WhisperDecoderLayer(attn(`${p}.self_attn`, config.decoderAttentionHeads),
        ln(`${p}.self_attn_layer_norm`), attn(`${p}.encoder_attn`, config.decoderAttentionHeads),
        ln(`${p}.encoder_attn_layer_norm`), linear(`${p}.fc1`), linear(`${p}.fc2`), ln(`${p}.final_layer_norm`)));
    }
    const embedTokens = t2('model.decoder.embed_tokens.weight');
    const decoder = new WhisperDecoder(embedTokens, t2('model.decoder.embed_positions.weight'), decLayers,
      ln('model.decoder.layer_norm'));
    // Tied output projection: proj_out = embed_tokens when the checkpoint does not store it.
    const projOut = new Linear('proj_out', weights.has(PROJ_OUT) ? t2(PROJ_OUT) : embedTokens);
    return new WhisperForConditionalGeneration(config, encoder, decoder, projOut);
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

  /** quantize('int8') (see FromPretrainedOptions.loadIn8bit). */
  /** True when the output projection is the token embedding (not stored in checkpoints). */
  get tiedProjection(): boolean {
    return this.projOut.weight === this.decoder.embedTokens;
  }

  /** Every weight, in checkpoint order, by its Hugging Face name (a tied proj_out is not listed). */
  weightSlots(): WeightSlot[] {
    const slots: WeightSlot[] = [];
    const linear = (l: Linear) => {
      slots.push({ name: `${l.name}.weight`, get: () => l.weight, set: (t) => (l.weight = t as tf.Tensor2D), quantized: () => l.quantized });
      if (l.bias) slots.push({ name: `${l.name}.bias`, get: () => l.bias!, set: (t) => (l.bias = t as tf.Tensor1D) });
    };
    const norm = (n: LayerNorm) => {
      slots.push({ name: `${n.name}.weight`, get: () => n.weight, set: (t) => (n.weight = t as tf.Tensor1D) });
      slots.push({ name: `${n.name}.bias`, get: () => n.bias, set: (t) => (n.bias = t as tf.Tensor1D) });
    };
    const conv = (c: Conv1d) => {
      slots.push({ name: `${c.name}.weight`, get: () => c.filter, set: (t) => (c.filter = t as tf.Tensor3D), perm: [2, 1, 0] });
      slots.push({ name: `${c.name}.bias`, get: () => c.bias, set: (t) => (c.bias = t as tf.Tensor1D) });
    };
    const { encoder: e, decoder: d } = this;
    conv(e.conv1);
    conv(e.conv2);
    slots.push({ name: 'model.encoder.embed_positions.weight', get: () => e.embedPositions, set: (t) => (e.embedPositions = t as tf.Tensor2D) });
    for (const l of e.layers) {
      l.selfAttn.linears().forEach(linear);
      norm(l.selfAttnLayerNorm);
      linear(l.fc1);
      linear(l.fc2);
      norm(l.finalLayerNorm);
    }
    norm(e.layerNorm);
    const tied = this.tiedProjection;
    slots.push({ name: 'model.decoder.embed_tokens.weight', get: () => d.embedTokens, set: (t) => {
      d.embedTokens = t as tf.Tensor2D;
      if (tied) this.projOut.weight = t as tf.Tensor2D;
    } });
    slots.push({ name: 'model.decoder.embed_positions.weight', get: () => d.embedPositions, set: (t) => (d.embedPositions = t as tf.Tensor2D) });
    for (const l of d.layers) {
      l.selfAttn.linears().forEach(linear);
      norm(l.selfAttnLayerNorm);
      l.encoderAttn.linears().forEach(linear);
      norm(l.encoderAttnLayerNorm);
      linear(l.fc1);
      linear(l.fc2);
      norm(l.finalLayerNorm);
    }
    norm(d.layerNorm);
    if (!tied) linear(this.projOut);
    return slots;
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
    if (this.linears().some((l) => l.quantized)) throw new Error('full fine-tuning needs float weights: load the model without loadIn8bit');
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
      if (slot.quantized?.()) throw new Error(`stateDict: '${slot.name}' is stored as ${slot.quantized()!.dtype} bytes; load the model without loadIn8bit to save it`);
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

  /** Int8 storage for every encoder/decoder layer Linear (see FromPretrainedOptions.loadIn8bit). */
  quantizeInt8(): void {
    this.quantize('int8');
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
