/**
 * Whisper's audio encoder: two GELU convolutions (the second halves the frame rate: 3000 mel
 * frames -> 1500 positions), sinusoidal position embeddings, residual attention blocks
 * (./block.ts), final LayerNorm.
 */
import * as tf from '@tensorflow/tfjs';
import { ResidualAttentionBlock } from './block';
import { Conv1d, gelu, LayerNorm, Linear, WeightSlot } from './layers';

export class WhisperEncoder {
  constructor(
    public conv1: Conv1d,
    public conv2: Conv1d,
    /** [maxSourcePositions, d] */
    public embedPositions: tf.Tensor2D,
    public layers: ResidualAttentionBlock[],
    public layerNorm: LayerNorm,
  ) {}

  /**
   * inputFeatures [B, nMels, nFrames] -> hidden states [B, nFrames/2, d]. nFrames is 3000 (30 s)
   * for reference-identical output; fewer (even) frames run a shorter audio context, the
   * opt-in fast mode (see TranscribeOptions.trimPadding): positions 0..nFrames/2-1 are used.
   */
  apply(inputFeatures: tf.Tensor3D, training = false): tf.Tensor3D {
    return tf.tidy(() => {
      const nPos = this.embedPositions.shape[0];
      const nFrames = inputFeatures.shape[2];
      if (nFrames > nPos * 2 || nFrames % 2 !== 0 || nFrames < 2) {
        throw new Error(`WhisperEncoder: input features have ${nFrames} frames; ` +
          `this model expects ${nPos * 2} (pad or trim the audio to 30 s), or an even number below that`);
      }
      const positions = nFrames === nPos * 2 ? this.embedPositions : this.embedPositions.slice(0, nFrames / 2);
      const x = tf.transpose(inputFeatures, [0, 2, 1]) as tf.Tensor3D; // channels last for conv1d
      const c1 = gelu(this.conv1.apply(x)) as tf.Tensor3D;
      let h = tf.add(gelu(this.conv2.apply(c1)), positions) as tf.Tensor3D;
      for (const block of this.layers) h = block.mlp(block.attend(h, { training }), training);
      return this.layerNorm.apply(h) as tf.Tensor3D;
    });
  }

  linears(): Linear[] {
    return this.layers.flatMap((l) => l.linears());
  }

  /** Every weight in checkpoint order. */
  slots(): WeightSlot[] {
    return [
      ...this.conv1.slots(), ...this.conv2.slots(),
      { name: 'model.encoder.embed_positions.weight', get: () => this.embedPositions, set: (t) => (this.embedPositions = t as tf.Tensor2D) },
      ...this.layers.flatMap((l) => l.slots()), ...this.layerNorm.slots(),
    ];
  }

  dispose(): void {
    this.conv1.dispose();
    this.conv2.dispose();
    this.embedPositions.dispose();
    this.layers.forEach((l) => l.dispose());
    this.layerNorm.dispose();
  }
}
