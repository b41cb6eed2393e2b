/**
 * Child process for the memory tests: decodes one file and prints, as one JSON line, what came
 * out and the peak resident memory of the whole process (process.resourceUsage().maxRSS).
 *   node -r tsx/cjs test/helpers/decodeRss.ts '{"file": "...", "mode": "decode"|"stream"|"none", "maxSeconds": 600}'
 */
import * as fs from 'fs';
import { decodeAudio } from '../../src/audio/decode';
import { openAudioStream } from '../../src/audio/stream';

async function main() {
  const { file, mode, maxSeconds } = JSON.parse(process.argv[2]) as { file: string; mode: string; maxSeconds?: number };
  const t0 = performance.now();
  let samples = 0;
  let chunks = 0;
  let error: string | undefined;
  try {
    if (mode === 'decode') {
      samples = (await decodeAudio(fs.readFileSync(file), file, 16000, 'best', maxSeconds ? { maxSeconds } : {})).length;
    } else if (mode === 'stream') {
      for await (const c of openAudioStream(file, maxSeconds ? { maxSeconds } : {})) {
        samples += c.length;
        chunks += 1;
      }
    }
  } catch (e) {
    error = (e as Error).message;
  }
  const rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ samples, chunks, error, rssMb: Math.round(rssMb), seconds: (performance.now() - t0) / 1000 }));
}

main();
