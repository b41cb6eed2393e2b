/**
 * Speed and memory of transcription with whisper-tiny (wasm backend), beside whisper.cpp in the
 * same run. Prints one line per metric.
 *
 *   npx tsx bench/transcribe.ts [--quick] [--clips 20] [--rounds 2] [--cpp-threads N] [--batch N]
 *
 * - log-Mel of a 30 s window, encoder per 30 s window, decoder tokens/s (one clip's decoding, and
 *   the steady-state step)
 * - end-to-end s/clip on samples/jfk.flac + the first 20 librispeech-mini test clips (audio decoded
 *   beforehand, language given as in the reference): ours in exact mode (output checked against
 *   transcripts.jsonl), ours in the opt-in fast mode (trimPadding; its WER: TRIM=1
 *   bench/wer-librispeech.ts), fast mode with bf16 products (the CLI's `--fast --bf16`, where the
 *   CPU has bf16) and whisper.cpp (npm @napi-rs/whisper, greedy, its default full
 *   30 s window, the same number of threads; ggml file converted from the same checkpoint by
 *   src/export/ggml.ts), clip by clip in rotating order so a drifting machine favours none;
 *   the ratios to whisper.cpp are the numbers to compare across machines; and ours on the same
 *   clips as batches of --batch (default: all of them; `transcribe(pipe, clips, { batchSize })`,
 *   as evaluate() runs, decoding every clip of a batch in one step: each weight read once per
 *   step for all of them), exact and fast, timed between whole passes of the others
 * - peak RSS over the 100 librispeech-mini test clips (skipped with --quick)
 * Wall times on a shared machine are noisy; CPU seconds (process.cpuUsage) are printed beside them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadAudio } from '../src/audio/decode';
import { describeBackend, initBackend, setMatmulPrecision, tf } from '../src/backend';
import { AudioFeatures, DecoderSession } from '../src/model/inference';
import { loadWhisper, WhisperPipeline } from '../src/model/pipeline';
import { transcribe } from '../src/model/transcribe';
import { wantedWasmThreads } from '../src/backend/wasm/threads';
import { sharedDir, loadReferenceTranscripts, REFERENCE_MAX_NEW_TOKENS } from '../tools/shared';
import { convertToGgml } from '../src/export/ggml';
import { whisperCpp } from '../tools/whisperCpp';
import { benchCacheDir } from './checkpoints';
import { parseFlags, positiveIntFlag } from '../apps/args';

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

/** whisper.cpp on the same checkpoint (converted to ggml once, cached). */
function whisperCppOf(pipe: WhisperPipeline, threads: number): (audio: Float32Array) => string {
  const file = path.join(benchCacheDir(), `ggml-${path.basename(pipe.dir)}.bin`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(benchCacheDir(), { recursive: true });
    convertToGgml(pipe.dir, file);
  }
  return whisperCpp(file, { language: 'en', threads });
}

