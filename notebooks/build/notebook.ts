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

/** The .ipynb text of `cells`, as committed (unexecuted: no outputs). */
export function notebookJson(cells: Cell[]): string {
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
  return JSON.stringify(nb, null, 1) + '\n';
}

export function writeNotebook(file: string, cells: Cell[]): void {
  fs.writeFileSync(file, notebookJson(cells));
}

/** The session helpers and the shared-data paths every notebook may use (tools/, compiled into dist/tools). */
const SESSION = ['fresh', 'finish', 'releaseAll', 'peakRssBytes', 'runDir', 'artifactPath', 'requireArtifact'];
const SHARED = ['sharedDir', 'loadReferenceTranscripts', 'REFERENCE_MAX_NEW_TOKENS', 'PROJECT_ROOT'];
const ALWAYS = ['tf', 'initBackend', 'describeBackend', 'display'];

/**
 * The first code cell of every notebook, written once: the library from its one entry point
 * (`library` names what this notebook uses besides the backend and `display`), the session helpers,
 * where the course data is, SMOKE, and the backend. `more` is the rest of the notebook's first cell.
 */
export function setupCell(library: string[], more = '', extraImports: string[] = []): Cell {
  const names = [...new Set([...ALWAYS, ...library])];
  const wrapped: string[] = [];
  let line = 'import {';
  for (const n of names) {
    if (line.length + n.length > 100) {
      wrapped.push(line);
      line = ' ';
    }
    line += ` ${n},`;
  }
  wrapped.push(line.replace(/,$/, ''));
  return code(`
import * as fs from 'fs';
import * as path from 'path';
${wrapped.join('\n')} } from '../dist/src';
import { ${SESSION.join(', ')} } from '../dist/tools/notebook/session';
import { ${SHARED.join(', ')} } from '../dist/tools/shared';
${extraImports.map((l) => `${l}\n`).join('')}
// SMOKE=1 (the test suite) runs every cell on small settings.
const SMOKE = process.env.SMOKE === '1';
console.log(describeBackend(await initBackend()), SMOKE ? '(SMOKE: small settings)' : '');
${more.replace(/^\n/, '')}`);
}
