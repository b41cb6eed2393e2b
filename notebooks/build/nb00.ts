/** Notebook 00. Regenerate: `npx tsx notebooks/build/build.ts`. */
import { Cell, code, md } from './notebook';

export const nb00: Cell[] = [
  md(`
# 00 · Setup: is everything in place?

This course fine-tunes OpenAI's **Whisper** speech recognizer in TypeScript, the way the well-known
Python tutorials do it with Hugging Face \`transformers\` + \`peft\`. Each notebook is short: the work
happens in the project's library (\`src/\`, compiled to \`dist/\`), and cells call it.

This first notebook checks the machinery:
1. which **TensorFlow.js backend** runs the math (native TensorFlow, WebAssembly, or plain JavaScript),
2. a tiny tensor computation,
3. an HTML table and a plotly chart, the two kinds of output the later notebooks use.

Run the cells from top to bottom (Shift+Enter). Any cell can be run again.
`),
  md(`
## 1. The backend

TensorFlow.js can run on several *backends*. We try the fastest first:
\`tensorflow\` (native libtensorflow via \`@tensorflow/tfjs-node-gpu\` / \`tfjs-node\`, only if it really
loads), then \`wasm\` (WebAssembly with SIMD), then \`cpu\` (plain JavaScript, about 30x slower than wasm).
Set \`WHISPER_BACKEND=wasm\` (or \`cpu\`, \`tensorflow\`) before starting Jupyter to force one.
`),
  code(`
import { initBackend, describeBackend, tf } from '../dist/src';

const backend = await initBackend();
console.log(describeBackend(backend));
`),
  md(`
## 2. A tiny tensor computation

Whisper is mostly matrix products. Here is one: \`y = x·Wᵀ + b\`, the *linear layer* that LoRA will
later adapt. \`tf.tidy\` frees every intermediate tensor when the function returns, so re-running this
cell does not leak memory: the tensor count printed below stays the same.
`),
  code(`
const y = tf.tidy(() => {
  const x = tf.tensor2d([[1, 2, 3]]);                 // one input row
  const W = tf.tensor2d([[1, 0, 0], [0, 1, 0]]);      // weight [out=2, in=3], the Hugging Face layout
  const b = tf.tensor1d([0.5, -0.5]);
  return tf.matMul(x, W, false, true).add(b);         // x Wᵀ + b
});
console.log('y =', Array.from(y.dataSync()));
y.dispose();
console.log('tensors alive:', tf.memory().numTensors);
`),
  md(`
## 3. Tables and charts

Notebook outputs are HTML: tables for data, plotly charts for plots (interactive in Jupyter, and
kept in the exported HTML).
`),
  code(`
import { display, tableHtml, plotlyHtml } from '../dist/src';

// Whisper sizes from the paper (parameters in millions).
const sizes = [
  { model: 'tiny', layers: 4, width: 384, heads: 6, params_M: 39 },
  { model: 'base', layers: 6, width: 512, heads: 8, params_M: 74 },
  { model: 'small', layers: 12, width: 768, heads: 12, params_M: 244 },
  { model: 'medium', layers: 24, width: 1024, heads: 16, params_M: 769 },
  { model: 'large', layers: 32, width: 1280, heads: 20, params_M: 1550 },
];
display(tableHtml(sizes, { caption: 'Whisper model sizes' }));
`),
  code(`
display(plotlyHtml(
  [{ type: 'bar', x: sizes.map((s) => s.model), y: sizes.map((s) => s.params_M), marker: { color: '#4c78a8' } }],
  { title: { text: 'Whisper parameters (millions)' }, yaxis: { type: 'log', title: { text: 'M params' } }, height: 320 },
));
`),
  md(`
All set. Next: \`01_load_dataset.ipynb\` loads real speech.
`),
];
