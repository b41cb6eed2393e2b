/**
 * whisper.cpp (npm @napi-rs/whisper, a prebuilt dev dependency) on a ggml file, for the tests, the
 * benches and notebook 07 to set its output beside this project's: greedy, its full 30 s window,
 * the language forced, no timestamps (one clip of up to 30 s). Required lazily so that the library never loads it.
 */
import * as fs from 'fs';

export interface WhisperCppOptions {
  language?: string;
  threads?: number;
}

/** A transcriber: 16 kHz mono audio -> whisper.cpp's text (leading space trimmed). */
export function whisperCpp(ggmlFile: string, opts: WhisperCppOptions = {}): (audio: Float32Array) => string {
  const { Whisper, WhisperFullParams } = require('@napi-rs/whisper') as typeof import('@napi-rs/whisper');
  const w = new Whisper(fs.readFileSync(ggmlFile));
  const params = new WhisperFullParams(0); // greedy
  params.language = opts.language ?? 'en';
  params.nThreads = opts.threads ?? 1;
  params.printProgress = false;
  params.printRealtime = false;
  params.printTimestamps = false;
  // This project's transcribe of a clip: the prompt ends with <|notimestamps|> and openai's
  // suppress_tokens (the non-speech symbols) apply; whisper.cpp's defaults differ in both.
  params.noTimestamps = true;
  params.singleSegment = true;
  params.suppressNonSpeechTokens = true;
  // whisper.cpp returns nothing for less than 1 s of audio; Whisper pads every clip with zeros to
  // 30 s anyway, so zeros up to 1 s give both engines the same features.
  const minSamples = 16000 + 1600;
  return (audio) => {
    const input = audio.length >= minSamples ? audio : new Float32Array(minSamples);
    if (input !== audio) input.set(audio);
    return w.full(params, input).trim();
  };
}
