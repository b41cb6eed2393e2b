/** writeTxtPairs: a dataset laid out as NAME.wav + NAME.txt, read back by loadTxtPairs. */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AudioDataset, loadCommonVoice, loadTxtPairs, writeTxtPairs } from '../src/data';
import { sharedDir } from '../tools/shared';

describe('data: writeTxtPairs (folder of wav + txt)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-folder-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes 16 kHz WAV + transcript pairs that loadTxtPairs reads back; a re-run changes nothing', async () => {
    const br = (await loadCommonVoice(sharedDir('datasets', 'commonvoice-sample', 'br'))).select([0, 1, 2]);
    const r = await writeTxtPairs(br, dir);
    assert.equal(r.written, 6);
    assert.equal(r.unchanged, 0);
    assert.deepEqual(r.names, br.rows.map((row) => path.basename(String(row.audio), '.mp3')));
    const back = await loadTxtPairs(dir);
    assert.equal(back.length, 3);
    assert.equal(back.report.problems.length, 0);
    for (let i = 0; i < 3; i++) {
      const j = back.rows.findIndex((row) => row.id === r.names[i]);
      assert.equal(back.get(j).text, br.get(i).text.trim());
      const [a, b] = [await br.audio(i), await back.audio(j)];
      assert.equal(b.length, a.length);
      // 16-bit PCM: every sample within one quantization step
      let worst = 0;
      for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]));
      assert.ok(worst <= 1 / 32767, `max difference ${worst}`);
    }
    const wav = fs.readFileSync(path.join(dir, `${r.names[0]}.wav`));
    assert.equal(wav.readUInt32LE(24), 16000);
    assert.equal(wav.readUInt16LE(34), 16);

    const mtime = fs.statSync(path.join(dir, `${r.names[0]}.wav`)).mtimeMs;
    fs.writeFileSync(path.join(dir, 'my_own.txt'), 'mine\n');
    const again = await writeTxtPairs(br, dir);
    assert.equal(again.written, 0);
    assert.equal(again.unchanged, 6);
    assert.equal(fs.statSync(path.join(dir, `${r.names[0]}.wav`)).mtimeMs, mtime);
    assert.deepEqual(again.others, ['my_own']);
    assert.ok(fs.existsSync(path.join(dir, 'my_own.txt')), 'a file the writer did not make is kept');
  });

  it('repeated names get a suffix; undecodable audio and empty transcripts are reported, not fatal', async () => {
    const fsdd = sharedDir('datasets', 'fsdd-digits', 'audios');
    const notAudio = path.join(dir, 'notes.md');
    fs.writeFileSync(notAudio, 'not audio');
    const ds = new AudioDataset([
      { audio: path.join(fsdd, '3_jackson_0.wav'), text: 'three' },
      { audio: path.join(fsdd, '3_jackson_0.wav'), text: 'three again' },
      { audio: notAudio, text: 'broken' },
      { audio: path.join(fsdd, '5_nicolas_1.wav'), text: '  ' },
    ]);
    const out = path.join(dir, 'out');
    const r = await writeTxtPairs(ds, out);
    assert.deepEqual(r.names, ['3_jackson_0', '3_jackson_0-2']);
    assert.equal(r.report.kept, 2);
    assert.deepEqual(r.report.problems.map((p) => [p.row, p.field]), [[3, 'audio'], [4, 'text']]);
    assert.match(r.report.problems[0].reason, /notes\.md|decode/i);
    assert.equal(fs.readFileSync(path.join(out, '3_jackson_0-2.txt'), 'utf8'), 'three again\n');
  });
});
