/**
 * openai's ResidualAttentionBlock, the layer of both halves of Whisper: pre-LayerNorm
 * self-attention, cross-attention to the audio (decoder blocks only) and a GELU MLP, each added
 * to the residual stream. Hugging Face names its parts self_attn, encoder_attn and fc1/fc2.
 */
import * as tf from '@tensorflow/tfjs';
import { KeyValue, WhisperAttention } from './attention';
import { gelu, LayerNorm, Linear, WeightSlot } from './layers';

export interface SelfAttentionOptions {
  mask?: tf.Tensor2D;
  training?: boolean;
  /** The keys/values to attend to, made from the normalized input (a decoder step adds its cache). */
  kv?: (normalized: tf.Tensor3D) => KeyValue;
}

export interface CrossAttentionOptions {
  training?: boolean;
  /** Receives the scores before the softmax [B, H, T, S] (word timestamps). */
  onScores?: (scores: tf.Tensor4D) => void;
  /** The encoder output the keys/values were made from (what onScores needs). */
  keyStates?: tf.Tensor3D;
}

export class ResidualAttentionBlock {
  constructor(
    public selfAttn: WhisperAttention,
    public selfAttnLayerNorm: LayerNorm,
    public fc1: Linear,
    public fc2: Linear,
    public finalLayerNorm: LayerNorm,
    /** Decoder blocks: attention to the encoder's output. */
    public encoderAttn?: WhisperAttention,
    public encoderAttnLayerNorm?: LayerNorm,
  ) {}

  /** x + self_attn(ln(x)) */
  attend(x: tf.Tensor3D, opts: SelfAttentionOptions = {}): tf.Tensor3D {
    const normalized = this.selfAttnLayerNorm.apply(x) as tf.Tensor3D;
    return this.selfAttn.apply(normalized, { mask: opts.mask, training: opts.training, kv: opts.kv?.(normalized), residual: x });
  }

  /** x + encoder_attn(ln(x)) over the audio's keys/values. */
  attendToAudio(x: tf.Tensor3D, kv: KeyValue, opts: CrossAttentionOptions = {}): tf.Tensor3D {
    if (!this.encoderAttn || !this.encoderAttnLayerNorm) throw new Error('ResidualAttentionBlock: an encoder block has no cross-attention');
    return this.encoderAttn.apply(this.encoderAttnLayerNorm.apply(x) as tf.Tensor3D, { ...opts, kv, residual: x });
  }

  /** x + fc2(gelu(fc1(ln(x)))) */
  mlp(x: tf.Tensor3D, training = false): tf.Tensor3D {
    return this.fc2.apply(gelu(this.fc1.apply(this.finalLayerNorm.apply(x), training)), training, { residual: x }) as tf.Tensor3D;
  }

  linears(): Linear[] {
    return [...this.selfAttn.linears(), ...(this.encoderAttn?.linears() ?? []), this.fc1, this.fc2];
  }

  /** Every weight in checkpoint order. */
  slots(): WeightSlot[] {
    return [
      ...this.selfAttn.slots(), ...this.selfAttnLayerNorm.slots(),
      ...(this.encoderAttn?.slots() ?? []), ...(this.encoderAttnLayerNorm?.slots() ?? []),
      ...this.fc1.slots(), ...this.fc2.slots(), ...this.finalLayerNorm.slots(),
    ];
  }

  dispose(): void {
    this.selfAttn.dispose();
    this.selfAttnLayerNorm.dispose();
    this.encoderAttn?.dispose();
    this.encoderAttnLayerNorm?.dispose();
    this.fc1.dispose();
    this.fc2.dispose();
    this.finalLayerNorm.dispose();
  }
}
