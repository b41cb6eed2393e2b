/**
 * PeftModel: a frozen Whisper with LoRA adapters, as PEFT's `get_peft_model` builds it.
 *
 *   const peft = getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }));
 *   peft.printTrainableParameters();   // trainable params: ... || all params: ... || trainable%: ...
 *   peft.saveAdapter('out/adapter');    // adapter_config.json + adapter_model.safetensors (PEFT layout)
 *
 * Base weights stay plain tensors (never trained); the only tf.Variables are the A and B matrices.
 * Several named adapters can live on one base model; `setAdapter(name)` picks the one in use.
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import seedrandom from 'seedrandom';
import type { Linear } from '../model/layers';
import type { WhisperConfig } from '../model/config';
import type { GenerateOptions, GenerateOutput } from '../model/generate';
import type { ForwardOptions } from '../model/whisper';
import { Files, readJson } from '../io/files';
import { asFiles } from '../io/node';
import { readTensors, safetensorsHeader, saveSafetensors, LoadedTensor } from '../model/safetensors';
import { LoraConfig } from './config';
import { countParameters, formatTrainableParameters } from './count';
import { LoraLayer, SeedSource } from './layer';
import { atomicWriteDir } from '../atomic';
import type { DecodingModel } from '../model/decoding';
import type { AlignmentModel } from '../model/timing';
import type { SpecialTokens } from '../tokenizer/special';
import { ModelCardInfo, writeModelCard } from '../hub/card';
import type { PushOptions, PushResult } from '../hub/push';

export { atomicWriteDir };

export const ADAPTER_CONFIG_NAME = 'adapter_config.json';
export const ADAPTER_WEIGHTS_NAME = 'adapter_model.safetensors';

/** What getPeftModel needs from the base model (WhisperForConditionalGeneration satisfies it). */
export interface PeftBaseModel extends DecodingModel {
  decoder: DecodingModel['decoder'] & AlignmentModel['decoder'];
  config: WhisperConfig;
  dir?: string;
  linears(): Linear[];
  encode(inputFeatures: tf.Tensor3D, training?: boolean): tf.Tensor3D;
  forward(inputFeatures: tf.Tensor3D | null, decoderInputIds: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;
  generate(inputFeatures: tf.Tensor3D, opts?: GenerateOptions): Promise<GenerateOutput>;
}

/** PEFT's key for a LoRA matrix: base_model.model.<module>.lora_A.weight (adapter name not in the key). */
export function peftKey(moduleName: string, which: 'A' | 'B'): string {
  return `base_model.model.${moduleName}.lora_${which}.weight`;
}

export interface GetPeftModelOptions {
  adapterName?: string;
  /** Seeds the Kaiming init of A and the dropout masks (default 42). */
  seed?: number | string;
}

export class PeftModel implements SeedSource {
  readonly peftConfig: Record<string, LoraConfig> = {};
  /** LoRA branch per adapted Linear, by module name. */
  readonly loraLayers = new Map<string, LoraLayer>();
  activeAdapter = 'default';
  private dropoutRng: seedrandom.PRNG;

  constructor(readonly baseModel: PeftBaseModel, seed: number | string = 42) {
    this.dropoutRng = seedrandom(`dropout|${seed}`);
  }

  get config(): WhisperConfig {
    return this.baseModel.config;
  }

  /** Dropout seed for the next LoRA dropout call (SeedSource). */
  nextSeed(): number {
    return Math.floor(this.dropoutRng() * 2 ** 31);
  }

  /** Restarts the dropout stream; the trainer calls it per step so a resumed run draws the same masks. */
  reseedDropout(seed: string): void {
    this.dropoutRng = seedrandom(`dropout|${seed}`);
  }

