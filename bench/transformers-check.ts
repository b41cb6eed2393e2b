/**
 * Issue 24 item 2: does Python transformers load a merged folder written by `exportModel` and
 * compute the logits this project computes with base + adapter? This side writes the folder and
 * what this project computes on samples/jfk.flac; bench/transformers_check.py compares.
 *
 *   [MODEL=DIR] [ADAPTER=DIR] [OUT=DIR] npx tsx bench/transformers-check.ts
 *   python bench/transformers_check.py DIR          (a Python with torch + transformers)
 *
 * MODEL: default the shared whisper-tiny; OUT: default out/transformers-check.
 *
 * DIR/merged/: the exported folder; DIR/pcm.f32 (16 kHz), DIR/features.f32 (80 x 3000 log-Mel),
 * DIR/logits.f32 (tokens x vocab, float32) for DIR/case.json's prompt + tokens, and our transcript.
 */
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, tf } from '../src/backend';
import { loadAudio } from '../src/audio';
import { exportModel } from '../src/export';
import { PeftModel } from '../src/lora';
import { loadWhisper, transcribeAudio } from '../src/model';
import { sotSequence } from '../src/tokenizer/special';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';

async function main() {
  const model = process.env.MODEL ?? sharedDir('models', 'whisper-tiny');
  const adapter = process.env.ADAPTER || undefined;
  const out = process.env.OUT ?? path.join(PROJECT_ROOT, 'out', 'transformers-check');
  await initBackend();
  fs.mkdirSync(out, { recursive: true });
  await exportModel({ model, adapter, format: 'safetensors', out: path.join(out, 'merged') });

  const pipe = await loadWhisper(model);
  if (adapter) PeftModel.fromPretrained(pipe.model, adapter);   // not merged: base + adapter branch
  const sp = pipe.model.specialTokens;
  const audio = await loadAudio(sharedDir('datasets', 'samples', 'jfk.flac'));
  const text = ' And so my fellow Americans, ask not what your country can do for you';
  const tokens = [...sotSequence(sp, { language: 'en', task: 'transcribe', timestamps: false }), ...pipe.tokenizer.encode(text)];
  const features = pipe.featureExtractor.call([audio]);
  const logits = tf.tidy(() => pipe.model.forward(features, tf.tensor2d([tokens], [1, tokens.length], 'int32')));
  fs.writeFileSync(path.join(out, 'pcm.f32'), Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength));
  fs.writeFileSync(path.join(out, 'features.f32'), Buffer.from((await features.data() as Float32Array).buffer));
  fs.writeFileSync(path.join(out, 'logits.f32'), Buffer.from((await logits.data() as Float32Array).buffer));
  const transcript = (await transcribeAudio(pipe, audio, { language: 'en' })).text;
  fs.writeFileSync(path.join(out, 'case.json'), JSON.stringify({ model, adapter: adapter ?? null, text, tokens,
    textTokens: pipe.tokenizer.encode(text), vocab: logits.shape[2], transcript }, null, 1));
  tf.dispose([features, logits]);
  console.log(`wrote ${out}: merged/, ${tokens.length} tokens' logits, transcript: ${transcript}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
