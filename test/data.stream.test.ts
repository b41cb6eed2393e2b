/** Streaming a generated 10,000-row manifest decodes every clip with bounded memory. */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { streamDataset } from '../src/data';
import { sharedDir } from '../tools/shared';

describe('streaming datasets', () => {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-stream-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('10,000 JSONL rows: every clip decoded once, RSS growth under 200 MB, bad rows reported', async function () {
    this.timeout(240_000);
    const N = 10_000;
    // Short 16 kHz clips: no resampling, so the test measures streaming, not the resampler.
    const src = sharedDir('datasets', 'pocketsphinx-testdata');
    const clips = ['001.wav', '002.wav', '003.wav', '004.wav', '005.wav', 'goforward.wav'];
    const manifest = path.join(tmp, 'big.jsonl');
    const out = fs.createWriteStream(manifest);
    for (let i = 0; i < N; i++) {
      const clip = clips[i % clips.length];
      // Row 5000 points at a missing file, row 7000 is broken JSON: both must be reported, not fatal.
      const audio = i === 4999 ? 'missing.wav' : path.join(src, clip);
      const line = JSON.stringify({ audio, text: `${clip} copy ${i}`, index: i });
      out.write((i === 6999 ? line.slice(0, 20) : line) + '\n');
    }
    await new Promise((r) => out.end(r));

    const ds = await streamDataset(manifest);
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    let n = 0;
    let samples = 0;
    let lastIndex = -1;
    for await (const ex of ds) {
      n++;
      samples += ex.audio.array.length;
      assert.ok((ex.index as number) > lastIndex);
      lastIndex = ex.index as number;
      if (n % 500 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const growthMb = (peak - base) / 2 ** 20;
    // Held at once, the decoded audio alone would be samples * 4 bytes.
    const allMb = (samples * 4) / 2 ** 20;
    console.log(`      streamed ${n} rows, ${(samples / 16000 / 3600).toFixed(2)} h of audio (${allMb.toFixed(0)} MB decoded), RSS growth ${growthMb.toFixed(1)} MB`);
    assert.equal(n, N - 2);
    assert.ok(allMb > 400, `test must decode more than it may hold (${allMb} MB)`);
    assert.ok(growthMb < 200, `RSS grew by ${growthMb.toFixed(1)} MB`);
    assert.deepEqual(ds.report.problems.map((p) => [p.row, p.field]), [[5000, 'audio'], [7000, 'json']]);
    assert.equal(ds.report.kept, N - 2);
  });

  it('map / filter / take run lazily over a CSV manifest', async () => {
    const ds = await streamDataset(sharedDir('datasets', 'fsdd-digits', 'dataset.csv'));
    const seen: string[] = [];
    for await (const row of ds.filter((r) => r.text === 'seven').map((r) => ({ ...r, text: r.text.toUpperCase() })).take(3).rows()) {
      seen.push(`${path.basename(row.audio as string)}:${row.text}`);
    }
    assert.deepEqual(seen, ['7_george_0.wav:SEVEN', '7_george_1.wav:SEVEN', '7_george_10.wav:SEVEN']);
    const first = [];
    for await (const ex of ds.skip(1).take(2)) first.push(ex);
    assert.equal(first.length, 2);
    assert.equal(first[0].text, 'zero');
    assert.equal(first[0].audio.samplingRate, 16000);
    assert.ok(first[0].audio.array.length > 2000);
  });
});
