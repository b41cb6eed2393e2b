/**
 * A LoRA adapter on whisper-tiny that a test trains in about a minute: decoder q/v only (the
 * encoder output is cached), on jfk and librispeech-mini train clips with their upper-case,
 * unpunctuated transcripts, so its output differs visibly from the base (upper case, no commas).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAudio } from '../../src/audio/decode';
import { WhisperFeatureExtractor } from '../../src/features/logmel';
import { getPeftModel, LoraConfig } from '../../src/lora';
import { WhisperForConditionalGeneration } from '../../src/model/whisper';
import { Seq2SeqTrainer, seq2SeqTrainingArguments } from '../../src/train';
import { WhisperTokenizer } from '../../src/tokenizer/whisper';
import { sharedDir } from '../../tools/shared';
import type { PreparedRow } from '../../src/data';

export const JFK_UPPER = 'AND SO MY FELLOW AMERICANS ASK NOT WHAT YOUR COUNTRY CAN DO FOR YOU ASK WHAT YOU CAN DO FOR YOUR COUNTRY';

/** Trains the adapter and saves it in `out` (PEFT layout); returns `out`. */
export async function trainQuickAdapter(out: string, steps = 12): Promise<string> {
  const dir = sharedDir('models', 'whisper-tiny');
  const tok = await WhisperTokenizer.fromPretrained(dir);
  const fe = WhisperFeatureExtractor.fromPretrained(dir);
  const split = sharedDir('datasets', 'librispeech-mini', 'train');
  const clips: [string, string][] = [[sharedDir('datasets', 'samples', 'jfk.flac'), JFK_UPPER],
    ...fs.readFileSync(path.join(split, 'metadata.csv'), 'utf8').trim().split('\n').slice(1, 4)
      .map((row) => row.split(',')).map(([file, text]) => [path.join(split, file), text] as [string, string])];
  const data: PreparedRow[] = [];
  for (const [file, text] of clips) {
    data.push({ inputFeatures: fe.extract(await loadAudio(file)), labels: [...tok.prefixTokens({ language: 'en' }), ...tok.encode(' ' + text), tok.eot] });
  }
  const model = await WhisperForConditionalGeneration.fromPretrained(dir);
  const peft = getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: '.*decoder.*(q_proj|v_proj)', baseModelNameOrPath: dir }), { seed: 1 });
  const trainer = new Seq2SeqTrainer({
    model: peft, trainDataset: data,
    args: seq2SeqTrainingArguments({ outputDir: fs.mkdtempSync(path.join(os.tmpdir(), 'quick-adapter-')), perDeviceTrainBatchSize: 4,
      learningRate: 3e-3, warmupSteps: 0, maxSteps: steps, saveStrategy: 'no', loggingSteps: 4, seed: 1 }),
  });
  await trainer.train();
  peft.saveAdapter(out);
  trainer.dispose();
  model.dispose();
  return out;
}
