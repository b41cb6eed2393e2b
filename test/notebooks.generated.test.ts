/**
 * The committed notebooks are what their generators (notebooks/build/nbNN.ts) write: an edit made
 * to the .ipynb JSON alone would be lost at the next `npx tsx notebooks/build/build.ts`, and an
 * edit to a generator that was not rebuilt would never reach learners.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { NOTEBOOKS, notebookPath } from '../notebooks/build/build';
import { notebookJson } from '../notebooks/build/notebook';

describe('notebooks: the committed .ipynb files equal their generators', () => {
  it('every notebooks/*.ipynb has a generator, and none was edited by hand', () => {
    const generated = new Set(NOTEBOOKS.map(([name]) => `${name}.ipynb`));
    const committed = fs.readdirSync(path.dirname(notebookPath('x'))).filter((f) => f.endsWith('.ipynb'));
    assert.deepEqual(committed.sort(), [...generated].sort());
    for (const [name, cells] of NOTEBOOKS) {
      assert.ok(fs.readFileSync(notebookPath(name), 'utf8') === notebookJson(cells),
        `notebooks/${name}.ipynb differs from notebooks/build: run \`npx tsx notebooks/build/build.ts\` (and edit the generator, not the JSON)`);
    }
  });

  it('every notebook imports the library from its one entry point', () => {
    for (const [name, cells] of NOTEBOOKS) {
      const imports = cells.flatMap((c) => ('code' in c ? c.code.split('\n') : [])).filter((l) => /from '\.\.\/dist\//.test(l));
      const deep = imports.filter((l) => !/from '\.\.\/dist\/(src|tools\/shared|tools\/notebook\/session|apps\/demo\/\w+)'/.test(l));
      assert.deepEqual(deep, [], `${name}: deep imports`);
    }
  });
});