  /** Adds adapter `name` on every Linear the config targets (PEFT's inject_adapter). */
  addAdapter(name: string, config: LoraConfig, seed: number | string = 42, src = 'LoraConfig'): void {
    if (this.peftConfig[name]) throw new Error(`addAdapter: an adapter named '${name}' already exists`);
    for (const lin of this.targets(config, src)) {
      let layer = this.loraLayers.get(lin.name);
      if (!layer) {
        layer = new LoraLayer(lin, this);
        lin.adapters.push(layer);
        this.loraLayers.set(lin.name, layer);
      }
      layer.add(name, config.r, config.scaling, config.loraDropout, String(seed));
    }
    this.peftConfig[name] = config;
    if (Object.keys(this.peftConfig).length === 1) this.setAdapter(name);
  }

  /**
   * The Linears `config` adapts, checked before anything is allocated: `r` must fit them. PEFT
   * accepts any r, but B A has rank at most min(in, out), so a larger r only costs memory (r = 1e9
   * asked for 384 GB on whisper-tiny).
   */
  private targets(config: LoraConfig, src: string): Linear[] {
    const targets = this.baseModel.linears().filter((l) => config.matches(l.name));
    if (!targets.length) {
      throw new Error(`${src}: target_modules ${JSON.stringify(config.targetModules)} match no Linear of this model ` +
        `(names look like 'model.decoder.layers.0.self_attn.q_proj')`);
    }
    const tied = targets.find((l) => l.name === 'proj_out');
    if (tied) throw new Error(`${src}: target_modules matches 'proj_out', which is tied to embed_tokens; adapting it is not supported`);
    const small = targets.reduce((a, b) => (Math.min(b.inFeatures, b.outFeatures) < Math.min(a.inFeatures, a.outFeatures) ? b : a));
    const limit = Math.min(small.inFeatures, small.outFeatures);
    if (config.r > limit) {
      throw new Error(`${src}: field 'r' is ${config.r}, more than ${limit} = min(in_features, out_features) of ` +
        `${small.name} [${small.outFeatures}, ${small.inFeatures}]; a larger rank adds nothing (use r <= ${limit})`);
    }
    return targets;
  }

