/**
 * Issue 26 items 6 and 7: special files (a FIFO with no writer blocked the CLI for good), a newline in
 * an input's name (it reached the output file's name), near-empty audio (one sample transcribed as
 * " you" with exit 0). Anything that could block runs in a child process with a time limit.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAudio } from '../src/audio/decode';
import { encodeWav } from '../src/audio/wav';
import { initBackend } from '../src/backend';
import { runCli } from '../apps/cli/transcribe';
import { loadWhisper } from '../src/model/pipeline';
import { transcribe } from '../src/model/transcribe';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

describe('hostile files for the CLI and loaders (issue 26 items 6, 7)', () => {
  let tmp: string;
  before(async () => {
    await initBackend();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-hostile-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('item 6: a FIFO with no writer is refused by every audio and data reader and by the CLI, naming it', function () {
    const dir = path.join(tmp, 'fifo');
    fs.mkdirSync(dir);
    const fifo = path.join(dir, 'x.wav');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    spawnSync('mkfifo', [path.join(dir, 'x.txt')]);
    spawnSync('mkfifo', [path.join(dir, 'list.csv')]);
    fs.symlinkSync(fifo, path.join(dir, 'link.flac')); // a link to a FIFO is followed, then refused
    const script = `
      const { loadAudio, loadAudioFfmpeg } = require('./src/audio/decode');
      const { openAudioStream } = require('./src/audio/stream');
      const { readAudioHeader } = require('./src/audio/header');
      const { loadCsvDataset, loadJsonl, loadTxtPairs } = require('./src/data/loaders');
      const { nodeFiles } = require('./src/io/node');
      const d = ${JSON.stringify(dir)};
      const tries = {
        loadAudio: () => loadAudio(d + '/x.wav'),
        loadAudioLink: () => loadAudio(d + '/link.flac'),
        loadAudioFfmpeg: () => loadAudioFfmpeg(d + '/x.wav'),
        openAudioStream: async () => { for await (const c of openAudioStream(d + '/x.wav')) void c; },
        readAudioHeader: async () => readAudioHeader(d + '/x.wav'),
        csv: () => loadCsvDataset(d + '/list.csv'),
        jsonl: () => loadJsonl(d + '/list.csv'),
        txtPairs: async () => JSON.stringify((await loadTxtPairs(d)).report.problems.map((p) => p.reason)),
        files: async () => nodeFiles(d).bytes('x.txt'),
      };
      (async () => {
        for (const [k, f] of Object.entries(tries)) {
          try { console.log(k + ' OK ' + (await f())); } catch (e) { console.log(k + ' ERROR ' + e.message); }
        }
      })();`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `blocked on a FIFO until killed; got so far:\n${r.stdout}`);
    const lines = r.stdout.trim().split('\n');
    for (const k of ['loadAudio', 'loadAudioFfmpeg', 'openAudioStream', 'readAudioHeader']) {
      assert.ok(lines.includes(`${k} ERROR ${fifo}: is a FIFO (named pipe), not an audio file`), `${k}: ${r.stdout}`);
    }
    assert.ok(lines.includes(`loadAudioLink ERROR ${path.join(dir, 'link.flac')}: is a FIFO (named pipe), not an audio file`), r.stdout);
    assert.ok(lines.includes(`csv ERROR ${path.join(dir, 'list.csv')}: is a FIFO (named pipe), not a manifest`), r.stdout);
    assert.ok(lines.includes(`jsonl ERROR ${path.join(dir, 'list.csv')}: is a FIFO (named pipe), not a manifest`), r.stdout);
    assert.match(r.stdout, /txtPairs OK .*is a FIFO \(named pipe\), not an audio file.*/);
    assert.ok(lines.includes(`files ERROR ${path.join(dir, 'x.txt')}: is a FIFO (named pipe), not a regular file`), r.stdout);

    // The CLI itself: the FIFO is one failed file of the batch, named, and the process ends.
    const jfk = path.join(tmp, 'jfk.flac');
    fs.copyFileSync(sharedDir('datasets', 'samples', 'jfk.flac'), jfk);
    const c = spawnSync(process.execPath, ['--import', 'tsx', 'apps/cli/transcribe.ts', fifo, jfk], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(c.signal, null, 'the CLI blocked on the FIFO');
    assert.equal(c.status, 1, c.stderr);
    assert.ok(c.stderr.includes(`${fifo}: error: is a FIFO (named pipe), not an audio file`), c.stderr);
    assert.match(c.stdout, /ask not what your country can do for you/i);
  });

  it('item 6: a newline in an input name does not reach the output file name, and the CLI says so', async () => {
    const name = path.join(tmp, 'two\nlines.wav');
    fs.writeFileSync(name, encodeWav(await loadAudio(sharedDir('datasets', 'fsdd-digits', 'audios', '7_theo_3.wav')), 16000));
    const outDir = path.join(tmp, 'out');
    const r = await cli([name, '--output-dir', outDir, '--output-format', 'txt', '--language', 'en']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(fs.readdirSync(outDir), ['two_lines.txt']);
    assert.ok(r.err.includes(`${JSON.stringify(name)}: control characters in the name replaced by '_': writing two_lines.txt`), r.err);
    assert.ok(fs.readFileSync(path.join(outDir, 'two_lines.txt'), 'utf8').trim(), 'the transcript is in it');
  });

  it('item 7: a 1-sample or an all-zero WAV gives an empty transcript and a warning; speech is unchanged', async () => {
    const one = path.join(tmp, 'one.wav');
    fs.writeFileSync(one, encodeWav(new Float32Array([0.5]), 16000));
    const zeros = path.join(tmp, 'zeros.wav');
    fs.writeFileSync(zeros, encodeWav(new Float32Array(16000), 16000));
    const r = await cli([one, zeros]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.replace(/==>.*<==\n/g, '').trim(), '', `no transcript: ${JSON.stringify(r.out)}`);
    assert.ok(r.err.includes(`${one}: warning: audio of 1 samples is shorter than one 400-sample frame: nothing to transcribe`), r.err);
    assert.ok(r.err.includes(`${zeros}: warning: every sample is zero (digital silence): nothing to transcribe`), r.err);
    // In a batch with speech, the speech is transcribed as alone (exact tokens).
    const pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
    const speech = await loadAudio(sharedDir('datasets', 'fsdd-digits', 'audios', '7_theo_3.wav'));
    const [alone] = await transcribe(pipe, [speech], { language: 'en' });
    const batch = await transcribe(pipe, [new Float32Array(399), speech, new Float32Array([0.1])], { language: 'en', batchSize: 3 });
    assert.deepEqual(batch.map((x) => x.text), ['', alone.text, '']);
    assert.deepEqual(batch[1].tokens, alone.tokens);
    assert.equal(batch[1].warning, undefined);
    assert.equal(batch[0].skippedSilent, 1);
  });
});
