/** Writes .ipynb files (nbformat 4) for the tslab kernel from lists of markdown / code cells. */
import * as fs from 'fs';

export type Cell = { md: string } | { code: string };

export function md(text: string): Cell {
  return { md: text.replace(/^\n/, '') };
}

export function code(text: string): Cell {
  return { code: text.replace(/^\n/, '').replace(/\n$/, '') };
}

function lines(s: string): string[] {
  const parts = s.split('\n');
  return parts.map((l, i) => (i < parts.length - 1 ? `${l}\n` : l));
}

export function writeNotebook(file: string, cells: Cell[]): void {
  const nb = {
    cells: cells.map((c, i) => ('md' in c
      ? { cell_type: 'markdown', id: `cell-${i + 1}`, metadata: {}, source: lines(c.md.trimEnd()) }
      : { cell_type: 'code', id: `cell-${i + 1}`, execution_count: null, metadata: {}, outputs: [], source: lines(c.code) })),
    metadata: {
      kernelspec: { display_name: 'TypeScript (whisper)', language: 'typescript', name: 'tslab-whisper' },
      language_info: { codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true }, file_extension: '.ts', mimetype: 'text/typescript', name: 'typescript', version: '5.0' },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
  fs.writeFileSync(file, JSON.stringify(nb, null, 1) + '\n');
}
