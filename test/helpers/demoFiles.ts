/** Files the browser demo tests serve: jfk as a WAV and a small random adapter. */
import * as fs from 'fs';
import * as path from 'path';
import { encodeWav } from '../../src/audio/wav';
import { tf } from '../../src/backend';
import { getPeftModel, LoraConfig } from '../../src/lora';
import { WhisperForConditionalGeneration } from '../../src/model/whisper';
import { sharedDir } from '../../tools/shared';

/** jfk as a 16 kHz 16-bit WAV: the page (WebAudio) and Node decode it to the same samples. */
export function jfkWav(dir: string): string {
  const pcm = fs.readFileSync(sharedDir('reference', 'whisper-tiny', 'fixtures', 'jfk.pcm.f32'));
  const file = path.join(dir, 'jfk-16k.wav');
  fs.writeFileSync(file, encodeWav(new Float32Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength)), 16000));
  return file;
}

/** A small random LoRA adapter on q/v (B = 1e-3 noise: it nudges the logits, saved in PEFT layout). */
export async function savedAdapter(dir: string): Promise<string> {
  const base = await WhisperForConditionalGeneration.fromPretrained(sharedDir('models', 'whisper-tiny'));
  const peft = getPeftModel(base, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }), { seed: 5 });
  for (const [k, v] of peft.namedTrainableVariables()) if (k.includes('lora_B')) v.assign(tf.randomNormal(v.shape, 0, 1e-3, 'float32', 9));
  const out = path.join(dir, 'adapter');
  peft.saveAdapter(out);
  peft.dispose();
  base.dispose();
  return out;
}
