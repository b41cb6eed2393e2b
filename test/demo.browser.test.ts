/**
 * The demo's "run in this browser" mode in headless Chromium: the page loads the bundled library
 * (browser/whisper.js), fetches whisper-tiny and a PEFT adapter from the demo server, and
 * transcribes jfk with the adapter on its own backend (WebGL on SwiftShader here, about 1 GFLOP/s).
 * Its tokens must equal Node's for the same samples; so must a merged folder that exportModel wrote.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { decodeAudio } from '../src/audio/decode';
import { initBackend } from '../src/backend';
import { startDemo, DemoHandle } from '../apps/demo/server';
import { createTranscriber, DemoTranscriber } from '../apps/demo/transcriber';
import { exportModel } from '../src/export/export';
import { sharedDir } from '../tools/shared';
import { launchChromium } from './helpers/browser';
import { jfkWav, savedAdapter } from './helpers/demoFiles';

describe('demo: run in this browser (headless Chromium)', function () {
  this.timeout(30 * 60_000);
  let transcriber: DemoTranscriber;
  let demo: DemoHandle;
  let browser: Browser;
  let wav: string;

  before(async () => {
    await initBackend();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-browser-'));
    wav = jfkWav(dir);
    transcriber = await createTranscriber({ model: sharedDir('models', 'whisper-tiny'), adapter: await savedAdapter(dir) });
    demo = await startDemo({ transcriber });
    browser = await launchChromium(['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-angle=swiftshader']);
  });

  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('serves the bundle, the checkpoint\'s and the adapter\'s files, and nothing else', async () => {
    const info = await (await fetch(new URL('api/info', demo.url))).json();
    assert.deepEqual(info.browser, { model: 'model/', adapter: 'adapter/', wasm: 'browser/wasm/', language: null });
    const status = async (p: string) => (await fetch(new URL(p, demo.url))).status;
    assert.equal(await status('browser/whisper.js'), 200);
    for (const ok of ['model/config.json', 'model/model.safetensors', 'adapter/adapter_model.safetensors', 'browser/wasm/tfjs-backend-wasm-simd.wasm']) {
      assert.equal(await status(ok), 200, ok);
    }
    for (const no of ['model/../config.json', 'model/%2e%2e/package.json', 'model/README.md', 'adapter/config.json', 'browser/wasm/x.js', 'model/']) {
      assert.equal(await status(no), 404, no);
    }
  });

  it('picks the page\'s backend: software WebGPU and WebGL are passed over with the reason, then wasm', async () => {
    const page = await browser.newPage();
    await page.goto(demo.url);
    await page.addScriptTag({ url: 'browser/whisper.js' });
    const report = await page.evaluate(() => (globalThis as any).WhisperInPage.initBrowserBackend({ wasmPaths: new URL('browser/wasm/', location.href).href }));
    assert.equal(report.active, 'wasm');
    assert.match(report.skipped.webgpu, /only a software adapter \(google \/ swiftshader/);
    assert.match(report.skipped.webgl, /software renderer \(.*SwiftShader/);
    await page.close();
  });

  it('transcribes jfk in the page (model + adapter over HTTP, WebGL) with the same tokens as Node', async () => {
    const samples = await decodeAudio(fs.readFileSync(wav), 'jfk-16k.wav', 16000);
    const node = await transcriber.transcribe(samples, 'adapter');
    const page = await transcribeInPage(browser, `${demo.url}?backend=webgl`, wav, 'adapter');
    console.log(`      ${page.timing}\n      ${page.text}`);
    assert.match(page.timing, /in this browser \(backend: webgl on .*SwiftShader.*\(forced by the page\)/);
    assert.deepEqual(page.tokens, node.segments.flatMap((s) => s.tokens));
    assert.equal(page.text.trim(), node.text);
  });

  it('loads a merged folder written by exportModel (npm run export --format safetensors) like a checkpoint: same tokens as Node (wasm)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-export-'));
    const merged = await exportModel({ model: sharedDir('models', 'whisper-tiny'), adapter: await savedAdapter(dir), format: 'safetensors', out: path.join(dir, 'merged') });
    const own = await createTranscriber({ model: merged });
    const server = await startDemo({ transcriber: own });
    try {
      const node = await own.transcribe(await decodeAudio(fs.readFileSync(wav), 'jfk-16k.wav', 16000), 'base');
      const page = await transcribeInPage(browser, server.url, wav, 'base');
      assert.match(page.timing, /in this browser \(backend: wasm/);
      assert.deepEqual(page.tokens, node.segments.flatMap((s) => s.tokens));
      assert.match(node.text, /ask not what your country can do for you/i);
    } finally {
      await server.close();
    }
  });
});

/** The page's "run in this browser" mode on one file: its tokens, transcript and timing line. */
async function transcribeInPage(browser: Browser, url: string, wav: string, variant: 'base' | 'adapter') {
  const page = await browser.newPage();
  page.setDefaultTimeout(25 * 60_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('#where-choice:not([hidden])');
  await page.check('input[name=where][value=browser]');
  if (variant === 'adapter') await page.check('input[name=variant][value=adapter]'); // shown only when the server has an adapter
  await page.setInputFiles('#file', wav);
  await page.click('#upload');
  await page.waitForSelector('#transcript[data-state=done], #transcript[data-state=error]');
  const error = await page.textContent('#error');
  assert.equal(error, '', `page error: ${error} ${errors.join('; ')}`);
  const out = { tokens: JSON.parse((await page.getAttribute('#transcript', 'data-tokens'))!) as number[],
    text: (await page.textContent('#transcript'))!, timing: (await page.textContent('#timing'))! };
  await page.close();
  return out;
}
