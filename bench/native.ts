/**
 * The native oneDNN products (src/backend/native.ts) against wasm's own (XNNPACK, with the wasm
 * ops' transposed weight copies), interleaved in one process: wasm, native, wasm, native ... so
 * that a machine shared with other jobs drifts for both alike. Needs the addon
 * (bash scripts/build-native.sh). Prints one line per case: median ms of each, and the median of
 * the per-round ratios wasm/native (the number to compare).
 *
 *   npx tsx bench/native.ts [--rounds 10] [--encoder-rounds 4] [--train-rounds 0] [--clips 0] [--lora-rounds 0] [--bf16] [--profile-encoder]
 *
 * --bf16: the same cases with the addon's float32 products against its bf16 ones
 * (setMatmulPrecision), interleaved the same way, instead of wasm against native.
 *
 * Cases: whisper-tiny's products as the model calls them (Linear through `linear`: MLP in and
 * out, a projection; the vocabulary projection for 1 and 5 rows; Linears with bias, residual or
 * scaling through `affine`; GELU (with its derivative, as training takes it); one attention head's q k^T
 * and p v; the conv stem), then the encoder's forward pass on a 30 s window, and with
 * --train-rounds N the gradient of the encoder w.r.t. its input (every product's backward pass too), and with
 * --clips N whisper-tiny's exact-mode transcription of jfk and N-1 LibriSpeech test clips (audio
 * decoded beforehand, greedy, language given), clip by clip on each path, tokens checked against
 * the reference (bench/transcribe.ts's end-to-end case, both paths in one process); with
 * --lora-rounds N one LoRA training step of BENCHMARKS.md's setup A (1 LibriSpeech example, 30 s,
 * r=8 on q/v of every attention module, so the encoder runs forward and backward), loss and
 * gradients, as bench/profile-step.ts A times it. --profile-encoder skips the single-kernel cases and
 * first prints where one encoder forward's kernel time goes on each path (tf.profile: time and count
 * per kernel, the wall time beside it: the rest is tfjs dispatch and JavaScript).
 */
import { affine, describeBackend, gelu, initBackend, linear, tf } from '../src/backend';
import { DerivedTensors, FrozenWeight, prepareLinear } from '../src/backend/ops';
import { setMatmulPrecision, setNativeProducts, startNative } from '../src/backend/native';
import { loadAudio } from '../src/audio/decode';
import { getPeftModel, LoraConfig } from '../src/lora';
import { crossEntropyLoss } from '../src/train/loss';
import { loadWhisper } from '../src/model/pipeline';
import { transcribe } from '../src/model/transcribe';
import { loadReferenceTranscripts, REFERENCE_MAX_NEW_TOKENS, sharedDir } from '../tools/shared';
import { parseFlags, positiveIntFlag, intFlag } from '../apps/args';

