/**
 * The demo's "run in this browser" mode loads a merged folder written by exportModel
 * (`npm run export -- --format safetensors`) over HTTP like any checkpoint, and transcribes jfk in
 * headless Chromium (wasm) with the tokens Node gets from the same folder.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { decodeAudio } from '../src/audio/decode';
import { initBackend } from '../src/backend';
import { exportModel } from '../src/export/export';
import { startDemo, DemoHandle } from '../apps/demo/server';
import { createTranscriber, DemoTranscriber } from '../apps/demo/transcriber';
import { sharedDir } from '../tools/shared';
import { launchChromium } from './helpers/browser';
import { jfkWav, savedAdapter } from './helpers/demoFiles';

describe('demo: an exported merged model in the browser (headless Chromium)', function () {
  this.timeout(30 * 60_000);
  let transcriber: DemoTranscriber;
  let demo: DemoHandle;
  let browser: Browser;
  let wav: string;

  before(async () => {
    await initBackend();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-export-'));
    wav = jfkWav(dir);
    const merged = await exportModel({ model: sharedDir('models', 'whisper-tiny'), adapter: await savedAdapter(dir), format: 'safetensors', out: path.join(dir, 'merged') });
    transcriber = await createTranscriber({ model: merged });
    demo = await startDemo({ transcriber });
    browser = await launchChromium([]);
  });

  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('fetches the merged folder\'s files and transcribes jfk with the same tokens as Node', async () => {
    const samples = await decodeAudio(fs.readFileSync(wav), 'jfk-16k.wav', 16000);
    const node = await transcriber.transcribe(samples, 'base');
    const page = await browser.newPage();
    page.setDefaultTimeout(25 * 60_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(demo.url);
    await page.waitForSelector('#where-choice:not([hidden])');
    await page.check('input[name=where][value=browser]');
    await page.setInputFiles('#file', wav);
    await page.click('#upload');
    await page.waitForSelector('#transcript[data-state=done], #transcript[data-state=error]');
    assert.equal(await page.textContent('#error'), '', errors.join('; '));
    const tokens = JSON.parse((await page.getAttribute('#transcript', 'data-tokens'))!);
    assert.deepEqual(tokens, node.segments.flatMap((s) => s.tokens));
    assert.match(node.text, /ask not what your country can do for you/i);
    await page.close();
  });
});
