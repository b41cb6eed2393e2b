import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { runNotebook, RunResult } from '../src/notebook/runner';
import { PROJECT_ROOT } from '../src/shared';

const OUT = path.join(PROJECT_ROOT, 'out', 'test', 'notebooks');

describe('04_lora and 05_train notebooks (SMOKE=1)', () => {
  it('04_lora: PEFT parameter line, adapter files, exact round trip, merge, no leak', async () => {
    const r: RunResult = await runNotebook(path.join(PROJECT_ROOT, 'notebooks', '04_lora.ipynb'), { outDir: OUT, env: { SMOKE: '1' } });
    const out = r.runs[0].join('\n');
    assert.match(out, /trainable params: 884,736 \|\| all params: 242,619,648 \|\| trainable%: 0\.3647/);
    assert.match(out, /all parameters of whisper-tiny: 37,760,640/);
    assert.match(out, /"peft_type": "LORA"/);
    assert.match(out, /max difference after save -> load: 0\b/);
    assert.match(out, /tensors left: 0 /);
    const html = fs.readFileSync(r.html, 'utf8');
    assert.match(html, /base_model\.model\.model\.encoder\.layers\.0\.self_attn\.q_proj\.lora_A\.weight/);
  });

  it('05_train: trains with a live chart updated in place, saves the adapter', async () => {
    const r: RunResult = await runNotebook(path.join(PROJECT_ROOT, 'notebooks', '05_train.ipynb'), { outDir: OUT, env: { SMOKE: '1' } });
    const out = r.runs[0].join('\n');
    assert.match(out, /trained 2 steps/);
    assert.match(out, /adapter_model\.safetensors: [\d,]+ bytes/);
    assert.match(out, /tensors left: 0/);
    // The monitor's display was overwritten in place: one output holding the final state.
    const nb = JSON.parse(fs.readFileSync(r.ipynb, 'utf8'));
    const cell = nb.cells.find((c: { source: string[] }) => c.source.join('').includes('new TrainingMonitor'));
    const htmls = cell.outputs.filter((o: { data?: Record<string, unknown> }) => o.data?.['text/html']);
    assert.equal(htmls.length, 1, 'one live display, updated in place');
    const html = [htmls[0].data['text/html']].flat().join('');
    assert.match(html, /step 2\/2/);
    assert.match(html, /training loss/);
  });
});
