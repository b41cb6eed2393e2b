/**
 * The model card (README.md) the Hub shows for a pushed adapter or model: YAML front matter the
 * Hub reads (base_model, library_name, language, datasets, tags, metrics, and a model-index with
 * the WER the trainer measured, which puts the score on the model page), then what transformers'
 * Trainer writes in its cards: the training arguments and the loss / WER table.
 * Written on every saveModel / saveAdapter, so a saved folder is ready to upload by hand.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { isRepoId } from './cache';

export const MODEL_CARD_NAME = 'README.md';

/** One line of the trainer's log (trainer_state.json log_history). */
export type LogLine = Record<string, number>;

export interface ModelCardInfo {
  /** The Hub id (or folder) fine-tuned from: adapter_config.json's base_model_name_or_path, config.json's _name_or_path. */
  baseModel?: string;
  /** `peft` for an adapter, `transformers` for a full checkpoint (found from the folder when omitted). */
  libraryName?: 'peft' | 'transformers';
  /** The model's name on the page (default: the repo id or the folder name). */
  modelName?: string;
  language?: string | string[];
  /** Hub ids of the training data, e.g. `mozilla-foundation/common_voice_11_0`. */
  datasets?: string[];
  /** The evaluated dataset's name, config and split, for the model-index (default: the first of `datasets`). */
  datasetName?: string;
  datasetConfig?: string;
  datasetSplit?: string;
  license?: string;
  tags?: string[];
  /** Final metrics, e.g. `{eval_loss: 0.3, eval_wer: 21.4}`: eval_wer (or wer) goes in the model-index. */
  metrics?: Record<string, number>;
  /** Seq2SeqTrainingArguments (or any plain settings) listed under "Training hyperparameters". */
  trainingArgs?: Record<string, unknown>;
  /** The trainer's log: train loss and eval lines make the results table. */
  logHistory?: LogLine[];
  /** Weights made by merging a LoRA adapter into a base (exportModel): the adapter and the base, as given. */
  merged?: { adapter: string; base: string };
}

const TASK = { type: 'automatic-speech-recognition', name: 'Automatic Speech Recognition' };

function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The last logged value of `key` (eval lines are logged after each evaluation). */
function lastLogged(log: LogLine[], key: string): number | undefined {
  for (let i = log.length - 1; i >= 0; i--) if (typeof log[i][key] === 'number') return log[i][key];
  return undefined;
}

function cell(x: number | undefined, digits = 4): string {
  return x === undefined || !Number.isFinite(x) ? '-' : String(Math.round(x * 10 ** digits) / 10 ** digits);
}

/** Rows of the results table: each evaluation with the last training loss logged before it. */
function resultsTable(log: LogLine[]): string[] {
  const rows: string[] = [];
  let trainLoss: number | undefined;
  for (const e of log) {
    if (typeof e.loss === 'number') trainLoss = e.loss;
    if (typeof e.eval_loss !== 'number' && typeof e.eval_wer !== 'number') continue;
    rows.push(`| ${cell(trainLoss)} | ${cell(e.epoch, 2)} | ${e.step} | ${cell(e.eval_loss)} | ${cell(e.eval_wer)} |`);
  }
  return rows.length ? ['| Training Loss | Epoch | Step | Validation Loss | Wer |', '| --- | --- | --- | --- | --- |', ...rows] : [];
}

