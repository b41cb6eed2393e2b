import * as fs from 'fs';
import { loadAudio } from '../src/audio/decode';
(async () => {
  const { Whisper, WhisperFullParams } = require('@napi-rs/whisper');
  const audio = await loadAudio('/work/shared/datasets/samples/jfk.flac');
  const t = process.argv[2];
  const w = new Whisper(fs.readFileSync(`/tmp/wt24/base-${t}.bin`));
  const p = new WhisperFullParams(0); p.language = 'en'; p.nThreads = 1; p.printProgress = false; p.printRealtime = false; p.printTimestamps = false;
  console.log(t, JSON.stringify(w.full(p, audio)));
})();
