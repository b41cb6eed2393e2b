/** Regenerates notebooks 01-03 from nb01.ts..nb03.ts: `npx tsx notebooks/build/build.ts`. */
import * as path from 'path';
import { writeNotebook } from './notebook';
import { nb01 } from './nb01';
import { nb02 } from './nb02';
import { nb03 } from './nb03';

const dir = path.resolve(__dirname, '..');
writeNotebook(path.join(dir, '01_load_dataset.ipynb'), nb01);
writeNotebook(path.join(dir, '02_explore_durations.ipynb'), nb02);
writeNotebook(path.join(dir, '03_preprocess.ipynb'), nb03);