  /** PEFT key -> [r, in] or [out, r] for each matrix `config` would create (nothing allocated). */
  private adapterShapes(config: LoraConfig, src: string): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const l of this.targets(config, src)) {
      out.set(peftKey(l.name, 'A'), [config.r, l.inFeatures]);
      out.set(peftKey(l.name, 'B'), [l.outFeatures, config.r]);
    }
    return out;
  }

  /** Makes `name` the adapter used by forward/generate and the one trained (PEFT set_adapter). */
  setAdapter(name: string): void {
    if (!this.peftConfig[name]) throw new Error(`setAdapter: no adapter '${name}' (have: ${Object.keys(this.peftConfig).join(', ')})`);
    this.activeAdapter = name;
    for (const l of this.loraLayers.values()) l.active = l.adapters.has(name) ? name : null;
  }

  deleteAdapter(name: string): void {
    if (!this.peftConfig[name]) throw new Error(`deleteAdapter: no adapter '${name}'`);
    for (const [k, l] of this.loraLayers) {
      l.delete(name);
      if (!l.adapters.size) this.detach(k, l);
    }
    delete this.peftConfig[name];
    if (this.activeAdapter === name) {
      const rest = Object.keys(this.peftConfig);
      if (rest.length) this.setAdapter(rest[0]);
    }
  }

  /** Runs `fn` with all adapters off (the base model's behaviour), like `with model.disable_adapter():`. */
  withAdapterDisabled<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.withLayersActive(null, fn);
  }

  /** Runs `fn` with adapter `name` on, whatever the layers had before (restored afterwards). */
  withAdapter<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    if (!this.peftConfig[name]) throw new Error(`withAdapter: no adapter '${name}'`);
    return this.withLayersActive(name, fn);
  }

  /** PEFT's disable_adapter_layers(): the model behaves as the base until setAdapter or withAdapter. */
  disableAdapterLayers(): void {
    for (const l of this.loraLayers.values()) l.active = null;
  }

  private async withLayersActive<T>(name: string | null, fn: () => T | Promise<T>): Promise<T> {
    const saved = [...this.loraLayers.values()].map((l) => [l, l.active] as const);
    for (const [l] of saved) l.active = name !== null && l.adapters.has(name) ? name : null;
    try {
      return await fn();
    } finally {
      for (const [l, a] of saved) l.active = a;
    }
  }

  /** True when some encoder Linear carries the active adapter (then its output cannot be cached). */
  adaptsEncoder(name = this.activeAdapter): boolean {
    return [...this.loraLayers.values()].some((l) => l.adapters.has(name) && !l.merged.has(name) && l.linear.name.includes('.encoder.'));
  }

  /** The trainable variables of one adapter, in a stable order (A then B per module). */
  trainableVariables(name = this.activeAdapter): tf.Variable[] {
    return [...this.namedTrainableVariables(name).values()];
  }

  /** PEFT key -> variable, e.g. base_model.model.model.decoder.layers.0.self_attn.q_proj.lora_A.weight. */
  namedTrainableVariables(name = this.activeAdapter): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [mod, l] of this.loraLayers) {
      const w = l.adapters.get(name);
      if (!w) continue;
      out.set(peftKey(mod, 'A'), w.loraA);
      out.set(peftKey(mod, 'B'), w.loraB);
    }
    return out;
  }

  /** [trainable, all] like PEFT's get_nb_trainable_parameters (all = base + every adapter). */
  getNbTrainableParameters(): [number, number] {
    const trainable = this.trainableVariables().reduce((s, v) => s + v.size, 0);
    let adapters = 0;
    for (const n of Object.keys(this.peftConfig)) adapters += this.trainableVariables(n).reduce((s, v) => s + v.size, 0);
    return [trainable, countParameters(this.config) + adapters];
  }

  /** PEFT's line: "trainable params: N || all params: M || trainable%: P". */
  trainableParametersLine(): string {
    const [t, all] = this.getNbTrainableParameters();
    return formatTrainableParameters(t, all);
  }

  /** Prints PEFT's line (returns nothing, so a notebook does not echo it twice). */
  printTrainableParameters(): void {
    console.log(this.trainableParametersLine());
  }

  encode(inputFeatures: tf.Tensor3D, training = false): tf.Tensor3D {
    return this.baseModel.encode(inputFeatures, training);
  }

  forward(inputFeatures: tf.Tensor3D | null, decoderInputIds: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return this.baseModel.forward(inputFeatures, decoderInputIds, opts);
  }

  generate(inputFeatures: tf.Tensor3D, opts: GenerateOptions = {}): Promise<GenerateOutput> {
    return this.baseModel.generate(inputFeatures, opts);
  }

  // The base model's parts, as PEFT forwards attributes: decoding and `transcribe` take a PeftModel
  // like the model it wraps (the adapters sit in the base's Linears).
  get specialTokens(): SpecialTokens {
    return this.baseModel.specialTokens;
  }

  get decoder(): PeftBaseModel['decoder'] {
    return this.baseModel.decoder;
  }

  logits(hidden: tf.Tensor3D): tf.Tensor3D {
    return this.baseModel.logits(hidden);
  }

  /** The adapter's tensors under PEFT key names, copied to float32 arrays. */
  adapterStateDict(name = this.activeAdapter): Record<string, LoadedTensor> {
    const out: Record<string, LoadedTensor> = {};
    for (const [k, v] of this.namedTrainableVariables(name)) out[k] = { shape: v.shape, data: v.dataSync() as Float32Array };
    return out;
  }

  /**
   * Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors` (F32, PEFT keys), the
   * layout `PeftModel.from_pretrained` reads, and a model card (README.md) so the folder can be
   * uploaded as it is. Written to a temporary folder first, then renamed, so a crash never leaves
   * half an adapter.
   */
  saveAdapter(dir: string, opts: { adapterName?: string; card?: ModelCardInfo } = {}): void {
    const name = opts.adapterName ?? this.activeAdapter;
    if (!this.peftConfig[name]) throw new Error(`saveAdapter: no adapter '${name}'`);
    atomicWriteDir(dir, (tmp) => {
      this.writeAdapterFiles(tmp, name);
      writeModelCard(tmp, { modelName: path.basename(path.resolve(dir)), ...opts.card });
    });
  }

  /**
   * PEFT's `push_to_hub(repo_id)`: saves the adapter (with its card) to a temporary folder and
   * uploads it as one commit (src/hub/push.ts).
   */
  async pushToHub(repoId: string, opts: PushOptions & { adapterName?: string } = {}): Promise<PushResult> {
    const { pushToHub } = await import('../hub/push');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'push-adapter-'));
    try {
      const dir = path.join(tmp, repoId.split('/').pop() ?? 'adapter');
      this.saveAdapter(dir, { adapterName: opts.adapterName, card: { modelName: repoId, ...opts.card } });
      return await pushToHub(dir, repoId, opts);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Writes the two adapter files into an existing folder (no atomic swap; checkpoints use it). */
  writeAdapterFiles(dir: string, name = this.activeAdapter): void {
    const cfg = this.peftConfig[name];
    if (!cfg) throw new Error(`saveAdapter: no adapter '${name}'`);
    const json = cfg.toJSON();
    // PEFT records the Hub id; config.json's _name_or_path has it even for a local copy.
    const hubId = this.config.raw?.NameOrPath;
    json.base_model_name_or_path = cfg.baseModelNameOrPath ?? (typeof hubId === 'string' && hubId ? hubId : this.baseModel.dir ?? null);
    json.inference_mode = true; // PEFT sets it on save
    fs.writeFileSync(path.join(dir, ADAPTER_CONFIG_NAME), JSON.stringify(json, null, 2) + '\n');
    saveSafetensors(path.join(dir, ADAPTER_WEIGHTS_NAME), this.adapterStateDict(name), { format: 'pt' });
  }

  /** PEFT's name for saveAdapter. */
  savePretrained(dir: string, opts: { adapterName?: string; card?: ModelCardInfo } = {}): void {
    this.saveAdapter(dir, opts);
  }

  /**
   * Loads a PEFT adapter folder as adapter `adapterName` (created when missing, overwritten in
   * place when it exists, e.g. when resuming training). Every key and shape is checked first.
   */
  loadAdapter(dir: string | Files, adapterName = 'default'): LoraConfig {
    const files = asFiles(dir);
    const configFile = files.path(ADAPTER_CONFIG_NAME);
    const cfg = LoraConfig.fromJSON(readJson(files, ADAPTER_CONFIG_NAME, 'adapter config'), configFile);
    cfg.inferenceMode = false;
    const file = files.path(ADAPTER_WEIGHTS_NAME);
    const header = safetensorsHeader(files, ADAPTER_WEIGHTS_NAME);
    const fresh = !this.peftConfig[adapterName];
    // Names and shapes come from the config (or the adapter being overwritten) and are checked
    // against the file's header before a single matrix is allocated.
    const expected = fresh ? this.adapterShapes(cfg, configFile)
      : new Map([...this.namedTrainableVariables(adapterName)].map(([k, v]) => [k, v.shape as number[]]));
    const missing = [...expected.keys()].filter((k) => !header.tensors.has(k));
    const extra = [...header.tensors.keys()].filter((k) => !expected.has(k));
    if (missing.length || extra.length) {
      throw new Error(`${file}: keys do not match the LoRA config (${missing.length} missing, e.g. ${missing[0] ?? '-'}; ` +
        `${extra.length} unexpected, e.g. ${extra[0] ?? '-'})`);
    }
    const weights = readTensors(files, header, expected, fresh ? configFile : `adapter '${adapterName}' of this model`);
    for (const key of weights.keys()) {
      if (key.endsWith('.lora_A.weight')) checkUpdateSize(file, key, key.replace(/lora_A\.weight$/, 'lora_B.weight'), weights, cfg.scaling);
    }
    if (fresh) this.addAdapter(adapterName, cfg, 42, configFile);
    for (const [k, v] of this.namedTrainableVariables(adapterName)) {
      const t = tf.tensor(weights.get(k)!.data, v.shape);
      v.assign(t);
      t.dispose();
    }
    this.peftConfig[adapterName] = cfg;
    return cfg;
  }

  /** PEFT's PeftModel.from_pretrained(model, dir): a PeftModel with the saved adapter loaded. */
  static fromPretrained(model: PeftBaseModel, dir: string | Files, adapterName = 'default'): PeftModel {
    const p = new PeftModel(model);
    p.loadAdapter(dir, adapterName);
    p.setAdapter(adapterName);
    return p;
  }

  /**
   * Folds the adapter into the base weights (forward then skips the branch). All or nothing, like
   * PEFT's safe_merge: every merged weight is computed and checked to be finite before any is
   * replaced, and a base stored as int8 or float16 bytes is refused (its weight cannot take a
   * float32 update without losing it to rounding).
   */
  merge(name = this.activeAdapter): void {
    const layers = [...this.loraLayers.values()].filter((l) => l.adapters.has(name) && !l.merged.has(name));
    const merged: tf.Tensor2D[] = [];
    try {
      for (const l of layers) merged.push(l.mergedWeight(name));
    } catch (e) {
      tf.dispose(merged);
      throw e;
    }
    layers.forEach((l, i) => l.setMerged(name, merged[i]));
  }

  /** Undoes merge: subtracts scaling * B A again. */
  unmerge(): void {
    for (const l of this.loraLayers.values()) for (const n of [...l.merged]) l.unmerge(n);
  }

  /** Merges the active adapter, removes every LoRA branch and returns the plain base model. */
  mergeAndUnload(): PeftBaseModel {
    this.merge();
    for (const [k, l] of this.loraLayers) {
      l.merged.clear(); // keep the merged weights: deleting must not unmerge
      l.dispose();
      this.detach(k, l);
    }
    for (const n of Object.keys(this.peftConfig)) delete this.peftConfig[n];
    return this.baseModel;
  }

  private detach(key: string, l: LoraLayer): void {
    l.linear.adapters = l.linear.adapters.filter((a) => a !== l);
    this.loraLayers.delete(key);
  }

  /** Frees the adapters (not the base model) and removes them from the Linears. */
  dispose(): void {
    for (const [k, l] of this.loraLayers) {
      l.dispose();
      this.detach(k, l);
    }
  }
}

