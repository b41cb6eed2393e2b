/**
 * AdamW with PyTorch's semantics (torch.optim.AdamW): decoupled weight decay p -= lr * wd * p,
 * then Adam with bias correction: p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 * State (m, v, t) is exposed for checkpoints so a resumed run continues bit for bit.
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Optimizer steps taken (t in the bias correction). */
  step = 0;
  readonly m = new Map<string, tf.Tensor>();
  readonly v = new Map<string, tf.Tensor>();

  constructor(readonly params: Map<string, tf.Variable>, opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    for (const [k, p] of params) {
      this.m.set(k, tf.zerosLike(p));
      this.v.set(k, tf.zerosLike(p));
    }
  }

  /** One update with gradients keyed like `params`. Does not dispose the gradients. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.step++;
    const t = this.step;
    const bc1 = 1 - this.beta1 ** t;
    const bc2 = 1 - this.beta2 ** t;
    for (const [k, p] of this.params) {
      const g = grads.get(k);
      if (!g) continue;
      const [m, v, next] = tf.tidy(() => {
        const m = tf.add(tf.mul(this.m.get(k)!, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v.get(k)!, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        const decayed = this.weightDecay ? tf.mul(p, 1 - lr * this.weightDecay) : p;
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), this.eps);
        return [m, v, tf.sub(decayed, tf.mul(tf.div(m, denom), lr / bc1))];
      });
      this.m.get(k)!.dispose();
      this.v.get(k)!.dispose();
      this.m.set(k, m);
      this.v.set(k, v);
      p.assign(next);
      next.dispose();
    }
  }

  /** The exp_avg and exp_avg_sq tensors. */
  stateTensors(): tf.Tensor[] {
    return [...this.m.values(), ...this.v.values()];
  }

  /** exp_avg / exp_avg_sq per parameter, as float32 arrays (for checkpoints). */
  stateDict(): { step: number; tensors: Record<string, { shape: number[]; data: Float32Array }> } {
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const k of this.params.keys()) {
      tensors[`${k}.exp_avg`] = { shape: this.m.get(k)!.shape, data: this.m.get(k)!.dataSync() as Float32Array };
      tensors[`${k}.exp_avg_sq`] = { shape: this.v.get(k)!.shape, data: this.v.get(k)!.dataSync() as Float32Array };
    }
    return { step: this.step, tensors };
  }

  /** The name and shape of every tensor stateDict() writes (what a checkpoint's optimizer file must hold). */
  stateShapes(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [k, p] of this.params) for (const suffix of ['exp_avg', 'exp_avg_sq']) out.set(`${k}.${suffix}`, p.shape);
    return out;
  }

  loadStateDict(step: number, tensors: Map<string, { shape: number[]; data: Float32Array }>, src = 'optimizer'): void {
    for (const k of this.params.keys()) {
      for (const [suffix, map] of [['exp_avg', this.m], ['exp_avg_sq', this.v]] as const) {
        const t = tensors.get(`${k}.${suffix}`);
        if (!t) throw new Error(`${src}: optimizer state '${k}.${suffix}' is missing`);
        map.get(k)!.dispose();
        map.set(k, tf.tensor(t.data, t.shape));
      }
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** Global L2 norm of all gradients and the PyTorch clip_grad_norm_ factor min(1, max / (norm + 1e-6)). */
export async function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): Promise<{ norm: number; grads: Map<string, tf.Tensor> }> {
  const squares = tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))));
  const norm = Math.sqrt((await squares.data())[0]);
  squares.dispose();
  if (!(maxNorm > 0) || !Number.isFinite(norm)) return { norm, grads };
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return { norm, grads };
  const out = new Map<string, tf.Tensor>();
  for (const [k, g] of grads) {
    out.set(k, tf.mul(g, coef));
    g.dispose();
  }
  return { norm, grads: out };
}
