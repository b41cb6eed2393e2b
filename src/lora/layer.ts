/**
 * The LoRA branch attached to one frozen Linear: y = W x + b + scaling * B A dropout(x).
 *
 * One LoraLayer per adapted Linear holds every named adapter ("default", "fr", ...) so adapters
 * can be swapped on one base model (PEFT's set_adapter). A is Kaiming-uniform (a = sqrt 5, the
 * nn.Linear / PEFT init, i.e. U(-1/sqrt(in), 1/sqrt(in))) and B is zero, so a fresh adapter leaves
 * the model unchanged and only B A is learned.
 */
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { matMulT } from '../backend';
import type { Linear, LinearAdapter } from '../model/layers';

export interface LoraWeights {
  /** [r, in] */
  loraA: tf.Variable<tf.Rank.R2>;
  /** [out, r] */
  loraB: tf.Variable<tf.Rank.R2>;
  scaling: number;
  dropout: number;
}

/** Supplies dropout seeds so a run is reproducible (the trainer reseeds it every step). */
export interface SeedSource {
  nextSeed(): number;
}

/** A [r, in] drawn from U(-1/sqrt(in), 1/sqrt(in)): kaiming_uniform_(a=sqrt(5)) as PEFT does. */
function kaimingUniformA(r: number, inFeatures: number, rng: () => number): Float32Array {
  const bound = 1 / Math.sqrt(inFeatures);
  const a = new Float32Array(r * inFeatures);
  for (let i = 0; i < a.length; i++) a[i] = (2 * rng() - 1) * bound;
  return a;
}

export class LoraLayer implements LinearAdapter {
  readonly adapters = new Map<string, LoraWeights>();
  /** Adapter applied in forward, or null when disabled (base model behaviour). */
  active: string | null = null;
  /** Adapters currently folded into the base weight (their branch is skipped in forward). */
  readonly merged = new Set<string>();

  constructor(readonly linear: Linear, private seeds: SeedSource) {}

  /** Creates adapter `name`: A Kaiming-uniform from `seed`, B zeros. */
  add(name: string, r: number, scaling: number, dropout: number, seed: string): LoraWeights {
    if (this.adapters.has(name)) throw new Error(`${this.linear.name}: adapter '${name}' already exists`);
    const inF = this.linear.inFeatures;
    const outF = this.linear.outFeatures;
    const key = `${this.linear.name}.${name}.lora_A`;
    const a0 = tf.tensor2d(kaimingUniformA(r, inF, seedrandom(`${seed}|${key}`)), [r, inF]);
    const b0 = tf.zeros([outF, r]) as tf.Tensor2D;
    const w: LoraWeights = { loraA: tf.variable(a0, true), loraB: tf.variable(b0, true), scaling, dropout };
    // tf.variable shares the data of its initial value; the initial tensor handles must still go.
    a0.dispose();
    b0.dispose();
    this.adapters.set(name, w);
    return w;
  }

  forward(x: tf.Tensor, training: boolean): tf.Tensor {
    const w = this.active === null || this.merged.has(this.active) ? undefined : this.adapters.get(this.active);
    if (!w) return tf.scalar(0); // broadcasts: disabled or merged adapters add nothing
    return tf.tidy(() => {
      let x2 = (x.rank === 2 ? x : x.reshape([-1, this.linear.inFeatures])) as tf.Tensor2D;
      if (training && w.dropout > 0) x2 = tf.dropout(x2, w.dropout, undefined, this.seeds.nextSeed()) as tf.Tensor2D;
      // (x A^T) B^T: the rank-r bottleneck first, so the cost is r (in + out) per row, not in * out,
      // and scaled there (r values per row, not out).
      const y = matMulT(tf.mul(matMulT(x2, w.loraA, false, true), w.scaling), w.loraB, false, true);
      return x.rank === 2 ? y : y.reshape([...x.shape.slice(0, -1), this.linear.outFeatures]);
    });
  }

  /** scaling * B A, the [out, in] update that merge adds to the base weight. */
  delta(name: string): tf.Tensor2D {
    const w = this.adapters.get(name);
    if (!w) throw new Error(`${this.linear.name}: no adapter '${name}'`);
    return tf.tidy(() => tf.mul(tf.matMul(w.loraB, w.loraA), w.scaling) as tf.Tensor2D);
  }

  /** Folds adapter `name` into the base weight (inference then costs nothing extra). */
  merge(name: string): void {
    if (!this.merged.has(name)) this.setMerged(name, this.mergedWeight(name));
  }

  /**
   * W + scaling * B A, not yet in place: refused for a base kept as int8 or float16 bytes (merging
   * needs float32 weights) and when a value is not finite (PEFT's safe_merge).
   */
  mergedWeight(name: string): tf.Tensor2D {
    const q = this.linear.quantized;
    if (q) {
      throw new Error(`${this.linear.name}: cannot merge adapter '${name}' into ${q.dtype === 'int8' ? 'an' : 'a'} ${q.dtype} base weight; merging needs ` +
        'float32 base weights: load the base model with weightsDtype \'float32\' (the default, without loadIn8bit), or keep the adapter unmerged');
    }
    const d = this.delta(name);
    const w = tf.add(this.linear.weight, d) as tf.Tensor2D;
    d.dispose();
    const finite = tf.tidy(() => tf.all(tf.isFinite(w)).dataSync()[0]);
    if (!finite) {
      w.dispose();
      throw new Error(`${this.linear.name}: merging adapter '${name}' gives non-finite weights (NaN or infinity); nothing was merged`);
    }
    return w;
  }

  /** Puts a weight from mergedWeight in place. */
  setMerged(name: string, w: tf.Tensor2D): void {
    this.linear.weight.dispose();
    this.linear.weight = w;
    this.merged.add(name);
  }

  /** Subtracts a merged adapter again (PEFT's unmerge; exact up to float rounding). */
  unmerge(name: string): void {
    if (!this.merged.has(name)) return;
    const d = this.delta(name);
    const old = this.linear.weight;
    this.linear.weight = tf.sub(old, d);
    old.dispose();
    d.dispose();
    this.merged.delete(name);
  }

  delete(name: string): void {
    const w = this.adapters.get(name);
    if (!w) return;
    if (this.merged.has(name)) this.unmerge(name);
    w.loraA.dispose();
    w.loraB.dispose();
    this.adapters.delete(name);
    if (this.active === name) this.active = null;
  }

  dispose(): void {
    for (const n of [...this.adapters.keys()]) this.delete(n);
  }
}
