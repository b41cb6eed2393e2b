/**
 * `npm run transcribe` on real files: a 3-minute recording against its clips transcribed one by
 * one, srt cues, a batch with a corrupt file in the middle (a real process and its exit code),
 * LoRA adapters from the command line against the library's PeftModel, every output format.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAudio } from '../src/audio/decode';
import { encodeWav } from '../src/audio/wav';
import { initBackend, tf } from '../src/backend';
import { runCli } from '../apps/cli/transcribe';
import { wer } from '../src/eval/metrics';
import { getPeftModel, LoraConfig, PeftModel } from '../src/lora';
import { loadWhisper, WhisperPipeline } from '../src/model/pipeline';
import { transcribe } from '../src/model/transcribe';
import { loadReferenceTranscripts, PROJECT_ROOT, sharedDir } from '../tools/shared';
import { getNormalizer } from '../src/text';
import { crossEntropyLoss } from '../src/train/loss';

const LIBRI = () => sharedDir('datasets', 'librispeech-mini', 'test');

function metadata() {
  return fs.readFileSync(path.join(LIBRI(), 'metadata.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','))
    .map((c) => ({ file: c[0], text: c.slice(1, -2).join(','), speaker: c[c.length - 2], seconds: Number(c[c.length - 1]) }));
}

/** Runs the command in this process, capturing what it prints. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

/** Seconds of an srt timestamp 00:01:02,345. */
function srtSeconds(t: string): number {
  const m = /^(\d+):(\d\d):(\d\d),(\d{3})$/.exec(t);
  if (!m) throw new Error(`not an srt time: ${t}`);
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
}

