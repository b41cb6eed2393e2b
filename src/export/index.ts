/** Deploying a fine-tuned model: a merged Hugging Face folder or a whisper.cpp ggml file. */
export { exportModel, mergedModel, EXPORT_FORMATS } from './export';
export type { ExportFormat, ExportOptions } from './export';
export { ggmlBytes, convertToGgml, ggmlName, quantizeQ8_0, readVocab, GGML_TYPES } from './ggml';
export type { GgmlType } from './ggml';