/** PEFT's get_peft_model: wraps a (frozen) base model and adds adapter `adapterName`. */
export function getPeftModel(model: PeftBaseModel, config: LoraConfig, opts: GetPeftModelOptions = {}): PeftModel {
  const p = new PeftModel(model, opts.seed ?? 42);
  p.addAdapter(opts.adapterName ?? 'default', config, opts.seed ?? 42);
  return p;
}

/**
 * Refuses an adapter whose update scaling * B A is not finite or dwarfs any weight: with all
 * weights 1e30 the branch overflows float32 and the CLI printed "!!!!" with exit 0. Whisper's own
 * weights are well below 10 in magnitude; an update entry above MAX_UPDATE does not fine-tune a
 * layer, it replaces it by noise (and the next LayerNorm's squares overflow). The cheap bound
 * scaling * r * max|A| * max|B| settles almost every adapter; only above it is B A computed.
 */
const MAX_UPDATE = 1e4;
function checkUpdateSize(file: string, aKey: string, bKey: string, weights: Map<string, LoadedTensor>, scaling: number): void {
  const [a, b] = [weights.get(aKey)!, weights.get(bKey)!];
  const maxAbs = (x: Float32Array) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const r = a.shape[0];
  if (scaling * r * maxAbs(a.data) * maxAbs(b.data) <= MAX_UPDATE) return;
  const largest = tf.tidy(() => tf.max(tf.abs(tf.mul(tf.matMul(tf.tensor2d(b.data, b.shape as [number, number]),
    tf.tensor2d(a.data, a.shape as [number, number])), scaling))).dataSync()[0]);
  if (!(largest <= MAX_UPDATE)) {
    throw new Error(`${file}: tensors '${aKey}' and '${bKey}': the update scaling * B A ` +
      `reaches ${largest} (limit ${MAX_UPDATE}); these weights would give garbage (a run that diverged, or a damaged file)`);
  }
}
