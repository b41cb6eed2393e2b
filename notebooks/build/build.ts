/**
 * Regenerates every notebook from its generator: `npx tsx notebooks/build/build.ts`.
 * The .ipynb files are what learners open; edit the generators (nbNN.ts), not the JSON.
 */
import * as path from 'path';
import { Cell, writeNotebook } from './notebook';
import { nb00 } from './nb00';
import { nb01 } from './nb01';
import { nb02 } from './nb02';
import { nb03 } from './nb03';
import { nb04 } from './nb04';
import { nb05 } from './nb05';
import { nb06 } from './nb06';
import { nb07 } from './nb07';
import { nb08 } from './nb08';
import { nb10 } from './nb10';
import { nb11 } from './nb11';
import { nb12 } from './nb12';
import { nb13 } from './nb13';
import { nb14 } from './nb14';

/** Every notebook by file name (without .ipynb), in course order. */
export const NOTEBOOKS: [string, Cell[]][] = [
  ['00_setup', nb00], ['01_load_dataset', nb01], ['02_explore_durations', nb02], ['03_preprocess', nb03],
  ['04_lora', nb04], ['05_train', nb05], ['06_evaluate', nb06], ['07_demo', nb07], ['08_timestamps', nb08],
  ['10_vietnamese', nb10], ['11_medical', nb11], ['12_complete_guide', nb12], ['13_breton', nb13],
  ['14_french_telephone', nb14],
];

/** Where notebook `name` is committed. */
export const notebookPath = (name: string) => path.resolve(__dirname, '..', `${name}.ipynb`);

if (require.main === module) for (const [name, cells] of NOTEBOOKS) writeNotebook(notebookPath(name), cells);
