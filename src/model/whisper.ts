/**
 * WhisperForConditionalGeneration: encoder + decoder + tied output projection, loaded from a
 * Hugging Face checkpoint (config.json + safetensors), as in transformers.
 *
 * Base weights are plain (non-trainable) tf.Tensors; fine-tuning attaches adapters to the
 * `Linear`s returned by `linears()`.
 */
import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { WhisperAttention } from './attention';
import { WhisperConfig } from './config';
import { WhisperDecoder, WhisperDecoderLayer } from './decoder';
import { WhisperEncoder, WhisperEncoderLayer } from './encoder';
import { generate, GenerateOptions, GenerateOutput } from './generate';
import { resolveModel, ResolveOptions } from './hub';
import { Conv1d, LayerNorm, Linear } from './layers';
import { LoadedTensor, loadSafetensorsCheckpoint } from './safetensors';
import { readSpecialTokens, SpecialTokens, specialTokensFromConfig } from '../tokenizer/special';

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
   */
  loadIn8bit?: boolean;
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

export class WhisperForConditionalGeneration {
  /** Where the checkpoint was loaded from. */
  dir = '';
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
    const config = WhisperConfig.fromFile(path.join(dir, 'config.json'));
    const expected = expectedWeightShapes(config);
    // Everything is validated here, before one tensor exists.
    const weights = loadSafetensorsCheckpoint(dir, expected, new Set([PROJ_OUT]));
    const model = WhisperForConditionalGeneration.fromWeights(config, weights);
    model.dir = dir;
    model.specialTokens = readSpecialTokens(dir, config);
    if (opts.loadIn8bit) model.quantizeInt8();
    return model;
  }

  /** Builds the model from validated float32 weights (names as in the checkpoint). */
  static fromWeights(config: WhisperConfig, weights: Map<string, LoadedTensor>): WhisperForConditionalGeneration {
    const get = (name: string): LoadedTensor => {
      const w = weights.get(name);
      if (!w) throw new Error(`WhisperForConditionalGeneration: weight '${name}' is missing`);
      return w;
    };
    const t1 = (n: string) => tf.tensor1d(get(n).data);
    const t2 = (n: string) => tf.tensor2d(get(n).data, get(n).shape as [number, number]);
    const t3 = (n: string) => tf.tensor3d(get(n).data, get(n).shape as [number, number, number]);
    const linear = (p: string, bias = true) => new Linear(p, t2(`${p}.weight`), bias ? t1(`${p}.bias`) : undefined);
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

  /** Int8 storage for every encoder/decoder layer Linear (see FromPretrainedOptions.loadIn8bit). */
  quantizeInt8(): void {
    for (const l of [...this.encoder.linears(), ...this.decoder.linears()]) l.quantizeInt8();
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
  }
}
