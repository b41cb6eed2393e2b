/**
 * LoRA training speed of bigger Whisper sizes on the native products (src/backend/native.ts)
 * against wasm's own kernels, interleaved in one process (native, wasm, wasm, native ...; median
 * of the per-round ratios): random weights of the real shapes (bench/random-checkpoint.ts), one
 * LibriSpeech example of 30 s with its real transcript, loss and the LoRA gradients as one example
 * of a training step computes them (bench/native.ts's LoRA step, on another size).
 *
 *   npx tsx bench/lora-sizes.ts --size base|small [--setup A|B] [--rounds 3] [--dtype float32|float16|int8] [--paths native,wasm]
 *
 * Setups as in BENCHMARKS.md's "Training": A, LoRA r=8 on q/v of every attention module, the
 * encoder trained through (notebook 14, the article's whisper-small setup); B, the same on the
 * decoder only, the encoder's output computed once beforehand (not timed). Needs the addon.
 * `--paths native` times the native path alone: where wasm's kernels run out of the 4 GB wasm heap
 * (whisper-base A does: wasm keeps transposed weight copies and XNNPACK's packed operands), the
 * failed allocation corrupts the heap for the other path too.
 */
import * as fs from 'fs';
import { describeBackend, initBackend, tf, WeightDtype } from '../src/backend';
import { setNativeProducts } from '../src/backend/native';
import { loadAudio } from '../src/audio/decode';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { getPeftModel, LoraConfig } from '../src/lora';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { crossEntropyLoss } from '../src/train/loss';
import { sharedDir } from '../tools/shared';
import { parseFlags, positiveIntFlag } from '../apps/args';
import { ensureCheckpoint } from './random-checkpoint';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const text = { type: 'string' } as const;

async function main() {
  const { values: flags } = parseFlags(process.argv.slice(2), { size: text, setup: text, rounds: text, dtype: text, paths: text });
  const size = flags.size ?? 'base';
  const setup = (flags.setup ?? 'A').toUpperCase();
  if (setup !== 'A' && setup !== 'B') throw new Error(`--setup ${flags.setup}: A or B`);
  const rounds = positiveIntFlag('rounds', flags.rounds) ?? 3;
  const dtype = (flags.dtype ?? 'float32') as WeightDtype;
  const paths = (flags.paths ?? 'native,wasm').split(',') as ('wasm' | 'native')[];
  if (!paths.length || paths.some((p) => p !== 'native' && p !== 'wasm')) throw new Error(`--paths ${flags.paths}: native, wasm or both`);
  process.env.WHISPER_BACKEND = 'native'; // fails with the reason without the addon; switched below
  const report = await initBackend();
  console.log(`${describeBackend(report).split('\n')[0]}; OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY}; load average ${(await import('os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const model = await WhisperForConditionalGeneration.fromPretrained(ensureCheckpoint(size), { weightsDtype: dtype });
  const tinyDir = sharedDir('models', 'whisper-tiny'); // same tokenizer and features for every size with 80 mel bins
  const tok = await WhisperTokenizer.fromPretrained(tinyDir);
  const fe = WhisperFeatureExtractor.fromPretrained(tinyDir);
  const split = sharedDir('datasets', 'librispeech-mini', 'train');
  const [file, transcript] = fs.readFileSync(`${split}/metadata.csv`, 'utf8').trim().split('\n')[1].split(',');
  const labels = [...tok.prefixTokens({ language: 'en' }), ...tok.encode(' ' + transcript.toLowerCase()), tok.eot];
  const features = tf.tensor3d(fe.extract(await loadAudio(`${split}/${file}`)), [1, fe.featureSize, fe.nFrames]);
  const ids = tf.tensor2d([labels.slice(0, -1)], undefined, 'int32');
  const target = tf.tensor2d([labels.slice(1)], undefined, 'int32');
  const positions = labels.slice(1).map((_, i) => i);
  const peft = getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: setup === 'A'
    ? String.raw`.*(self_attn|encoder_attn)\.(q_proj|v_proj)` : String.raw`.*decoder.*(self_attn|encoder_attn)\.(q_proj|v_proj)` }));
  const cached = setup === 'B' ? model.encode(features) : undefined;
  const vars = [...peft.namedTrainableVariables().values()];
  const step = () => {
    const { value, grads } = tf.variableGrads(() => crossEntropyLoss(
      model.forward(cached ? null : features, ids, { encoderHiddenStates: cached, training: true, positions }), target), vars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const heapMiB = () => Math.round(((tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0) / 2 ** 20);

  const ms: Record<'wasm' | 'native', number[]> = { wasm: [], native: [] };
  const ratios: number[] = [];
  for (let r = -1; r < rounds; r++) {
    const t: Record<string, number> = {};
    for (const path of r % 2 ? [...paths].reverse() : paths) {
      setNativeProducts(path === 'native');
      const t0 = performance.now();
      step();
      t[path] = performance.now() - t0;
    }
    console.log(`round ${r < 0 ? 'warm-up' : r + 1}: ${paths.map((p) => `${p} ${(t[p] / 1000).toFixed(2)} s`).join(', ')}, wasm heap ${heapMiB()} MiB`);
    if (r < 0) continue; // warm-up: packing, transposed copies, first allocations
    for (const p of paths) ms[p].push(t[p]);
    if (paths.length === 2) ratios.push(t.wasm / t.native);
  }
  const each = paths.map((p) => {
    const s = median(ms[p]) / 1000;
    return `${p} ${s.toFixed(2)} s/example (${(60 / (8 * s)).toFixed(2)} steps of batch 8 per minute)`;
  });
  const ratio = ratios.length ? `; wasm/native ${median(ratios).toFixed(2)}x (range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : '';
  console.log(`whisper-${size} (random, ${dtype}) LoRA step ${setup}, 1 example of 30 s (${labels.length} tokens): ${each.join(', ')}${ratio}; ` +
    `load average ${(await import('os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  tf.dispose([features, ids, target, ...(cached ? [cached] : [])]);
  peft.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
