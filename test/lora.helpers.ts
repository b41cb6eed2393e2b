/** A tiny random Whisper (d=16, 1+1 layers, 20 frames) for fast LoRA/trainer tests. */
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { WhisperConfig } from '../src/model/config';
import { LoadedTensor } from '../src/model/safetensors';
import { expectedWeightShapes, WhisperForConditionalGeneration } from '../src/model/whisper';
import type { PreparedRow } from '../src/data';

export function tinyConfig(): WhisperConfig {
  return WhisperConfig.fromJSON({
    d_model: 16, encoder_layers: 1, decoder_layers: 1, encoder_attention_heads: 2, decoder_attention_heads: 2,
    encoder_ffn_dim: 32, decoder_ffn_dim: 32, num_mel_bins: 8, vocab_size: 40, max_source_positions: 10,
    max_target_positions: 16, decoder_start_token_id: 1, eos_token_id: 2, pad_token_id: 2, bos_token_id: 2,
  }, 'tiny-test-config');
}

export function tinyModel(seed = 'tiny'): WhisperForConditionalGeneration {
  return randomModel(tinyConfig(), seed);
}

/**
 * A Whisper of config `c` with seeded weights: uniform in [-scale, scale], LayerNorm weights 1
 * (plus uniform noise of width `normNoise`), the output projection tied.
 */
export function randomModel(c: WhisperConfig, seed: string, scale = 0.3, normNoise = 0): WhisperForConditionalGeneration {
  const rng = seedrandom(seed);
  const w = new Map<string, LoadedTensor>();
  for (const [name, shape] of expectedWeightShapes(c)) {
    if (name === 'proj_out.weight') continue; // tied
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNormWeight = /layer_norm\.weight$/.test(name);
    for (let i = 0; i < n; i++) data[i] = isNormWeight ? 1 + (normNoise ? (rng() - 0.5) * normNoise : 0) : (rng() * 2 - 1) * scale;
    w.set(name, { shape, data });
  }
  return WhisperForConditionalGeneration.fromWeights(c, w);
}

/** n examples: random features, labels [start, a, b, eos] that depend on a feature sign (learnable). */
export function tinyDataset(n: number, seed = 'data'): PreparedRow[] {
  const c = tinyConfig();
  const rng = seedrandom(seed);
  const out: PreparedRow[] = [];
  for (let i = 0; i < n; i++) {
    const f = new Float32Array(c.numMelBins * c.nFrames);
    for (let k = 0; k < f.length; k++) f[k] = rng() * 2 - 1;
    const cls = i % 3;
    for (let k = 0; k < c.nFrames; k++) f[k] = cls - 1; // first mel row carries the class
    const len = 1 + (i % 2);
    out.push({ inputFeatures: f, labels: [1, ...new Array(len).fill(10 + cls), 2], id: `ex${i}` });
  }
  return out;
}

export function numTensors(): number {
  return tf.memory().numTensors;
}
