/** Whisper's tokenizer and language table. */
export { WhisperTokenizer, TIME_PRECISION } from './whisper';
export type { WhisperTask, PrefixOptions, DecodeOptions, LanguageInfo } from './whisper';
export { LANGUAGES, LANGUAGE_ALIASES, toLanguageCode, languageName } from './languages';
