/**
 * Where the time of one LoRA training step goes, kernel by kernel (tf.profile), for the two
 * configurations of bench/train.ts: A (encoder trained through, one 30 s example) or B (encoder
 * frozen and cached, a batch). Shapes are part of the key, so "Transpose [1500,1500]" and
 * "BatchMatMul [1500,64] <- [[1500,1500],[1500,64]]" show up separately. Custom gradients appear
 * as "unnamed scope" and include the kernels they run (counted twice in the per-kernel lines, not
 * in the total).
 *
 *   npx tsx bench/profile-step.ts A      # or B; BATCH=8 for B's batch size
 */
import * as fs from 'fs';
import { initBackend, describeBackend, tf } from '../src/backend';
import { sharedDir } from '../tools/shared';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { loadAudio } from '../src/audio/decode';
import { getPeftModel, LoraConfig } from '../src/lora';
import { crossEntropyLoss } from '../src/train/loss';
import { parseFlags } from '../apps/args';

async function main() {
  const given = parseFlags(process.argv.slice(2), {}).positionals[0];
  const config = (given ?? 'A').toUpperCase();
  if (config !== 'A' && config !== 'B') throw new Error(`usage: profile-step.ts A|B (got ${given})`);
  console.log(describeBackend(await initBackend()));
  const dir = sharedDir('models', 'whisper-tiny');
  const model = await WhisperForConditionalGeneration.fromPretrained(dir);
  const tok = await WhisperTokenizer.fromPretrained(dir);
  const fe = WhisperFeatureExtractor.fromPretrained(dir);
  const batch = config === 'A' ? 1 : Number(process.env.BATCH ?? 8);
  const split = sharedDir('datasets', 'librispeech-mini', 'train');
  const rows = fs.readFileSync(`${split}/metadata.csv`, 'utf8').trim().split('\n').slice(1, 1 + batch);
  const feats: Float32Array[] = [];
  const labels: number[][] = [];
  for (const row of rows) {
    const [file, text] = row.split(',');
    feats.push(fe.extract(await loadAudio(`${split}/${file}`)));
    labels.push([...tok.prefixTokens({ language: 'en' }), ...tok.encode(' ' + text.toLowerCase()), tok.eot]);
  }
  // Decoder input: labels[:-1]; targets: labels[1:], padding ignored (as the collator does).
  const t = Math.max(...labels.map((l) => l.length)) - 1;
  const ids = tf.tensor2d(labels.map((l) => Array.from({ length: t }, (_, i) => l[i] ?? tok.eot)), [batch, t], 'int32');
  const targets = labels.flatMap((l) => Array.from({ length: t }, (_, i) => l[i + 1] ?? -100));
  const positions = targets.flatMap((l, i) => (l === -100 ? [] : [i]));
  const lab = tf.tensor2d([positions.map((i) => targets[i])], undefined, 'int32');
  const peft = getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: config === 'A'
    ? String.raw`.*(self_attn|encoder_attn)\.(q_proj|v_proj)` : String.raw`.*decoder.*(self_attn|encoder_attn)\.(q_proj|v_proj)` }));
  const mel = tf.tensor3d(Float32Array.from(feats.flatMap((f) => Array.from(f))), [batch, fe.featureSize, fe.nFrames]);
  const cached = config === 'B' ? model.encode(mel) : undefined;
  const vars = [...peft.namedTrainableVariables().values()];
  const step = () => {
    const { value, grads } = tf.variableGrads(() => crossEntropyLoss(
      model.forward(cached ? null : mel, ids, { encoderHiddenStates: cached, training: true, positions }), lab), vars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  step(); // warm-up: kernels, packed weights
  const t0 = Date.now();
  step();
  console.log(`${config}: one step of ${batch} example(s), ${t} decoder tokens: ${Date.now() - t0} ms wall`);
  const prof = await tf.profile(step);
  const ms = (k: (typeof prof.kernels)[number]) => (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0);
  const own = prof.kernels.filter((k) => !k.name.startsWith('unnamed'));
  console.log(`${prof.kernels.length} kernels, ${own.reduce((a, k) => a + ms(k), 0).toFixed(0)} ms in kernels (the rest is tfjs bookkeeping)`);
  const byKey = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) {
    const key = `${k.name} ${JSON.stringify(k.outputShapes?.[0] ?? [])}` + (k.name === 'BatchMatMul' ? ` <- ${JSON.stringify(k.inputShapes)}` : '');
    const e = byKey.get(key) ?? { ms: 0, n: 0 };
    e.ms += ms(k);
    e.n++;
    byKey.set(key, e);
  }
  const byName = new Map<string, number>();
  for (const k of own) byName.set(k.name, (byName.get(k.name) ?? 0) + ms(k));
  const total = own.reduce((a, k) => a + ms(k), 0);
  console.log('by kernel: ' + [...byName].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([n, v]) => `${n} ${(100 * v / total).toFixed(1)} %`).join(', '));
  for (const [key, e] of [...byKey].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.TOP ?? 30))) {
    console.log(`${e.ms.toFixed(0).padStart(6)} ms  x${String(e.n).padEnd(4)} ${key}`);
  }
  tf.dispose([ids, lab, mel, ...(cached ? [cached] : [])]);
  peft.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
