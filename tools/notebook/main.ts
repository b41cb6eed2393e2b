/**
 * The main job (`npm start`): executes every notebook in notebooks/ headlessly, in order, and writes
 * executed .ipynb and .html copies plus out/summary.md.
 *
 *   npm start                 all notebooks on their default settings
 *   npm start -- 00 03        only notebooks whose name contains one of these words
 *   SMOKE=1 npm start         small settings (what the test suite uses)
 */
import * as fs from 'fs';
import * as path from 'path';
import { PROJECT_ROOT } from '../shared';
import { runNotebook, NotebookError } from './runner';
import { parseFlags } from '../../apps/args';

async function main() {
  const words = parseFlags(process.argv.slice(2), {}).positionals;
  const dir = path.join(PROJECT_ROOT, 'notebooks');
  const outDir = path.join(PROJECT_ROOT, 'out');
  const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort()
    .filter((f) => !words.length || words.some((w) => f.includes(w)));
  const rows: string[] = [];
  let failures = 0;
  for (const nb of notebooks) {
    process.stdout.write(`running ${nb} ... `);
    const started = Date.now();
    try {
      const r = await runNotebook(path.join(dir, nb), { outDir, env: pick(process.env, ['SMOKE']) });
      console.log(`ok (${r.seconds.toFixed(1)} s)`);
      rows.push(`| ${nb} | ok | ${r.seconds.toFixed(1)} | ${path.relative(PROJECT_ROOT, r.html)} |`);
    } catch (e) {
      failures++;
      const msg = e instanceof NotebookError ? `cell ${e.cell}: ${e.error}` : (e as Error).message;
      console.log(`FAILED\n${(e as Error).message}`);
      rows.push(`| ${nb} | failed: ${msg.split('\n')[0].replace(/\|/g, '/')} | ${((Date.now() - started) / 1000).toFixed(1)} | |`);
    }
  }
  const summary = [`# Notebook run ${new Date().toISOString()}`, '',
    `${notebooks.length - failures} of ${notebooks.length} notebooks ran${process.env.SMOKE === '1' ? ' (SMOKE=1 small settings)' : ''}.`, '',
    '| notebook | status | seconds | html |', '| --- | --- | --- | --- |', ...rows, ''].join('\n');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'summary.md'), summary);
  console.log(`\n${summary}\nwritten to ${path.relative(process.cwd(), outDir)}/`);
  process.exit(failures ? 1 : 0);
}

function pick(env: NodeJS.ProcessEnv, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => env[k] !== undefined).map((k) => [k, env[k] as string]));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
