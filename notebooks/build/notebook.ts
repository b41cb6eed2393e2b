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

/**
 * The article's `load_dataset(...)` as a cell of its own (tools/notebook/hub.ts): run against the
 * Hub when it answers, else the shared local copy `localExpr` stands in, said in one line. Shows
 * three examples; the rest of the notebook keeps working on its own data.
 */
export function hubDataCell(articleCall: string, repoId: string, options: Record<string, unknown>, localExpr: string): Cell {
  return code([
    `// The article: ${articleCall}`,
    '// Run when the Hub answers; offline (the test suite sets HF_HUB_OFFLINE=1) the shared copy stands in.',
    "import { hubOrLocal } from '../dist/tools/notebook/session';",
    `const articleData = await hubOrLocal(${JSON.stringify(repoId)}, ${JSON.stringify({ ...options, streaming: true })}, ${localExpr});`,
    'for await (const ex of articleData.take(3)) console.log(`${(ex.audio.array.length / ex.audio.samplingRate).toFixed(1)} s  ${ex.text.slice(0, 100)}`);',
  ].join('\n'));
}

/**
 * The closing `push_to_hub` cell: the saved folder's card gets `card` (language, datasets), and
 * the folder is uploaded to `repoId` only when HF_TOKEN is set.
 */
export function pushCell(folderExpr: string, repoId: string, card: Record<string, unknown>): Cell {
  return code([
    "// transformers' trainer.push_to_hub(): the card (README.md, YAML front matter with the WER) is written;",
    '// the upload needs HF_TOKEN (a write token) and your user name in the repo id.',
    "import { pushIfToken } from '../dist/tools/notebook/session';",
    `await pushIfToken(${folderExpr}, ${JSON.stringify(repoId)}, ${JSON.stringify(card)});`,
  ].join('\n'));
}
