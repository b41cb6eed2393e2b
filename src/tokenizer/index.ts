/** Whisper's tokenizer and language table. */
export { WhisperTokenizer, TIME_PRECISION } from './whisper';
export type { WhisperTask, PrefixOptions, DecodeOptions, LanguageInfo } from './whisper';
export { LANGUAGES, LANGUAGE_ALIASES, toLanguageCode, languageName } from './languages';
export { specialTokensByText, specialTokensFromConfig, readSpecialTokens, languageCode, languageToken } from './special';
export type { SpecialTokens } from './special';
