/** Notebook 04. Regenerate: `npx tsx notebooks/build/build.ts`. */
import { Cell, code, md, setupCell } from './notebook';

export const nb04: Cell[] = [
  md(`
# 04 · LoRA: fine-tune 1% of Whisper

Fine-tuning all 39M (tiny) to 1.5B (large) parameters of Whisper needs the gradients **and** two Adam
moments of every weight: 4x the model in memory, and a full copy of the model per task on disk.
**LoRA** (Low-Rank Adaptation, Hu et al. 2021) freezes the pretrained weight $W_0$ and learns a
low-rank update next to it:

$$h = W_0 x + \\frac{\\alpha}{r}\\, B A x, \\qquad A \\in \\mathbb{R}^{r \\times d_{in}},\\; B \\in \\mathbb{R}^{d_{out} \\times r}$$

* $r$ (the rank, e.g. 8) is tiny compared with $d_{in}, d_{out}$ (384 in whisper-tiny, 768 in small):
  the update costs $r(d_{in}+d_{out})$ parameters instead of $d_{in} d_{out}$, i.e. 4% of a 384x384
  projection at $r=8$.
* $A$ starts Kaiming-uniform and $B$ starts at **zero**, so before training the model is exactly
  the pretrained one; only $BA$ moves.
* $\\alpha/r$ scales the update so the same learning rate works across ranks (\`useRslora\` uses
  $\\alpha/\\sqrt r$ instead).
* Only $A$ and $B$ get gradients and optimizer state, and the saved adapter is a few MB.
  After training, $BA$ can be **merged** into $W_0$: inference then costs nothing extra.

This notebook uses the library's \`src/lora\` (PEFT's names: \`LoraConfig\`, \`getPeftModel\`,
\`printTrainableParameters\`, \`saveAdapter\`, \`merge\`), whose files are the ones Python PEFT reads.
`),
  setupCell(['initBackend', 'describeBackend', 'tf', 'WhisperConfig', 'WhisperForConditionalGeneration', 'LoraConfig', 'getPeftModel', 'PeftModel', 'trainableParametersLine', 'countParameters', 'readSafetensorsFile', 'display', 'tableHtml'], `
`),
  md(`
## 1. One adapted layer, by hand

A \`Linear\` keeps the Hugging Face layout (\`weight\` is \`[out, in]\`). LoRA adds a branch to it; at
initialisation the branch outputs zeros, so the layer's output does not change.
`),
  code(`
{
  const r = 2, dIn = 6, dOut = 4;
  const x = tf.randomNormal([3, dIn], 0, 1, 'float32', 0);
  const W0 = tf.randomNormal([dOut, dIn], 0, 1, 'float32', 1);
  const bound = 1 / Math.sqrt(dIn);                               // kaiming_uniform_(a=sqrt(5))
  const A = tf.randomUniform([r, dIn], -bound, bound, 'float32', 2);
  const B0 = tf.zeros([dOut, r]);
  const alpha = 4;
  const h = (B: tf.Tensor) => tf.tidy(() => tf.add(tf.matMul(x, W0, false, true), tf.mul(tf.matMul(tf.matMul(x, A, false, true), B, false, true), alpha / r)));
  const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
  const h0 = h(B0);
  const base = tf.matMul(x, W0, false, true);
  console.log('at init, max |h - W0 x| =', maxDiff(h0, base));
  const B1 = tf.onesLike(B0);                                      // pretend training moved B
  const h1 = h(B1);
  console.log('after B moves, max |h - W0 x| =', maxDiff(h1, base).toFixed(3));
  console.log(\`parameters: full update \${dOut * dIn}, LoRA r=\${r}: \${r * (dIn + dOut)}\`);
  tf.dispose([x, W0, A, B0, B1, h0, h1, base]);
}
`),
  md(`
## 2. How many parameters? (computed from the config, no model built)

\`printTrainableParameters()\` prints PEFT's exact line. The count comes from the config alone, so we
can show it for whisper-small (242M parameters) without loading it. With $r=8$ on \`q_proj\` and
\`v_proj\` (the Hugging Face Whisper LoRA tutorial), only **0.36%** of whisper-small is trained.
\`targetModules\` follows PEFT: a name in the list matches any module whose path ends with
\`"." + name\`; a single string is a regular expression that must match the full path.
`),
  code(`
const small = WhisperConfig.fromJSON({ d_model: 768, encoder_layers: 12, decoder_layers: 12, encoder_attention_heads: 12,
  decoder_attention_heads: 12, encoder_ffn_dim: 3072, decoder_ffn_dim: 3072, num_mel_bins: 80, vocab_size: 51865,
  max_source_positions: 1500, max_target_positions: 448 });
console.log('whisper-small, r=8 on q_proj/v_proj:');
console.log(trainableParametersLine(small, new LoraConfig({ r: 8, loraAlpha: 32, targetModules: ['q_proj', 'v_proj'] })));

const tinyCfg = WhisperConfig.fromFile(sharedDir('models', 'whisper-tiny', 'config.json'));
const choices: [string, string | string[]][] = [
  ['q, v (all attention)', ['q_proj', 'v_proj']],
  ['q, k, v, out (all attention)', ['q_proj', 'k_proj', 'v_proj', 'out_proj']],
  ['attention + MLP (fc1, fc2)', ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2']],
  ['decoder only, regex', String.raw\`.*decoder.*\\.(q_proj|k_proj|v_proj|out_proj|fc1|fc2)\`],
];
display(tableHtml(choices.flatMap(([name, t]) => [8, 32].map((r) => ({
  targets: name, r, line: trainableParametersLine(tinyCfg, new LoraConfig({ r, loraAlpha: 2 * r, targetModules: t })),
}))), { caption: 'whisper-tiny: what LoRA trains' }));
`),
  md(`
## 3. Wrap the real whisper-tiny

\`getPeftModel\` attaches the branches to every matching \`Linear\` (encoder self-attention, decoder
self-attention and decoder cross-attention \`encoder_attn\`). The base weights stay plain tensors; the
only \`tf.Variable\`s are the $A$ and $B$ matrices.
`),
  code(`
// fresh(): re-running this cell frees the model and adapter it made last time.
const model = await fresh('model', () => WhisperForConditionalGeneration.fromPretrained(sharedDir('models', 'whisper-tiny')));
console.log('all parameters of whisper-tiny:', countParameters(model.config).toLocaleString('en-US'));
const loraConfig = new LoraConfig({ r: 8, loraAlpha: 16, loraDropout: 0.05, targetModules: ['q_proj', 'v_proj'] });
const peft = await fresh('peft', () => getPeftModel(model, loraConfig));
peft.printTrainableParameters();
const adapted = [...peft.loraLayers.keys()];
console.log(\`\${adapted.length} adapted Linears, e.g.\\n  \${adapted.filter((_, i) => i % 8 === 0).join('\\n  ')}\`);
console.log('tf.Variables:', peft.trainableVariables().length, '(A and B per adapted Linear)');
`),
  md(`
## 4. Save and load an adapter (PEFT's file layout)

\`saveAdapter(dir)\` writes \`adapter_config.json\` and \`adapter_model.safetensors\` (float32, keys
such as \`base_model.model.model.decoder.layers.0.self_attn.q_proj.lora_A.weight\`). These are the
files \`PeftModel.from_pretrained\` reads in Python, and \`PeftModel.fromPretrained\` here. The folder is
written to a temporary name first and renamed, so it is never half written.
`),
  code(`
// Pretend we trained: give B some values so the round trip is not trivially zeros.
tf.tidy(() => {
  for (const [k, v] of peft.namedTrainableVariables()) if (k.includes('lora_B')) v.assign(tf.randomNormal(v.shape, 0, 0.01, 'float32', 3));
});
const adapterDir = path.join(PROJECT_ROOT, 'out', 'notebooks', '04-adapter');
peft.saveAdapter(adapterDir);
console.log(fs.readdirSync(adapterDir).map((f) => \`\${f}: \${fs.statSync(path.join(adapterDir, f)).size} bytes\`).join('\\n'));
console.log(fs.readFileSync(path.join(adapterDir, 'adapter_config.json'), 'utf8'));
`),
  code(`
const saved = readSafetensorsFile(path.join(adapterDir, 'adapter_model.safetensors'));
display(tableHtml([...saved.entries()].slice(0, 6).map(([key, t]) => ({ key, shape: \`[\${t.shape}]\` })), { caption: \`\${saved.size} tensors, first 6\` }));

// Load into a second base model and compare every tensor.
const model2 = await fresh('model2', () => WhisperForConditionalGeneration.fromPretrained(sharedDir('models', 'whisper-tiny')));
const reloaded = await fresh('reloaded', () => PeftModel.fromPretrained(model2, adapterDir));
let maxDiff = 0;
for (const [k, v] of reloaded.namedTrainableVariables()) {
  const a = v.dataSync(), b = peft.namedTrainableVariables().get(k)!.dataSync();
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
}
console.log('max difference after save -> load:', maxDiff);
`),
  md(`
## 5. Merge for inference, unmerge to keep training

\`merge()\` adds $\\frac{\\alpha}{r} BA$ to each adapted weight so the branch is skipped; \`unmerge()\`
subtracts it again; \`mergeAndUnload()\` returns a plain model with the adapter baked in.
`),
  code(`
{
  const feats = tf.randomNormal([1, 80, 3000], 0, 1, 'float32', 4) as tf.Tensor3D;
  const ids = tf.tensor2d([[50258, 50259, 50359, 50363]], undefined, 'int32');
  const enc = reloaded.encode(feats);
  const y = reloaded.forward(null, ids, { encoderHiddenStates: enc });
  reloaded.merge();
  const enc2 = reloaded.encode(feats);
  const ym = reloaded.forward(null, ids, { encoderHiddenStates: enc2 });
  console.log('max |logits(branch) - logits(merged)| =', tf.tidy(() => tf.max(tf.abs(tf.sub(y, ym))).dataSync()[0]).toExponential(2));
  reloaded.unmerge();
  tf.dispose([feats, ids, enc, enc2, y, ym]);
}
`),
  md(`
## 6. Several adapters on one base model

Like PEFT's \`load_adapter(dir, adapter_name=...)\` and \`set_adapter(name)\`: one frozen whisper-tiny
in memory, one small adapter per task or language, switched in place.
`),
  code(`
peft.loadAdapter(adapterDir, 'copy');          // loads into 'copy' (replaced in place when it exists)
if (peft.peftConfig['decoder-only']) peft.deleteAdapter('decoder-only');   // re-runnable: add it afresh
peft.addAdapter('decoder-only', new LoraConfig({ r: 4, targetModules: String.raw\`.*decoder.*fc1\` }));
for (const name of Object.keys(peft.peftConfig)) {
  peft.setAdapter(name);
  const [t] = peft.getNbTrainableParameters();
  console.log(\`\${name.padEnd(13)} active, \${t.toLocaleString('en-US')} trainable parameters\`);
}
peft.setAdapter('default');
`),
  code(`
// Free everything this notebook made (re-running the notebook starts clean).
await releaseAll();
console.log('tensors left:', tf.memory().numTensors, '(0: nothing leaked)');
`),
];
