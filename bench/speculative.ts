/**
 * Speculative decoding, the real case: whisper-base (or whisper-small) transcribing with
 * whisper-tiny drafting (bench/checkpoints.ts fetches and converts them). Per clip, greedy and
 * speculative decoding of the main model run back to back in alternating order; tokens must be
 * identical.
 *
 *   npx tsx bench/speculative.ts [--model base|small] [--clips 20] [--k 4]
 *
 * Prints per-clip seconds, the acceptance rate (drafted tokens the main model kept) and the
 * speed-up of end-to-end transcription (both encoders included) and of the decoding alone (the
 * draft's encoder pass, timed where the decoding task runs it, left out).
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadAudio } from '../src/audio/decode';
import { describeBackend, initBackend, tf } from '../src/backend';
import { DecodingTask } from '../src/model/decoding';
import { loadWhisper } from '../src/model/pipeline';
import { sharedDir } from '../tools/shared';
import { benchCheckpointDir, benchModelFlag } from './checkpoints';
import { parseFlags, positiveIntFlag } from '../apps/args';

const { values: flags } = parseFlags(process.argv.slice(2), { k: { type: 'string' }, clips: { type: 'string' }, model: { type: 'string' } });
function arg(name: 'k' | 'clips', def: number): number {
  return positiveIntFlag(name, flags[name]) ?? def;
}

async function main() {
  console.log(describeBackend(await initBackend()).split('\n')[0]);
  const size = benchModelFlag(flags.model);
  const mainModel = await loadWhisper(benchCheckpointDir(size));
  const tiny = await loadWhisper(sharedDir('models', 'whisper-tiny'));
  const k = arg('k', 4);
  const libri = sharedDir('datasets', 'librispeech-mini', 'test');
  const files = [sharedDir('datasets', 'samples', 'jfk.flac'), ...fs.readFileSync(path.join(libri, 'metadata.csv'), 'utf8').trim()
    .split('\n').slice(1, arg('clips', 20)).map((l) => path.join(libri, l.split(',')[0]))];
  const totals = { greedy: 0, spec: 0, greedyDecode: 0, specDecode: 0, tokens: 0, proposed: 0, accepted: 0, same: 0 };
  // i = -1: both ways once on the first clip, untimed: what a process pays once (packing each
  // model's weights for the step kernels, oneDNN making its kernels) is not a cost per clip.
  for (let i = -1; i < files.length; i++) {
    const features = mainModel.featureExtractor.call([await loadAudio(files[Math.max(i, 0)])]);
    const timed = async (speculative: boolean) => {
      const t0 = performance.now();
      const enc = mainModel.model.encode(features);
      enc.dataSync();
      const t1 = performance.now();
      // The draft's encoder pass, which the decoding task runs: timed where it runs.
      let draftEncoder = 0;
      const encode = tiny.model.encode;
      tiny.model.encode = (f) => {
        const d0 = performance.now();
        const out = encode.call(tiny.model, f);
        out.dataSync();
        draftEncoder += (performance.now() - d0) / 1000;
        return out;
      };
      const t2 = performance.now();
      const task = new DecodingTask(mainModel.model, { language: 'en', ...(speculative ? { assistantModel: tiny.model, numAssistantTokens: k } : {}) });
      const [r] = await task.run({ features, encoderHiddenStates: enc });
      enc.dispose();
      const t3 = performance.now();
      tiny.model.encode = encode;
      // total: main encoder + draft encoder + decoding; decode: the decoding alone.
      return { r, total: (t1 - t0 + t3 - t2) / 1000, decode: (t3 - t2) / 1000 - draftEncoder };
    };
    // Alternate the order so a drifting machine favours neither.
    let greedy: Awaited<ReturnType<typeof timed>>;
    let spec: typeof greedy;
    if (i % 2) {
      spec = await timed(true);
      greedy = await timed(false);
    } else {
      greedy = await timed(false);
      spec = await timed(true);
    }
    features.dispose();
    if (i < 0) continue;
    const same = JSON.stringify(spec.r.tokens) === JSON.stringify(greedy.r.tokens);
    totals.same += same ? 1 : 0;
    totals.greedy += greedy.total;
    totals.spec += spec.total;
    totals.greedyDecode += greedy.decode;
    totals.specDecode += spec.decode;
    totals.tokens += greedy.r.tokens.length + 1;
    totals.proposed += spec.r.draft!.proposed;
    totals.accepted += spec.r.draft!.accepted;
    console.log(`${path.basename(files[i])}: greedy ${greedy.total.toFixed(2)} s (decode ${greedy.decode.toFixed(2)}), speculative ` +
      `${spec.total.toFixed(2)} s (decode ${spec.decode.toFixed(2)}), ${spec.r.draft!.accepted}/${spec.r.draft!.proposed} ` +
      `accepted, ${same ? 'identical' : 'DIFFERENT'} (${greedy.r.tokens.length} tokens)`);
  }
  const n = files.length;
  console.log(`\nRESULT whisper-${size} + whisper-tiny draft (k=${k}), ${n} clips, ${totals.tokens} tokens: identical ${totals.same}/${n}; ` +
    `acceptance ${(100 * totals.accepted / totals.proposed).toFixed(1)} %; end-to-end ${(totals.greedy / n).toFixed(2)} -> ` +
    `${(totals.spec / n).toFixed(2)} s/clip (x${(totals.greedy / totals.spec).toFixed(2)}); decoding ${(totals.greedyDecode / n).toFixed(2)} -> ` +
    `${(totals.specDecode / n).toFixed(2)} s/clip (x${(totals.greedyDecode / totals.specDecode).toFixed(2)}); tensors ${tf.memory().numTensors}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
