/**
 * Whisper's audio encoder: two GELU convolutions (the second halves the frame rate: 3000 mel
 * frames -> 1500 positions), learned-sinusoidal position embeddings, pre-LayerNorm transformer
 * layers, final LayerNorm.
 */
import * as tf from '@tensorflow/tfjs';
import { WhisperAttention } from './attention';
import { Conv1d, gelu, LayerNorm, Linear } from './layers';

export class WhisperEncoderLayer {
  constructor(
    public selfAttn: WhisperAttention,
    public selfAttnLayerNorm: LayerNorm,
    public fc1: Linear,
    public fc2: Linear,
    public finalLayerNorm: LayerNorm,
  ) {}

  apply(h: tf.Tensor3D, training = false): tf.Tensor3D {
    return tf.tidy(() => {
      const a = this.selfAttn.apply(this.selfAttnLayerNorm.apply(h) as tf.Tensor3D, { training });
      const h1 = tf.add(h, a) as tf.Tensor3D;
      const f = this.fc2.apply(gelu(this.fc1.apply(this.finalLayerNorm.apply(h1), training)), training);
      return tf.add(h1, f) as tf.Tensor3D;
    });
  }

  linears(): Linear[] {
    return [...this.selfAttn.linears(), this.fc1, this.fc2];
  }
}

export class WhisperEncoder {
  constructor(
    public conv1: Conv1d,
    public conv2: Conv1d,
    /** [maxSourcePositions, d] */
    public embedPositions: tf.Tensor2D,
    public layers: WhisperEncoderLayer[],
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
      for (const layer of this.layers) h = layer.apply(h, training);
      return this.layerNorm.apply(h) as tf.Tensor3D;
    });
  }

  linears(): Linear[] {
    return this.layers.flatMap((l) => l.linears());
  }

  dispose(): void {
    this.conv1.dispose();
    this.conv2.dispose();
    this.embedPositions.dispose();
    for (const l of this.layers) {
      l.linears().forEach((x) => x.dispose());
      l.selfAttnLayerNorm.dispose();
      l.finalLayerNorm.dispose();
    }
    this.layerNorm.dispose();
  }
}
