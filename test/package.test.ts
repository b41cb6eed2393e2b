/**
 * The package as another project uses it: `require('whisper-finetune-ts')` resolves `main` (the
 * built dist/src/index.js) and gives the library's API under its Hugging Face names.
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildLibrary } from '../tools/notebook/runner';
import { PROJECT_ROOT } from '../tools/shared';

const API = ['WhisperForConditionalGeneration', 'WhisperTokenizer', 'WhisperFeatureExtractor', 'WhisperConfig', 'LoraConfig',
  'PeftModel', 'getPeftModel', 'Seq2SeqTrainer', 'seq2SeqTrainingArguments', 'DataCollatorSpeechSeq2SeqWithPadding',
  'loadDataset', 'loadCsvDataset', 'prepareDataset', 'loadAudio', 'transcribe', 'transcribeAudio', 'wer', 'evaluate', 'initBackend'];

describe('package: the one public entry point', () => {
  it("require('whisper-finetune-ts') from a sibling project gives the API; main and types exist", function () {
    this.timeout(300_000);
    buildLibrary();
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
    assert.ok(fs.existsSync(path.join(PROJECT_ROOT, pkg.main)), `main ${pkg.main} is missing after the build`);
    assert.ok(fs.existsSync(path.join(PROJECT_ROOT, pkg.types)), `types ${pkg.types} is missing after the build`);
    // A sibling project with the package linked into its node_modules, as `npm install ../whisper-finetune-ts` does.
    const sibling = fs.mkdtempSync(path.join(os.tmpdir(), 'sibling-'));
    fs.mkdirSync(path.join(sibling, 'node_modules'));
    fs.symlinkSync(PROJECT_ROOT, path.join(sibling, 'node_modules', pkg.name), 'dir');
    const script = `const w = require(${JSON.stringify(pkg.name)}); console.log(JSON.stringify(${JSON.stringify(API)}.map((n) => [n, typeof w[n]])))`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: sibling, encoding: 'utf8' });
    const types = JSON.parse(out.trim().split('\n').pop()!) as [string, string][];
    assert.deepEqual(types.filter(([, t]) => t !== 'function').map(([n]) => n), [], 'exports that are missing');
    fs.rmSync(sibling, { recursive: true, force: true });
  });
});