/** The README.md text: YAML front matter + the card body. */
export function modelCard(info: ModelCardInfo): string {
  const log = info.logHistory ?? [];
  const wer = info.metrics?.eval_wer ?? info.metrics?.wer ?? lastLogged(log, 'eval_wer');
  const evalLoss = info.metrics?.eval_loss ?? lastLogged(log, 'eval_loss');
  const library = info.libraryName ?? 'transformers';
  const name = info.modelName ?? 'whisper-finetuned';
  const datasets = info.datasets ?? [];
  const datasetName = info.datasetName ?? datasets[0];
  const tags = [...new Set([...(info.tags ?? []), 'whisper', 'automatic-speech-recognition', ...(library === 'peft' ? ['lora', 'peft'] : []),
    'generated_from_trainer', 'whisper-finetune-ts'])];
  const front: Record<string, unknown> = {
    ...(info.baseModel ? { base_model: info.baseModel } : {}),
    library_name: library,
    ...(list(info.language).length ? { language: list(info.language) } : {}),
    ...(info.license ? { license: info.license } : {}),
    ...(datasets.length ? { datasets } : {}),
    tags,
    metrics: ['wer'],
    pipeline_tag: 'automatic-speech-recognition',
    'model-index': [{
      name,
      results: wer === undefined ? [] : [{
        task: TASK,
        ...(datasetName ? { dataset: { name: datasetName, type: datasets[0] ?? datasetName,
          ...(info.datasetConfig ? { config: info.datasetConfig } : {}), ...(info.datasetSplit ? { split: info.datasetSplit } : {}) } } : {}),
        metrics: [{ type: 'wer', value: wer, name: 'Wer' }],
      }],
    }],
  };
  const base = info.baseModel ? `[${info.baseModel}](https://huggingface.co/${info.baseModel})` : 'Whisper';
  const what = library === 'peft' ? 'A LoRA adapter (PEFT format) for' : 'A fine-tuned version of';
  const body = [
    `# ${name}`, '',
    `${what} ${base}${datasetName ? ` on ${datasetName}` : ''}, trained with whisper-finetune-ts (TensorFlow.js).`,
    ...(info.merged ? ['', `Adapter: \`${info.merged.adapter}\` merged into \`${info.merged.base}\` (PEFT merge_and_unload: W + scaling * B A), float32.`] : []),
    ...(wer !== undefined || evalLoss !== undefined ? ['It achieves on the evaluation set:',
      ...(evalLoss !== undefined ? [`- Loss: ${cell(evalLoss)}`] : []), ...(wer !== undefined ? [`- Wer: ${cell(wer)}`] : [])] : []),
    '',
    '## Usage', '',
    library === 'peft'
      ? `Load the base model, then this adapter: \`PeftModel.fromPretrained(base, folder)\` in whisper-finetune-ts (a folder holding these files), or \`PeftModel.from_pretrained(base, '${name}')\` in Python PEFT.`
      : `\`WhisperForConditionalGeneration.fromPretrained('${name}')\` in whisper-finetune-ts, or transformers' \`pipeline('automatic-speech-recognition', model='${name}')\`.`,
    '',
    ...(info.trainingArgs ? ['## Training hyperparameters', '',
      ...Object.entries(info.trainingArgs).filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'object').map(([k, v]) => `- ${k}: ${v}`), ''] : []),
    ...(resultsTable(log).length ? ['## Training results', '', ...resultsTable(log), ''] : []),
  ];
  return `---\n${stringify(front)}---\n\n${body.join('\n')}`;
}

function readJson(file: string): Record<string, unknown> | undefined {
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown> : undefined;
}

/**
 * Writes `dir/README.md` for the adapter or model saved in `dir`: the library and base model are
 * read from its files (adapter_config.json / config.json), the rest comes from `info`.
 */
export function writeModelCard(dir: string, info: ModelCardInfo = {}): string {
  const adapter = readJson(path.join(dir, 'adapter_config.json'));
  const config = adapter ? undefined : readJson(path.join(dir, 'config.json'));
  const found = adapter?.base_model_name_or_path ?? config?._name_or_path;
  const card = modelCard({
    libraryName: adapter ? 'peft' : 'transformers',
    // A local folder is no base_model for the Hub (it wants a repo id).
    ...(typeof found === 'string' && isRepoId(found) ? { baseModel: found } : {}),
    modelName: path.basename(path.resolve(dir)),
    ...Object.fromEntries(Object.entries(info).filter(([, v]) => v !== undefined)),
  });
  const file = path.join(dir, MODEL_CARD_NAME);
  fs.writeFileSync(file, card);
  return file;
}

/**
 * Adds `info`'s front-matter fields (base_model, language, license, datasets, tags) to the card in
 * `dir`, keeping the rest (the trainer's hyperparameters and results); writes a new card when the
 * folder has none. What a notebook calls before pushing a folder the trainer saved.
 */
export function updateModelCard(dir: string, info: ModelCardInfo): string {
  const file = path.join(dir, MODEL_CARD_NAME);
  const m = fs.existsSync(file) ? /^---\n([\s\S]*?)\n?---\n([\s\S]*)$/.exec(fs.readFileSync(file, 'utf8')) : null;
  if (!m) return writeModelCard(dir, info);
  const front = (parse(m[1]) ?? {}) as Record<string, unknown>;
  if (info.baseModel) front.base_model = info.baseModel;
  if (info.language !== undefined) front.language = list(info.language);
  if (info.license) front.license = info.license;
  if (info.datasets) front.datasets = info.datasets;
  if (info.tags) front.tags = [...new Set([...(front.tags as string[] ?? []), ...info.tags])];
  fs.writeFileSync(file, `---\n${stringify(front)}---\n${m[2]}`);
  return file;
}
