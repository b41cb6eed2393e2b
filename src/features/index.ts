/** Whisper's log-Mel input features. */
export { logMelSpectrogram, WhisperFeatureExtractor, padOrTrim, hannWindow } from './logmel';
export type { LogMelOptions, PreprocessorConfig } from './logmel';
export { RecordingLogMel } from './recordingLogMel';
export { melFilterBank, hzToMel, melToHz } from './melFilters';
