/** Evaluation: WER/CER with S/D/I counts, the batched evaluation loop, error analysis, comparisons. */
export { alignTokens, countOps, toChunks, EditOp, AlignmentChunk, AlignmentCounts, OpType } from './align';
export {
  wer, cer, processWords, processCharacters, computeMeasures, perUtterance, words, chars,
  Measures, PairOutput, CorpusOutput, UtteranceScore,
} from './metrics';
export { visualizeAlignment } from './visualize';
export { whisperTranscriber, withAdapterDisabled, BatchTranscriber, ClipOptions, AdapterSwitch } from './transcriber';
export {
  evaluate, scoreTranscripts, EvalReport, EvalRow, EvaluateOptions, EvalProgress, ScoreOptions, TranscriptItem,
} from './evaluate';
export { saveReport, loadReport, reportCsv } from './report';
export { frequentErrors, werBy, werBySpeaker, werByDuration, FrequentErrors, WordConfusion, GroupWer } from './errors';
export {
  compareModels, compareReports, toDataFrame, comparisonChartHtml, groupWerChartHtml, comparisonTablesHtml, Comparison,
} from './compare';
