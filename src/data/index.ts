/** Datasets: loading every layout, lazy audio, transforms, exploration and Whisper preparation. */
export * from './types';
export { DataReport, Problem, reportHtml } from './report';
export { AudioDataset, MapOptions, CacheInfo } from './dataset';
export { loadCsvDataset, loadAudioFolder, loadCommonVoice, loadTxtPairs, loadJsonl, loadDataset, loadDatasetDict, detectLayout, DatasetDict, Layout, ManifestOptions, LoadDatasetOptions } from './loaders';
export { IterableAudioDataset, streamDataset } from './stream';
export { durations, audioDuration } from './durations';
export { readAudioHeader, parseAudioHeader, AudioHeader } from '../audio/header';
export { formatSeconds } from './format';
export { describeValues, describeGroups, groupBy, quantile, summaryDataFrame, Describe, SummaryRow } from './summary';
export { filterValid, invalidReason, ValidityOptions, DEFAULT_VALIDITY } from './validity';
export { prepareDataset, labelsFor, PrepareOptions, FeatureExtractorLike, TokenizerLike } from './prepare';
export { DataCollatorSpeechSeq2SeqWithPadding, CollatedBatch, CollatedArrays, CollatorOptions, IGNORE_INDEX } from './collator';
export { permutation, shuffleInPlace } from './split';
export { splitDurations, durationsBy, summaryHtml, durationHistogramsHtml } from './explore';
export { checkData, CheckOptions } from './check';
export { preprocessAudio, processClip, mapAudio, AudioPipelineOptions } from './audioPipeline';
export { writeTxtPairs, WriteTxtPairsOptions, WriteTxtPairsResult } from './folder';
export { saveToDisk, loadFromDisk } from './disk';
