/**
 * Speed and memory of transcription with whisper-tiny (wasm backend). Prints one line per metric.
 *
 *   npx tsx bench/transcribe.ts [--quick] [--clips 20]
 *
 * - log-Mel of a 30 s window, encoder per 30 s window, decoder tokens/s
 * - end-to-end s/clip on samples/jfk.flac + the first 20 librispeech-mini test clips (audio decoded
 *   beforehand, language given as in the reference), output checked against transcripts.jsonl
 * - the same in the opt-in fast mode (trimPadding; its WER: TRIM=1 bench/wer-librispeech.ts)
 * - peak RSS over the 100 librispeech-mini test clips (skipped with --quick)
 * Wall times on a shared machine are noisy; CPU seconds (process.cpuUsage) are printed beside them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadAudio } from '../src/audio/decode';
import { describeBackend, initBackend, tf } from '../src/backend';
import { loadWhisper, transcribe } from '../src/model/pipeline';
import { sharedDir, loadReferenceTranscripts } from '../src/shared';

interface Clip { id: string; path: string; tokens?: number[] }

function clipList(n: number): Clip[] {
  const refs = new Map<string, number[]>(loadReferenceTranscripts().map((r: { path: string; tokens: number[] }) => [r.path, r.tokens]));
  const meta = fs.readFileSync(sharedDir('datasets', 'librispeech-mini', 'test', 'metadata.csv'), 'utf8').split('\n').slice(1).filter(Boolean);
  const libri = meta.slice(0, n).map((l) => {
    const file = l.split(',')[0];
    const p = `librispeech-mini/test/${file}`;
    return { id: path.basename(file, '.flac'), path: p, tokens: refs.get(p) };
  });
  return [{ id: 'jfk', path: 'samples/jfk.flac', tokens: refs.get('samples/jfk.flac') }, ...libri];
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function timed<T>(f: () => Promise<T> | T): Promise<{ value: T; wall: number; cpu: number }> {
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const value = await f();
  return { value, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0 };
}

/** Transcribes clips in this thread; returns per-clip seconds and whether tokens matched. */
async function runClips(clips: Clip[], audios: Float32Array[], trimPadding = false) {
  const pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
  let same = 0;
  let tokens = 0;
  for (let i = 0; i < clips.length; i++) {
    const [r] = await transcribe(pipe, audios[i], { language: 'en', trimPadding });
    tokens += r.tokens.length;
    if (JSON.stringify(r.tokens) === JSON.stringify(clips[i].tokens)) same++;
  }
  return { same, tokens };
}

async function main() {
  const quick = process.argv.includes('--quick');
  const backend = await initBackend();
  console.log(describeBackend(backend).split('\n')[0]);
  const load = await timed(() => loadWhisper(sharedDir('models', 'whisper-tiny')));
  const pipe = load.value;
  console.log(`model load: ${load.wall.toFixed(2)} s`);

  const ci = process.argv.indexOf('--clips');
  const clips = clipList(ci >= 0 ? Number(process.argv[ci + 1]) : 20);
  const audios = await Promise.all(clips.map((c) => loadAudio(sharedDir('datasets', c.path))));

  const window30 = new Float32Array(pipe.featureExtractor.nSamples);
  window30.set(audios[0].subarray(0, window30.length));
  await timed(() => pipe.featureExtractor.extract(window30));
  const mel = await timed(() => { for (let i = 0; i < 5; i++) pipe.featureExtractor.extract(window30); });
  console.log(`log-Mel per 30 s: ${(mel.wall / 5 * 1000).toFixed(1)} ms (cpu ${(mel.cpu / 5 * 1000).toFixed(1)} ms)`);

  const features = pipe.featureExtractor.call([audios[0]]);
  pipe.model.encode(features).dispose(); // warm-up
  const enc = await timed(() => { for (let i = 0; i < 3; i++) pipe.model.encode(features).dataSync(); });
  console.log(`encoder per 30 s window: ${(enc.wall / 3).toFixed(3)} s (cpu ${(enc.cpu / 3).toFixed(3)} s)`);

  const hidden = pipe.model.encode(features);
  const dec = await timed(() => pipe.model.generate(features, { language: 'en', encoderHiddenStates: hidden }));
  const nTok = dec.value.sequences[0].length + 1;
  console.log(`decoder: ${(nTok / dec.wall).toFixed(1)} tokens/s (${nTok} tokens incl. eot + 4-token prompt, ` +
    `cpu ${(nTok / dec.cpu).toFixed(1)} tokens/cpu-s)`);
  tf.dispose([hidden, features]);

  const e2e = await timed(() => runClips(clips, audios));
  console.log(`end-to-end (jfk + ${clips.length - 1} librispeech, one at a time): ${(e2e.wall / clips.length).toFixed(3)} s/clip ` +
    `(cpu ${(e2e.cpu / clips.length).toFixed(3)} s/clip), identical to reference ${e2e.value.same}/${clips.length}`);
  const fast = await timed(() => runClips(clips, audios, true));
  console.log(`end-to-end, opt-in fast mode (trimPadding): ${(fast.wall / clips.length).toFixed(3)} s/clip ` +
    `(cpu ${(fast.cpu / clips.length).toFixed(3)} s/clip), identical to reference ${fast.value.same}/${clips.length}`);

  if (!quick) {
    const all = clipList(100).slice(1);
    let peak = process.memoryUsage().rss;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const t = await timed(async () => {
      for (const c of all) {
        await transcribe(pipe, await loadAudio(sharedDir('datasets', c.path)), { language: 'en' });
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    });
    clearInterval(timer);
    console.log(`100 librispeech-mini test clips: ${(t.wall / all.length).toFixed(3)} s/clip (cpu ${(t.cpu / all.length).toFixed(3)}), ` +
      `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB, tensors ${tf.memory().numTensors}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
