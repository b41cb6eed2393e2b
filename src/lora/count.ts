/**
 * Parameter counting from a WhisperConfig alone, so `printTrainableParameters` can be shown for
 * whisper-small/large without allocating the model (the notebook runs on a 2-core laptop).
 *
 * Counts every parameter Hugging Face's WhisperForConditionalGeneration registers: both convs, the
 * encoder's sinusoidal embed_positions (a stored, frozen nn.Embedding in HF, so PEFT counts it),
 * the decoder's learned positions, all layer norms; proj_out is tied to embed_tokens and, like
 * `model.parameters()` in PyTorch, counted once.
 */
import { WhisperConfig } from '../model/config';
import { LoraConfig } from './config';

/** One nn.Linear of Whisper by its HF module path, with its shape. */
export interface LinearSpec {
  name: string;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
}

type Sizes = Pick<WhisperConfig, 'dModel' | 'encoderLayers' | 'decoderLayers' | 'encoderFfnDim' | 'decoderFfnDim' |
  'numMelBins' | 'vocabSize' | 'maxSourcePositions' | 'maxTargetPositions'>;

function attention(prefix: string, d: number): LinearSpec[] {
  // HF Whisper: k_proj has no bias (keys are shift-invariant under softmax), the other three do.
  return ['k_proj', 'v_proj', 'q_proj', 'out_proj'].map((p) => ({ name: `${prefix}.${p}`, inFeatures: d, outFeatures: d, bias: p !== 'k_proj' }));
}

/** Every nn.Linear in HF order (proj_out last, which has no bias and is tied). */
function linearSpecs(c: Sizes): LinearSpec[] {
  const d = c.dModel;
  const out: LinearSpec[] = [];
  for (let i = 0; i < c.encoderLayers; i++) {
    const p = `model.encoder.layers.${i}`;
    out.push(...attention(`${p}.self_attn`, d));
    out.push({ name: `${p}.fc1`, inFeatures: d, outFeatures: c.encoderFfnDim, bias: true });
    out.push({ name: `${p}.fc2`, inFeatures: c.encoderFfnDim, outFeatures: d, bias: true });
  }
  for (let i = 0; i < c.decoderLayers; i++) {
    const p = `model.decoder.layers.${i}`;
    out.push(...attention(`${p}.self_attn`, d));
    out.push(...attention(`${p}.encoder_attn`, d));
    out.push({ name: `${p}.fc1`, inFeatures: d, outFeatures: c.decoderFfnDim, bias: true });
    out.push({ name: `${p}.fc2`, inFeatures: c.decoderFfnDim, outFeatures: d, bias: true });
  }
  out.push({ name: 'proj_out', inFeatures: d, outFeatures: c.vocabSize, bias: false });
  return out;
}

/** All parameters of the HF model (what `sum(p.numel() for p in model.parameters())` prints). */
export function countParameters(c: Sizes): number {
  const d = c.dModel;
  const ln = 2 * d;
  let n = 0;
  // Encoder stem: conv1 (mels -> d, k=3), conv2 (d -> d, k=3, stride 2), positions, final norm.
  n += d * c.numMelBins * 3 + d + d * d * 3 + d + c.maxSourcePositions * d + ln;
  // Decoder stem: token embeddings (shared with proj_out), learned positions, final norm.
  n += c.vocabSize * d + c.maxTargetPositions * d + ln;
  for (const s of linearSpecs(c)) {
    if (s.name === 'proj_out') continue; // tied
    n += s.inFeatures * s.outFeatures + (s.bias ? s.outFeatures : 0);
  }
  // Layer norms inside the layers: encoder 2 per layer, decoder 3 per layer.
  n += ln * (2 * c.encoderLayers + 3 * c.decoderLayers);
  return n;
}

