/**
 * Runs one job on the backend WHISPER_BACKEND names and prints its results as one JSON line, for
 * comparing backends in separate processes (test/webgpu.test.ts; one backend per process).
 *
 *   tsx test/helpers/backendRun.ts small   a small random Whisper: logits of a padded batch of 2,
 *                                          one LoRA training step's loss and gradients, and 2
 *                                          Seq2SeqTrainer steps with a checkpoint, an evaluation
 *                                          and the saved adapter
 *   tsx test/helpers/backendRun.ts jfk     whisper-tiny transcribes jfk in fast mode (trimPadding)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import seedrandom from 'seedrandom';
import { initBackend, describeBackend, tf } from '../../src/backend';
import { DataCollatorSpeechSeq2SeqWithPadding } from '../../src/data/collator';
import { LoraConfig } from '../../src/lora/config';
import { getPeftModel } from '../../src/lora/peft';
import { readSafetensorsFile } from '../../src/model/safetensors';
import { WhisperConfig } from '../../src/model/config';
import { loadWhisper } from '../../src/model/pipeline';
import { transcribe } from '../../src/model/transcribe';
import { sharedDir } from '../../tools/shared';
import { lossAndGradients, microBatch } from '../../src/train/step';
import { Seq2SeqTrainer, seq2SeqTrainingArguments } from '../../src/train';
import { randomModel } from '../lora.helpers';

/** d=64, 2+2 layers, 4 heads, 120 frames: every attention path (many and few queries, masks, batch rows). */
export function smallConfig(): WhisperConfig {
  return WhisperConfig.fromJSON({
    d_model: 64, encoder_layers: 2, decoder_layers: 2, encoder_attention_heads: 4, decoder_attention_heads: 4,
    encoder_ffn_dim: 128, decoder_ffn_dim: 128, num_mel_bins: 16, vocab_size: 300, max_source_positions: 60,
    max_target_positions: 40, decoder_start_token_id: 1, eos_token_id: 2, pad_token_id: 2, bos_token_id: 2,
  }, 'small-test-config');
}

const smallModel = () => randomModel(smallConfig(), 'small', 0.2, 0.2);

async function small(): Promise<object> {
  const c = smallConfig();
  const model = smallModel();
  const rng = seedrandom('inputs');
  const data = [5, 9].map((len, i) => ({
    id: `ex${i}`,
    inputFeatures: Float32Array.from({ length: c.numMelBins * c.nFrames }, () => rng() * 2 - 1),
    labels: [1, ...Array.from({ length: len }, () => 3 + Math.floor(rng() * 290)), 2],
  }));
  const feats = tf.tensor3d(Float32Array.from(data.flatMap((d) => [...d.inputFeatures])), [2, c.numMelBins, c.nFrames]);
  const ids = tf.tensor2d(data.map((d) => d.labels.slice(0, 6)), [2, 6], 'int32');
  const logits = model.forward(feats, ids);
  const out = { logits: Array.from(await logits.data()) };
  tf.dispose([feats, ids, logits]);

  const peft = getPeftModel(model, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'] }), { seed: 3 });
  // B starts at zero; random B makes every A gradient non-zero too.
  const vrng = seedrandom('lora');
  for (const v of peft.trainableVariables()) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => (vrng() * 2 - 1) * 0.1), v.shape));
  const collator = new DataCollatorSpeechSeq2SeqWithPadding({ decoderStartTokenId: 1, padTokenId: 2, nMels: c.numMelBins });
  const { loss, grads } = await lossAndGradients(peft, microBatch(data, collator, null), 1);
  const g: Record<string, number[]> = {};
  for (const [k, t] of grads) g[k] = Array.from(await t.data());
  tf.dispose([...grads.values()]);

  const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-run-'));
  const trainer = new Seq2SeqTrainer({
    model: peft,
    args: seq2SeqTrainingArguments({ outputDir, maxSteps: 2, perDeviceTrainBatchSize: 2, learningRate: 1e-3, loggingSteps: 1,
      saveStrategy: 'steps', saveSteps: 1, evalStrategy: 'steps', evalSteps: 2 }),
    trainDataset: data,
    evalDataset: data,
  });
  await trainer.train();
  trainer.saveModel(path.join(outputDir, 'final'));
  const log = fs.readFileSync(path.join(outputDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const adapter = readSafetensorsFile(path.join(outputDir, 'final', 'adapter_model.safetensors'));
  const checkpoints = fs.readdirSync(outputDir).filter((d) => d.startsWith('checkpoint-')).sort();
  trainer.dispose();
  peft.dispose();
  fs.rmSync(outputDir, { recursive: true, force: true });
  return {
    ...out, loss, grads: g,
    trainer: {
      losses: log.filter((e) => e.loss !== undefined).map((e) => e.loss),
      eval: log.find((e) => e.eval_loss !== undefined),
      checkpoints,
      adapter: Object.fromEntries([...adapter].map(([k, t]) => [k, Array.from(t.data)])),
    },
  };
}

async function jfk(): Promise<object> {
  const pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
  const pcm = fs.readFileSync(sharedDir('reference', 'whisper-tiny', 'fixtures', 'jfk.pcm.f32'));
  const audio = new Float32Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength));
  const t0 = Date.now();
  const [r] = await transcribe(pipe, audio, { language: 'en', trimPadding: true });
  return { text: r.text, tokens: r.tokens, seconds: (Date.now() - t0) / 1000 };
}

(async () => {
  const report = await initBackend();
  const job = process.argv[2];
  const result = job === 'small' ? await small() : job === 'jfk' ? await jfk() : undefined;
  if (!result) throw new Error(`backendRun: unknown job '${job}' (small, jfk)`);
  console.log(JSON.stringify({ backend: describeBackend(report), ...result }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
