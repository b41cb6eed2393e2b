/**
 * npm run export -- --model ID|DIR [--adapter DIR] --format ggml|safetensors --out PATH [--type f32|f16|q8_0]
 *
 * Merges the adapter into the model (or takes a full fine-tune as it is) and writes a whisper.cpp
 * ggml file or a Hugging Face folder with a model card (src/export/export.ts).
 */
import * as fs from 'fs';
import { initBackend } from '../../src/backend';
import { exportModel, EXPORT_FORMATS } from '../../src/export/export';
import { GGML_TYPES } from '../../src/export/ggml';
import { choiceFlag, parseFlags, UsageError } from '../args';

export const USAGE = `usage: npm run export -- --model ID|DIR [--adapter DIR] --format ggml|safetensors --out PATH [--type f32|f16|q8_0]

  --model ID|DIR     base checkpoint (Hub id or folder), or a full fine-tune's folder
  --adapter DIR      PEFT LoRA adapter merged into the model (optional)
  --format FORMAT    ggml: one whisper.cpp model file; safetensors: a merged Hugging Face folder + README.md
  --out PATH         the ggml file, or the folder (replaced atomically)
  --type TYPE        ggml matrices: f32, f16 (default) or q8_0`;

export async function runExport(argv: string[], log: (s: string) => void = console.log): Promise<string> {
  const s = { type: 'string' } as const;
  const { values: v, positionals } = parseFlags(argv, { model: s, adapter: s, format: s, out: s, type: s, help: { type: 'boolean' } }, USAGE);
  if (v.help) {
    log(USAGE);
    return '';
  }
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'\n${USAGE}`);
  if (!v.model) throw new UsageError(`--model is required\n${USAGE}`);
  if (!v.out) throw new UsageError(`--out is required\n${USAGE}`);
  const format = choiceFlag('format', v.format, EXPORT_FORMATS);
  if (!format) throw new UsageError(`--format is required (${EXPORT_FORMATS.join(' or ')})\n${USAGE}`);
  const ggmlType = choiceFlag('type', v.type, GGML_TYPES);
  if (ggmlType && format !== 'ggml') throw new UsageError(`--type applies to --format ggml only\n${USAGE}`);
  await initBackend();
  const out = await exportModel({ model: v.model, adapter: v.adapter, format, out: v.out, ggmlType });
  const size = format === 'ggml' ? ` (${(fs.statSync(out).size / 2 ** 20).toFixed(1)} MiB)` : '';
  log(`${out}${size}`);
  return out;
}

if (require.main === module) {
  runExport(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}