/** One encoder forward under tf.profile on each path: kernel time and count by kernel name, largest first. */
async function profileEncoder(run: () => void): Promise<void> {
  for (const path of ['wasm', 'native'] as const) {
    setNativeProducts(path === 'native');
    run(); // warm-up: primitives, packed weights
    const t0 = performance.now();
    const info = await tf.profile(() => { run(); });
    const wall = performance.now() - t0;
    const by = new Map<string, { n: number; ms: number }>();
    for (const k of info.kernels) {
      const e = by.get(k.name) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += k.kernelTimeMs as number;
      by.set(k.name, e);
    }
    const total = info.kernels.reduce((s, k) => s + (k.kernelTimeMs as number), 0);
    console.log(`${path}: one profiled encoder forward ${wall.toFixed(1)} ms wall, ${info.kernels.length} kernels, kernel time ${total.toFixed(1)} ms`);
    for (const [k, e] of [...by].sort((a, b) => b[1].ms - a[1].ms)) {
      console.log(`  ${e.ms.toFixed(2).padStart(8)} ms ${(100 * e.ms / total).toFixed(1).padStart(5)} % ${String(e.n).padStart(4)}x ${k}`);
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The two paths compared: wasm's kernels and the addon's, or (--bf16) the addon's float32 and bf16 products. */
let paths: [string, string] = ['wasm', 'native'];
function use(path: string): void {
  setNativeProducts(path !== 'wasm');
  if (paths[0] !== 'wasm') setMatmulPrecision(path === 'bf16' ? 'bfloat16' : 'float32');
}

/**
 * Times f on both paths, alternating, after one warm-up of each; wall time, and the process's CPU
 * time beside it (steadier where other jobs share the cores: it counts the work, not the waiting
 * for a core).
 */
function interleaved(name: string, rounds: number, flops: number | undefined, f: () => void): void {
  const [p0, p1] = paths;
  const ms: Record<string, number[]> = { [p0]: [], [p1]: [] };
  const cpu: Record<string, number[]> = { [p0]: [], [p1]: [] };
  const ratios: number[] = [];
  for (let r = -1; r < rounds; r++) {
    const t: Record<string, number> = {};
    const c: Record<string, number> = {};
    for (const path of r % 2 ? [p0, p1] : [p1, p0]) {
      use(path);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      f();
      t[path] = performance.now() - t0;
      const used = process.cpuUsage(c0);
      c[path] = (used.user + used.system) / 1000;
    }
    if (r < 0) continue; // warm-up: packing, transposed copies, first allocations
    for (const path of paths) {
      ms[path].push(t[path]);
      cpu[path].push(c[path]);
    }
    ratios.push(t[p0] / t[p1]);
  }
  const gf = (m: number) => (flops ? ` (${(flops / m / 1e6).toFixed(0)} GFLOP/s)` : '');
  console.log(`${name.padEnd(34)} ${p0} ${median(ms[p0]).toFixed(2)} ms${gf(median(ms[p0]))}  ${p1} ${median(ms[p1]).toFixed(2)} ms${gf(median(ms[p1]))}` +
    `  ${p0}/${p1} ${median(ratios).toFixed(2)}x (range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` +
    `  cpu ${p0} ${median(cpu[p0]).toFixed(1)} ms ${p1} ${median(cpu[p1]).toFixed(1)} ms`);
  use(p0);
}

function random(shape: number[]): tf.Tensor {
  return tf.randomUniform(shape, -1, 1);
}

async function main() {
  const { values: flags } = parseFlags(process.argv.slice(2), { rounds: { type: 'string' }, 'encoder-rounds': { type: 'string' }, 'train-rounds': { type: 'string' }, clips: { type: 'string' }, 'lora-rounds': { type: 'string' }, bf16: { type: 'boolean' }, 'profile-encoder': { type: 'boolean' } });
  if (flags.bf16) paths = ['float32', 'bf16'];
  const profile = flags['profile-encoder'] === true;
  const loraRounds = intFlag('lora-rounds', flags['lora-rounds'], 0, 0, 100);
  const clipCount = intFlag('clips', flags.clips, 0, 0, 400);
  const rounds = positiveIntFlag('rounds', flags.rounds) ?? 10;
  const encoderRounds = positiveIntFlag('encoder-rounds', flags['encoder-rounds']) ?? 4;
  const trainRounds = intFlag('train-rounds', flags['train-rounds'], 0, 0, 100);
  process.env.WHISPER_BACKEND = 'native'; // fails with the reason without the addon; switched below
  const report = await initBackend();
  if (report.active !== 'wasm') throw new Error(`bench/native.ts: needs the wasm backend, got ${report.active}`);
  const native = startNative(report.threads ?? 1);
  console.log(`${describeBackend(report).split('\n')[0]}; ${native}; OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY}`);

  if (!profile) {
    // Linear [rows, in] x [out, in]^T as the model calls it.
    for (const [rows, out, inF] of [[1500, 1536, 384], [1500, 384, 1536], [1500, 384, 384], [1, 51865, 384], [5, 51865, 384]]) {
      const x = random([rows, inF]) as tf.Tensor2D;
      const w: FrozenWeight = { weight: random([out, inF]) as tf.Tensor2D, derived: new DerivedTensors() };
      setNativeProducts(false);
      prepareLinear(w); // wasm's transposed copy, made once as when a model loads
      interleaved(`linear ${rows}x${out}x${inF}`, rounds, 2 * rows * out * inF, () => linear(x, w).dispose());
      w.derived.dispose();
      tf.dispose([x, w.weight]);
    }
    // A Linear as the encoder calls it (ops.ts affine): fc1 with its bias, fc2 with bias and the
    // residual, q_proj with bias and the query scaling. Native: one fused matmul primitive; wasm:
    // the product, then the bias, scaling and residual as tfjs ops.
    for (const [label, out, inF, scale, residual] of [['fc1 + bias', 1536, 384, 1, false], ['fc2 + bias + residual', 384, 1536, 1, true],
      ['q_proj + bias, scaled', 384, 384, 0.125, false]] as [string, number, number, number, boolean][]) {
      const x = random([1500, inF]) as tf.Tensor2D;
      const w: FrozenWeight = { weight: random([out, inF]) as tf.Tensor2D, derived: new DerivedTensors() };
      const bias = random([out]);
      const res = residual ? random([1500, out]) as tf.Tensor2D : undefined;
      setNativeProducts(false);
      prepareLinear(w);
      interleaved(`affine ${label} 1500x${out}x${inF}`, rounds, 2 * 1500 * out * inF, () => affine(x, w, bias, { scale, residual: res }).dispose());
      w.derived.dispose();
      tf.dispose([x, w.weight, bias, ...(res ? [res] : [])]);
    }
    {
      const x = random([1, 1500, 1536]);
      interleaved('gelu [1500, 1536]', rounds, undefined, () => gelu(x).dispose());
      interleaved('gelu with derivative [1500, 1536]', rounds, undefined, () => tf.dispose(tf.grad((t: tf.Tensor) => gelu(t))(x)));
      x.dispose();
    }

    // One head's scores: q [1500, 64] times kT [64, 1500] (wasm keeps keys transposed).
    {
      const q = random([1500, 64]);
      const kT = random([64, 1500]);
      interleaved('attention q kT 1500x1500x64', rounds, 2 * 1500 * 1500 * 64, () => tf.matMul(q, kT).dispose());
      const p = random([1500, 1500]);
      const v = random([1500, 64]);
      interleaved('attention p v 1500x64x1500', rounds, 2 * 1500 * 1500 * 64, () => tf.matMul(p, v).dispose());
      tf.dispose([q, kT, p, v]);
    }

    // The encoder's conv stem: conv1d on the padded [3002, in] input, channels last.
    for (const [cin, stride] of [[80, 1], [384, 2]]) {
      const x = random([1, 3002, cin]) as tf.Tensor3D;
      const f = random([3, cin, 384]) as tf.Tensor3D;
      interleaved(`conv1d ${cin}->384 k3 stride ${stride}`, rounds, 2 * Math.floor(3000 / stride) * 384 * cin * 3, () => tf.conv1d(x, f, stride, 'valid').dispose());
      tf.dispose([x, f]);
    }
  }

  const pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
  const mel = random([1, 80, 3000]) as tf.Tensor3D;
  if (profile) await profileEncoder(() => pipe.model.encode(mel).dispose());
  interleaved('whisper-tiny encoder, 30 s window', encoderRounds, undefined, () => pipe.model.encode(mel).dispose());
  if (trainRounds > 0) {
    // The encoder's gradient w.r.t. its input: every product's backward pass (no weight updates).
    const grad = tf.grad((m: tf.Tensor) => tf.sum(pipe.model.encode(m as tf.Tensor3D)));
    interleaved('whisper-tiny encoder forward+backward', trainRounds, undefined, () => grad(mel).dispose());
  }
  mel.dispose();
  if (clipCount > 0) {
    const refs = loadReferenceTranscripts();
    const clips = [refs.find((r) => r.path === 'samples/jfk.flac')!, ...refs.filter((r) => r.path.startsWith('librispeech')).slice(0, clipCount - 1)];
    const audios = await Promise.all(clips.map((c) => loadAudio(sharedDir('datasets', c.path))));
    const [p0, p1] = paths;
    const same: Record<string, number> = { [p0]: 0, [p1]: 0 };
    const ms: Record<string, number[]> = { [p0]: [], [p1]: [] };
    await transcribe(pipe, audios[0], { language: 'en' }); // warm-up
    for (let i = 0; i < clips.length; i++) {
      for (const path of i % 2 ? [p0, p1] : [p1, p0]) {
        use(path);
        const t0 = performance.now();
        const [r] = await transcribe(pipe, audios[i], { language: 'en', maxNewTokens: REFERENCE_MAX_NEW_TOKENS });
        ms[path].push(performance.now() - t0);
        if (JSON.stringify(r.tokens) === JSON.stringify(clips[i].tokens)) same[path]++;
      }
    }
    use(p0);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    console.log(`whisper-tiny exact, jfk + ${clips.length - 1} librispeech: ` + paths.map((p) => `${p} ${(sum(ms[p]) / clips.length / 1000).toFixed(3)} s/clip ` +
      `(reference tokens ${same[p]}/${clips.length})`).join('  ') + `  ${p0}/${p1} ${(sum(ms[p0]) / sum(ms[p1])).toFixed(2)}x`);
  }
  // Last: LoRA wraps the model's layers.
  if (loraRounds > 0) {
    const tok = pipe.tokenizer;
    const split = sharedDir('datasets', 'librispeech-mini', 'train');
    const [file, text] = (await import('fs')).readFileSync(`${split}/metadata.csv`, 'utf8').trim().split('\n')[1].split(',');
    const labels = [...tok.prefixTokens({ language: 'en' }), ...tok.encode(' ' + text.toLowerCase()), tok.eot];
    const features = tf.tensor3d(pipe.featureExtractor.extract(await loadAudio(`${split}/${file}`)), [1, pipe.featureExtractor.featureSize, pipe.featureExtractor.nFrames]);
    const ids = tf.tensor2d([labels.slice(0, -1)], undefined, 'int32');
    const target = tf.tensor2d([labels.slice(1)], undefined, 'int32');
    const positions = labels.slice(1).map((_, i) => i);
    const peft = getPeftModel(pipe.model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: String.raw`.*(self_attn|encoder_attn)\.(q_proj|v_proj)` }));
    const vars = [...peft.namedTrainableVariables().values()];
    interleaved('LoRA step A (1 example, 30 s)', loraRounds, undefined, () => {
      const { value, grads } = tf.variableGrads(() => crossEntropyLoss(pipe.model.forward(features, ids, { training: true, positions }), target), vars);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    });
    tf.dispose([features, ids, target]);
    peft.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
