/**
 * Notebook 08 (timestamps and language after fine-tuning) runs headlessly with SMOKE=1, every cell
 * twice in one kernel: the base and both adapters transcribe the long recording, the timestamped
 * adapter's segment times increase and stay inside the audio, and the language table is filled.
 */
import { strict as assert } from 'assert';
import * as path from 'path';
import { runNotebook } from '../tools/notebook/runner';
import { PROJECT_ROOT } from '../tools/shared';

describe('notebook 08_timestamps (SMOKE=1, each cell run twice)', function () {
  this.timeout(1_800_000);

  it('long-form with base, <|notimestamps|> and timestamped adapters; language detection table', async () => {
    const r = await runNotebook(path.join(PROJECT_ROOT, 'notebooks', '08_timestamps.ipynb'),
      { outDir: path.join(PROJECT_ROOT, 'out', 'test', 'notebooks'), env: { SMOKE: '1' }, twice: true });
    for (const cells of r.runs) {
      const text = cells.join('\n');
      assert.match(text, /timestamped labels: 2 of 4/);
      assert.match(text, /\+ LoRA, timestampRatio 0\.5: WER [\d.]+ %, \d+ segments, times increasing true, inside true/);
      assert.match(text, /labels only: WER [\d.]+ %, \d+ segments/);
      assert.match(text, /detected right: base \d+, LoRA notimestamps \d+, LoRA timestamps \d+ of 4/);
    }
  });
});
