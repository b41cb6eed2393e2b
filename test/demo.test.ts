/**
 * The live demo end to end: a real server with the real model, driven by headless Chromium whose
 * fake microphone plays jfk.flac, plus the upload error paths. Screenshots go to out/test/.
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { startDemo, DemoHandle } from '../apps/demo/server';
import { createTranscriber, DemoTranscriber } from '../apps/demo/transcriber';
import { getNormalizer } from '../src/text';
import { tf } from '../src/backend';
import { getPeftModel, LoraConfig } from '../src/lora';
import { WhisperForConditionalGeneration } from '../src/model/whisper';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { WhisperFeatureExtractor } from '../src/features/logmel';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';
import { launchChromium } from './helpers/browser';

const OUT = path.join(PROJECT_ROOT, 'out', 'test');
const JFK = 'ask not what your country can do for you';

/** Chromium's fake capture device wants 16-bit PCM WAV; 48 kHz is its native rate. */
function fakeMicWav(): string {
  fs.mkdirSync(OUT, { recursive: true });
  const wav = path.join(OUT, 'jfk-48k-s16.wav');
  execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-i', sharedDir('datasets', 'samples', 'jfk.flac'),
    '-ac', '1', '-ar', '48000', '-c:a', 'pcm_s16le', wav]);
  return wav;
}