describe('npm run transcribe (CLI)', function () {
  let pipe: WhisperPipeline;
  let tmp: string;
  let jfkWav: string;

  before(async () => {
    await initBackend();
    pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-test-'));
    jfkWav = path.join(tmp, 'jfk.wav');
    fs.writeFileSync(jfkWav, encodeWav(await loadAudio(sharedDir('datasets', 'samples', 'jfk.flac')), 16000));
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a 3-minute recording: WER within 2 points of its clips one by one; srt cues increase and reach the end', async () => {
    // Consecutive utterances of one speaker, joined into one 16 kHz FLAC file of 3 minutes or more.
    const rows = metadata().filter((r) => r.speaker === '1970');
    const picked: typeof rows = [];
    for (const r of rows) {
      if (picked.reduce((s, p) => s + p.seconds, 0) >= 180) break;
      picked.push(r);
    }
    const clips = await Promise.all(picked.map((r) => loadAudio(path.join(LIBRI(), r.file))));
    const joined = new Float32Array(clips.reduce((n, c) => n + c.length, 0));
    clips.reduce((o, c) => (joined.set(c, o), o + c.length), 0);
    const wav = path.join(tmp, 'long.wav');
    fs.writeFileSync(wav, encodeWav(joined, 16000));
    const flac = path.join(tmp, 'long.flac');
    assert.equal(spawnSync('ffmpeg', ['-loglevel', 'error', '-i', wav, flac]).status, 0, 'ffmpeg wav -> flac');
    const duration = joined.length / 16000;

    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const r = await cli([flac, '--language', 'en', '--output-format', 'all', '--output-dir', tmp]);
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(r.code, 0, r.err);
    assert.equal(tf.memory().numTensors, before, 'the CLI leaked tensors');
    assert.match(r.err, /long\.flac: \d+\.\d\/\d+\.\d s \(\d+%\)/, 'a progress line on stderr');
    for (const ext of ['txt', 'vtt', 'srt', 'tsv', 'json']) assert.ok(fs.existsSync(path.join(tmp, `long.${ext}`)), `long.${ext}`);

    // Clip by clip: the reference implementation's greedy transcripts, what exact mode gives on each clip.
    const refHyp = new Map(loadReferenceTranscripts().map((j) => [j.path, j.hypothesis]));
    const norm = getNormalizer('english', { normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') });
    const reference = norm(picked.map((p) => p.text).join(' '));
    const json = JSON.parse(fs.readFileSync(path.join(tmp, 'long.json'), 'utf8'));
    const werLong = wer(reference, norm(json.text));
    const werClips = wer(reference, norm(picked.map((p) => refHyp.get(`librispeech-mini/test/${p.file}`)!).join(' ')));
    const words = reference.split(' ').length;
    console.log(`      ${picked.length} clips, ${duration.toFixed(1)} s, ${words} words: WER ${(100 * werLong).toFixed(2)} % whole file ` +
      `(${json.segments.length} segments, ${seconds.toFixed(0)} s) vs ${(100 * werClips).toFixed(2)} % clip by clip`);
    assert.ok(Math.abs(werLong - werClips) <= 0.02, `whole-file WER ${werLong} vs clips ${werClips}`);
    assert.equal(fs.readFileSync(path.join(tmp, 'long.txt'), 'utf8').trim().split('\n').length, json.segments.length);

    const srt = fs.readFileSync(path.join(tmp, 'long.srt'), 'utf8').trim().split('\n\n');
    const cues = srt.map((block, i) => {
      const [n, times, ...text] = block.split('\n');
      assert.equal(Number(n), i + 1);
      const [a, b] = times.split(' --> ').map(srtSeconds);
      assert.ok(text.join(' ').trim().length > 0);
      return { a, b };
    });
    cues.forEach((c, i) => {
      assert.ok(c.b > c.a, `cue ${i + 1} ends after it starts`);
      if (i) assert.ok(c.a >= cues[i - 1].a, `cue ${i + 1} starts after cue ${i}`);
    });
    const last = cues[cues.length - 1].b;
    assert.ok(last <= duration + 0.01 && last >= duration - 1.5, `the last cue ends at ${last} s of ${duration.toFixed(2)} s`);
  });

  it('a batch with a corrupt file in the middle transcribes the others and exits non-zero', function () {
    const bad = path.join(tmp, 'bad.wav');
    fs.writeFileSync(bad, Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt this is not audio at all', 'latin1'));
    const libri = path.join(LIBRI(), metadata()[0].file);
    const p = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(PROJECT_ROOT, 'apps/cli/transcribe.ts'),
      jfkWav, bad, libri, '--language', 'en'], { encoding: 'utf8', env: { ...process.env, WHISPER_WASM_THREADS: '1' } });
    assert.equal(p.status, 1, p.stderr);
    assert.match(p.stderr, /bad\.wav: error: .+/);
    assert.match(p.stderr, /2 of 3 files transcribed; failed: .*bad\.wav/);
    assert.match(p.stdout, /==> .*jfk\.wav <==\nAnd so my fellow Americans ask not what your country can do for you, ask what you can do for your country\./);
    assert.match(p.stdout, /==> .*19-198-0000\.flac <==\n\S+/);
  });

  it('--adapter: a trained adapter changes the tokens, as the library\'s PeftModel does; several by name', async () => {
    // A tiny adapter trained on jfk towards a different word ("Martians"), and one left untrained.
    const tokenizer = pipe.tokenizer;
    const target = ' And so my fellow Martians ask not what your country can do for you, ask what you can do for your country.';
    const prompt = tokenizer.prefixTokens({ language: 'en' });
    const text = tokenizer.encode(target);
    const features = pipe.featureExtractor.call([await loadAudio(jfkWav)]);
    const enc = pipe.model.encode(features);
    const config = new LoraConfig({ r: 4, loraAlpha: 8, targetModules: '.*decoder.*\\.(q_proj|v_proj)' });
    const trained = path.join(tmp, 'martians');
    const untrained = path.join(tmp, 'zero');
    let peft = getPeftModel(pipe.model, config);
    peft.saveAdapter(untrained);
    const ids = tf.tensor2d([[...prompt, ...text]], [1, prompt.length + text.length], 'int32');
    const labels = tf.tensor2d([[...prompt.slice(1), ...text, tokenizer.eot].map((t, i) => (i < prompt.length - 1 ? -100 : t))],
      [1, prompt.length + text.length], 'int32');
    const opt = tf.train.adam(0.003);
    for (let step = 0; step < 6; step++) {
      const loss = opt.minimize(() => crossEntropyLoss(peft.forward(null, ids, { encoderHiddenStates: enc, training: true }), labels), true, peft.trainableVariables());
      loss?.dispose();
    }
    peft.saveAdapter(trained);
    peft.dispose();
    opt.dispose();
    tf.dispose([ids, labels, enc, features]);

    const [base] = await transcribe(pipe, await loadAudio(jfkWav), { language: 'en' });
    peft = PeftModel.fromPretrained(pipe.model, trained);
    const [library] = await transcribe(pipe, await loadAudio(jfkWav), { language: 'en' });
    peft.dispose();
    assert.notDeepEqual(library.tokens, base.tokens, 'the trained adapter changes the output');
    assert.match(library.text, /fellow Martians ask not/);

    const r = await cli([jfkWav, '--language', 'en', '--adapter', `martians=${trained}`, '--adapter', `zero=${untrained}`, '--output-format', 'json']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.adapter), ['martians', 'zero']);
    const tokensOf = (l: { segments: { tokens: number[] }[] }) => l.segments.flatMap((s) => s.tokens);
    assert.deepEqual(tokensOf(lines[0]), library.tokens, 'CLI with the adapter = PeftModel.fromPretrained');
    assert.deepEqual(tokensOf(lines[1]), base.tokens, 'an untrained adapter (B = 0) leaves the base output');
    console.log(`      base: ${base.text.trim()}\n      adapter: ${library.text.trim()}`);
    // The base model is left as it was.
    assert.ok(pipe.model.linears().every((l) => l.adapters.length === 0));
    await assert.rejects(cli([jfkWav, '--adapter', path.join(tmp, 'missing')]), /missing.adapter_config\.json: adapter config not found/);
  });

  it('prints each format to stdout (vtt, tsv, json) and rejects bad options by name', async () => {
    const vtt = await cli([jfkWav, '--output-format', 'vtt', '--word-timestamps']);
    assert.equal(vtt.code, 0, vtt.err);
    assert.match(vtt.err, /jfk\.wav: language english/);
    assert.match(vtt.out, /^WEBVTT\n\n00:00\.000 --> 00:10\.480\nAnd so my fellow Americans/);
    const tsv = await cli([jfkWav, '--language', 'en', '--output-format', 'tsv']);
    assert.match(tsv.out, /^start\tend\ttext\n0\t11000\tAnd so my fellow Americans/);
    const json = JSON.parse((await cli([jfkWav, '--language', 'en', '--output-format', 'json', '--word-timestamps'])).out);
    assert.equal(json.language, 'en');
    assert.equal(json.segments[0].words.length, 22);
    await assert.rejects(cli([jfkWav, '--output-format', 'docx']), /--output-format must be one of txt, vtt, srt, tsv, json, all; got 'docx'/);
    await assert.rejects(cli([jfkWav, '--beam-size', '0']), /--beam-size must be a positive integer, got '0'/);
    await assert.rejects(cli([jfkWav, '--bogus']), /unknown option --bogus/);
  });
});