const ENGINES = ['exact', 'fast', 'fast, bf16', 'exact, batch', 'fast, batch', 'whisper.cpp'] as const;
type Engine = (typeof ENGINES)[number];
async function main() {
  const text = { type: 'string' } as const;
  const { values: flags } = parseFlags(process.argv.slice(2), { quick: { type: 'boolean' }, clips: text, 'cpp-threads': text, rounds: text, batch: text });
  const quick = flags.quick ?? false;
  const backend = await initBackend();
  console.log(describeBackend(backend).split('\n')[0]);
  const load = await timed(() => loadWhisper(sharedDir('models', 'whisper-tiny')));
  const pipe = load.value;
  console.log(`model load: ${load.wall.toFixed(2)} s`);

  const clips = clipList(positiveIntFlag('clips', flags.clips) ?? 20);
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
  // One clip's whole greedy decode (prompt, cross-attention keys, every step), after a warm-up
  // run: the first call also pays for kernel set-up.
  const decode = () => pipe.model.generate(features, { language: 'en', encoderHiddenStates: hidden });
  const decoded = await decode();
  const dec = await timed(async () => { for (let i = 0; i < 3; i++) await decode(); });
  const nTok = decoded.sequences[0].length + 1;
  console.log(`decoder: ${(3 * nTok / dec.wall).toFixed(1)} tokens/s per clip (${nTok} tokens incl. eot + 4-token prompt, ` +
    `cpu ${(3 * nTok / dec.cpu).toFixed(1)} tokens/cpu-s, warm, mean of 3)`);
  // Steady state: one token per step on a growing cache (the prompt and the cross-attention keys,
  // made once per clip, excluded), median over 100 steps.
  const audio = new AudioFeatures(pipe.model, hidden);
  const session = new DecoderSession(audio, [0]);
  const row = [...pipe.tokenizer.prefixTokens({ language: 'en' })];
  await session.logits([row]);
  const steps: number[] = [];
  for (let i = 0; i < 100; i++) {
    row.push(decoded.sequences[0][i % decoded.sequences[0].length]);
    const t0 = performance.now();
    await session.logits([row]);
    steps.push(performance.now() - t0);
  }
  steps.sort((a, b) => a - b);
  console.log(`decoder step: ${(1000 / steps[50]).toFixed(1)} tokens/s (median ${steps[50].toFixed(2)} ms, fastest ${steps[0].toFixed(2)} ms, 100 steps)`);
  session.dispose();
  audio.dispose();
  tf.dispose([hidden, features]);

  // End to end: ours clip by clip (exact, fast), ours on the clips as one batch (transformers'
  // pipeline batch_size, what evaluate() does), whisper.cpp clip by clip; clip by clip the three
  // engines in rotating order, the batches between whole passes.
  const cpp = whisperCppOf(pipe, positiveIntFlag('cpp-threads', flags['cpp-threads']) ?? wantedWasmThreads());
  const batchSize = positiveIntFlag('batch', flags.batch) ?? clips.length;
  const opts = (e: Engine) => ({ language: 'en', trimPadding: e.startsWith('fast'), maxNewTokens: REFERENCE_MAX_NEW_TOKENS });
  const bf16 = (() => {
    try {
      setMatmulPrecision('bfloat16');
      setMatmulPrecision('float32');
      return true;
    } catch (e) {
      console.log(`fast, bf16: not timed (${(e as Error).message})`);
      return false;
    }
  })();
  const run = async (e: Engine, i: number) => {
    if (e === 'whisper.cpp') return { text: cpp(audios[i]) };
    if (e === 'fast, bf16') setMatmulPrecision('bfloat16');
    try {
      const [r] = await transcribe(pipe, audios[i], opts(e));
      return { text: r.text, tokens: r.tokens };
    } finally {
      setMatmulPrecision('float32');
    }
  };
  await transcribe(pipe, audios, { ...opts('exact'), batchSize }); // warm-up: a batch's first run sets up its tensors
  const rounds = positiveIntFlag('rounds', flags.rounds) ?? 2;
  const clipEngines: Engine[] = ['exact', 'fast', ...(bf16 ? ['fast, bf16' as const] : []), 'whisper.cpp'];
  for (let round = 1; round <= rounds; round++) {
    const wall = {} as Record<Engine, number>;
    const cpu = {} as Record<Engine, number>;
    const same = {} as Record<Engine, number>;
    for (const e of ENGINES) [wall[e], cpu[e], same[e]] = [0, 0, 0];
    const identical = (e: Engine, i: number, tokens?: number[]) => {
      if (JSON.stringify(tokens) === JSON.stringify(clips[i].tokens)) same[e]++;
    };
    let sameText = 0;
    const batched = async (e: Engine) => {
      const t = await timed(() => transcribe(pipe, audios, { ...opts(e), batchSize }));
      wall[e] += t.wall;
      cpu[e] += t.cpu;
      t.value.forEach((r, i) => identical(e, i, r.tokens));
    };
    // One batch before the first clip, the other after the middle one; which goes first alternates.
    const [first, second]: Engine[] = round % 2 ? ['exact, batch', 'fast, batch'] : ['fast, batch', 'exact, batch'];
    for (let i = 0; i < clips.length; i++) {
      if (i === 0) await batched(first);
      const texts: Partial<Record<Engine, string>> = {};
      for (let k = 0; k < clipEngines.length; k++) {
        const e = clipEngines[(i + k + round) % clipEngines.length];
        const t = await timed(() => run(e, i));
        wall[e] += t.wall;
        cpu[e] += t.cpu;
        texts[e] = t.value.text.trim();
        identical(e, i, t.value.tokens);
      }
      if (texts.exact === texts['whisper.cpp']) sameText++;
      if (i === clips.length >> 1) await batched(second);
    }
    const per = (e: Engine) => `${(wall[e] / clips.length).toFixed(3)} s/clip (cpu ${(cpu[e] / clips.length).toFixed(3)})`;
    const ratio = (e: Engine) => `${e} x${(wall['whisper.cpp'] / wall[e]).toFixed(2)}`;
    console.log(`round ${round}, jfk + ${clips.length - 1} librispeech: exact ${per('exact')}, identical to reference ` +
      `${same.exact}/${clips.length} | fast ${per('fast')}${bf16 ? ` | fast, bf16 ${per('fast, bf16')}` : ''} | batches of ${batchSize}: exact ${per('exact, batch')}, identical ` +
      `${same['exact, batch']}/${clips.length}, fast ${per('fast, batch')} | whisper.cpp ${per('whisper.cpp')}, same text as exact ` +
      `${sameText}/${clips.length} | ratio to whisper.cpp: ${ENGINES.filter((e) => e !== 'whisper.cpp' && (bf16 || e !== 'fast, bf16')).map(ratio).join(', ')} ` +
      '(above 1 = faster than whisper.cpp)');
  }

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