describe('live demo (server + page in headless Chromium)', function () {
  let transcriber: DemoTranscriber;
  let demo: DemoHandle;
  let browser: Browser;

  before(async function () {
    const wav = fakeMicWav();
    transcriber = await createTranscriber({ model: sharedDir('models', 'whisper-tiny') });
    demo = await startDemo({ transcriber });
    browser = await launchChromium(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`]);
  });

  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('listens on 127.0.0.1 and reports the model, without an adapter choice', async () => {
    assert.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const info = await (await fetch(new URL('api/info', demo.url))).json();
    assert.equal(info.model, 'whisper-tiny');
    assert.equal(info.adapter, null);
  });

  it('records from the (fake) microphone and shows the jfk transcript and its timing', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(120_000); // generous: CI machines may be shared and slow
    await page.goto(demo.url);
    assert.equal(await page.isVisible('#model-choice'), false);
    await page.click('#record', { noWaitAfter: true });
    // The fake device plays the 11 s file in a loop: record one full pass.
    await page.waitForFunction(() => /recording… (1[2-9]|[2-9]\d) s/.test(document.getElementById('status')!.textContent!), null, { timeout: 90_000 });
    await page.click('#stop', { noWaitAfter: true });
    await page.waitForSelector('#transcript[data-state="done"], #transcript[data-state="error"]', { timeout: 480_000 });
    const text = await page.textContent('#transcript');
    const error = await page.textContent('#error');
    const timing = await page.textContent('#timing');
    await page.screenshot({ path: path.join(OUT, 'demo.png'), fullPage: true });
    console.log(`      transcript: ${text}\n      ${timing}`);
    assert.equal(error, '');
    assert.ok(getNormalizer('english', { normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') })(text ?? '').includes(JFK), `transcript "${text}" lacks "${JFK}"`);
    assert.match(timing ?? '', /s of audio transcribed in [\d.]+ s by base/);
    await page.close();
  });

  it('shows a clear error for an uploaded text file', async () => {
    const page = await browser.newPage();
    await page.goto(demo.url);
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('these are not sounds\n'.repeat(50)) });
    await page.click('#upload');
    await page.waitForSelector('#transcript[data-state="error"]', { timeout: 30_000 });
    const error = await page.textContent('#error');
    await page.screenshot({ path: path.join(OUT, 'demo-error.png'), fullPage: true });
    assert.match(error ?? '', /notes\.txt: cannot decode audio/);
    assert.equal(await page.textContent('#transcript'), '');
    await page.close();
  });

  it('answers 413 with a message for a body over the limit, 400 for an empty one', async () => {
    const big = await fetch(new URL('api/transcribe', demo.url), { method: 'POST', body: new Uint8Array(26 * 1024 * 1024) });
    assert.equal(big.status, 413);
    assert.match((await big.json()).error, /too large \(26\.0 MB\): the limit is 25\.0 MB/);
    const empty = await fetch(new URL('api/transcribe', demo.url), { method: 'POST', body: new Uint8Array(0) });
    assert.equal(empty.status, 400);
    assert.match((await empty.json()).error, /empty/);
    const adapter = await fetch(new URL('api/transcribe?variant=adapter', demo.url), { method: 'POST', body: new Uint8Array(10) });
    assert.equal(adapter.status, 400);
    assert.match((await adapter.json()).error, /without --adapter/);
  });
});

describe('live demo with a LoRA adapter (base vs base + adapter)', function () {
  let demo: DemoHandle;
  let model: WhisperForConditionalGeneration;
  let tmp: string;

  before(async () => {
    const dir = sharedDir('models', 'whisper-tiny');
    // A deliberately harmful adapter (random B), on private model copies so the shared cached model
    // other tests use never gets LoRA branches attached.
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-adapter-'));
    const adapterDir = path.join(tmp, 'noisy-adapter');
    const donor = await WhisperForConditionalGeneration.fromPretrained(dir);
    const peft = getPeftModel(donor, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }));
    for (const l of peft.loraLayers.values()) {
      const w = l.adapters.get('default')!;
      w.loraB.assign(tf.randomNormal(w.loraB.shape, 0, 0.5, 'float32', 7) as tf.Tensor2D);
    }
    peft.saveAdapter(adapterDir);
    peft.dispose();
    donor.dispose();
    model = await WhisperForConditionalGeneration.fromPretrained(dir);
    const tokenizer = await WhisperTokenizer.fromPretrained(dir);
    // jfk needs 27 tokens; the noisy adapter would babble up to the default 224 (minutes on a busy CPU).
    const transcriber = await createTranscriber({ loaded: { model, tokenizer, featureExtractor: WhisperFeatureExtractor.fromPretrained(dir) }, adapter: adapterDir, maxNewTokens: 40 });
    demo = await startDemo({ transcriber });
  });

  after(async () => {
    await demo?.close();
    model?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('offers the choice on the page and switches the adapter per request', async () => {
    const info = await (await fetch(new URL('api/info', demo.url))).json();
    assert.equal(info.adapter, 'noisy-adapter');
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(demo.url);
      await page.waitForSelector('#model-choice', { state: 'visible', timeout: 10_000 });
      assert.match((await page.textContent('#model-choice')) ?? '', /base \+ adapter \(noisy-adapter\)/);
      await page.screenshot({ path: path.join(OUT, 'demo-adapter.png'), fullPage: true });
    } finally {
      await browser.close();
    }
    const flac = fs.readFileSync(sharedDir('datasets', 'samples', 'jfk.flac'));
    const post = async (variant: string) => (await fetch(new URL(`api/transcribe?variant=${variant}`, demo.url),
      { method: 'POST', body: flac, headers: { 'X-File-Name': 'jfk.flac' } })).json();
    const base = await post('base');
    const adapted = await post('adapter');
    const again = await post('base');
    console.log(`      base: ${base.text}\n      adapter: ${adapted.text}`);
    assert.ok(getNormalizer('english', { normalizerJson: sharedDir('models', 'whisper-tiny', 'normalizer.json') })(base.text).includes(JFK), base.text);
    assert.equal(adapted.variant, 'adapter');
    assert.notEqual(adapted.text, base.text); // the noisy adapter really is applied...
    assert.equal(again.text, base.text); // ...and really switched off again
  });
});

describe('demo server upload limit without Content-Length', () => {
  it('answers 413 mid-way through a chunked upload, and the client reads it', async () => {
    const demo = await startDemo({
      maxBytes: 1024 * 1024,
      transcriber: { modelName: 'none', transcribe: () => Promise.reject(new Error('must not be called')) },
    });
    try {
      const body = new ReadableStream({
        start(c) {
          for (let i = 0; i < 3; i++) c.enqueue(new Uint8Array(1024 * 1024));
          c.close();
        },
      });
      const r = await fetch(new URL('api/transcribe', demo.url), { method: 'POST', body, duplex: 'half' } as RequestInit);
      assert.equal(r.status, 413);
      assert.match((await r.json()).error, /too large: the limit is 1\.0 MB/);
    } finally {
      await demo.close();
    }
  });
});
