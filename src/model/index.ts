/** The Whisper model in TensorFlow.js: config, checkpoint loading, the network, greedy generation. */
export { WhisperConfig } from './config';
export { resolveModel, findInCache, hubCacheDir } from './hub';
export type { ResolveOptions, DownloadProgress } from './hub';
export { readSafetensorsHeader, loadSafetensorsCheckpoint, saveSafetensors, decodeTensorBytes } from './safetensors';
export { Linear, LayerNorm, Conv1d, gelu } from './layers';
export type { LinearAdapter } from './layers';
export { WhisperAttention } from './attention';
export { WhisperEncoder, WhisperEncoderLayer } from './encoder';
export { WhisperDecoder, WhisperDecoderLayer } from './decoder';
export type { DecoderCache } from './decoder';
export { WhisperForConditionalGeneration, expectedWeightShapes } from './whisper';
export { generate, specialTokens, languageCode, LANGUAGES } from './generate';
export type { GenerateOptions, GenerateOutput, SpecialTokens } from './generate';
export { loadWhisper, unloadWhisper, transcribe } from './pipeline';
export type { WhisperPipeline, TranscribeResult, TranscribeOptions } from './pipeline';