/** The Linear specs a LoraConfig adapts (PEFT's name rule). Throws if it matches nothing, like PEFT. */
function targetedLinears(c: Sizes, lora: LoraConfig): LinearSpec[] {
  const hits = linearSpecs(c).filter((s) => lora.matches(s.name));
  if (!hits.length) {
    throw new Error(`LoraConfig: target_modules ${JSON.stringify(lora.targetModules)} match no Linear of this model ` +
      `(names look like 'model.decoder.layers.0.self_attn.q_proj')`);
  }
  return hits;
}

/** LoRA parameters added: r * (in + out) per adapted Linear (A is [r, in], B is [out, r]). */
function countLoraParameters(c: Sizes, lora: LoraConfig): number {
  return targetedLinears(c, lora).reduce((s, l) => s + lora.r * (l.inFeatures + l.outFeatures), 0);
}

/** PEFT's exact line: "trainable params: 884,736 || all params: 242,619,648 || trainable%: 0.3647". */
export function formatTrainableParameters(trainable: number, all: number): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  return `trainable params: ${fmt(trainable)} || all params: ${fmt(all)} || trainable%: ${(100 * trainable / all).toFixed(4)}`;
}

/** The PEFT line for a config, computed without building the model. */
export function trainableParametersLine(c: Sizes, lora: LoraConfig): string {
  const t = countLoraParameters(c, lora);
  return formatTrainableParameters(t, countParameters(c) + t);
}

/** One row of `modelSummary`: a module at depth 1-3 and its parameter count (null: a container). */
export interface ModelSummaryRow {
  module: string;
  type: string;
  depth: number;
  params: number | null;
  /** Not trained even in full fine-tuning (the encoder's sinusoidal positions): torchinfo prints it in parentheses. */
  frozen?: boolean;
}

/**
 * torchinfo's `summary(model)` at its default depth for HF's WhisperForConditionalGeneration, from the
 * config alone. `total` adds the rows as torchinfo does, so the tied proj_out is counted a second
 * time (whisper-small: 281,567,232); `unique` counts it once, as `countParameters` and PEFT do.
 */
export function modelSummary(c: Sizes): { rows: ModelSummaryRow[]; total: number; unique: number } {
  const d = c.dModel;
  const ln = 2 * d;
  const linears = linearSpecs(c);
  const layers = (side: string) => linears.filter((s) => s.name.startsWith(`model.${side}.layers.`))
    .reduce((n, s) => n + s.inFeatures * s.outFeatures + (s.bias ? s.outFeatures : 0), 0)
    + ln * (side === 'encoder' ? 2 * c.encoderLayers : 3 * c.decoderLayers);
  const rows: ModelSummaryRow[] = [
    { module: 'model', type: 'WhisperModel', depth: 1, params: null },
    { module: 'model.encoder', type: 'WhisperEncoder', depth: 2, params: null },
    { module: 'model.encoder.conv1', type: 'Conv1d', depth: 3, params: d * c.numMelBins * 3 + d },
    { module: 'model.encoder.conv2', type: 'Conv1d', depth: 3, params: d * d * 3 + d },
    { module: 'model.encoder.embed_positions', type: 'Embedding', depth: 3, params: c.maxSourcePositions * d, frozen: true },
    { module: 'model.encoder.layers', type: 'ModuleList', depth: 3, params: layers('encoder') },
    { module: 'model.encoder.layer_norm', type: 'LayerNorm', depth: 3, params: ln },
    { module: 'model.decoder', type: 'WhisperDecoder', depth: 2, params: null },
    { module: 'model.decoder.embed_tokens', type: 'Embedding', depth: 3, params: c.vocabSize * d },
    { module: 'model.decoder.embed_positions', type: 'WhisperPositionalEmbedding', depth: 3, params: c.maxTargetPositions * d },
    { module: 'model.decoder.layers', type: 'ModuleList', depth: 3, params: layers('decoder') },
    { module: 'model.decoder.layer_norm', type: 'LayerNorm', depth: 3, params: ln },
    { module: 'proj_out', type: 'Linear', depth: 1, params: c.vocabSize * d },
  ];
  const total = rows.reduce((n, r) => n + (r.params ?? 0), 0);
  return { rows, total, unique: total - c.vocabSize * d };
}
