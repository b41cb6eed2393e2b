/**
 * The file names of a Hugging Face Whisper checkpoint, written once: the Hub download, saving a
 * model and the demo (its file server and the page that fetches a model) all read them from here.
 */
export const CONFIG_NAME = 'config.json';
export const GENERATION_CONFIG_NAME = 'generation_config.json';
export const WEIGHTS_NAME = 'model.safetensors';
export const WEIGHTS_INDEX_NAME = 'model.safetensors.index.json';

/** The tokenizer's and the feature extractor's files (each optional: a checkpoint may lack some). */
export const PROCESSOR_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'added_tokens.json',
  'special_tokens_map.json', 'normalizer.json', 'preprocessor_config.json'];

/** Every file of a checkpoint but the weight shards an index names. */
export const CHECKPOINT_FILES = [CONFIG_NAME, GENERATION_CONFIG_NAME, ...PROCESSOR_FILES, WEIGHTS_NAME, WEIGHTS_INDEX_NAME];
