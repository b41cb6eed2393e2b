/**
 * LoraConfig: the settings of a LoRA adapter, with PEFT's `adapter_config.json` field names on disk
 * so an adapter saved here loads in Python PEFT (and the other way round).
 */

import { FullMatchPattern } from './pattern';

export type TargetModules = string[] | string;

export interface LoraConfigInit {
  /** Rank of the update B A (the bottleneck width). */
  r?: number;
  /** Scaling numerator: the update is multiplied by loraAlpha / r (or / sqrt(r) with useRslora). */
  loraAlpha?: number;
  /** Dropout applied to the adapter's input, in training only. */
  loraDropout?: number;
  /** Module names (matched by PEFT's suffix rule) or one regex string (must match the full name). */
  targetModules?: TargetModules;
  bias?: 'none';
  useRslora?: boolean;
  /** Written as base_model_name_or_path. */
  baseModelNameOrPath?: string | null;
  taskType?: string;
  inferenceMode?: boolean;
}

export class LoraConfig {
  readonly peftType = 'LORA';
  r = 8;
  loraAlpha = 8;
  loraDropout = 0;
  targetModules: TargetModules = ['q_proj', 'v_proj'];
  bias: 'none' = 'none';
  useRslora = false;
  baseModelNameOrPath: string | null = null;
  // PEFT's Whisper tutorials use SEQ_2_SEQ_LM; kept for the on-disk config.
  taskType = 'SEQ_2_SEQ_LM';
  inferenceMode = false;
  private compiled?: FullMatchPattern;

  constructor(init: LoraConfigInit = {}) {
    Object.assign(this, Object.fromEntries(Object.entries(init).filter(([, v]) => v !== undefined)));
    this.validate();
  }

  /** The factor applied to B A x: alpha / r, or alpha / sqrt(r) with rank-stabilized LoRA. */
  get scaling(): number {
    return this.useRslora ? this.loraAlpha / Math.sqrt(this.r) : this.loraAlpha / this.r;
  }

  validate(src = 'LoraConfig'): void {
    if (!Number.isInteger(this.r) || this.r <= 0) throw new Error(`${src}: field 'r' must be a positive integer, got ${JSON.stringify(this.r)}`);
    if (typeof this.loraAlpha !== 'number' || !(this.loraAlpha > 0)) throw new Error(`${src}: field 'lora_alpha' must be a positive number, got ${JSON.stringify(this.loraAlpha)}`);
    if (typeof this.loraDropout !== 'number' || this.loraDropout < 0 || this.loraDropout >= 1) {
      throw new Error(`${src}: field 'lora_dropout' must be in [0, 1), got ${JSON.stringify(this.loraDropout)}`);
    }
    if (this.bias !== 'none') throw new Error(`${src}: field 'bias' is '${this.bias}'; only 'none' is supported`);
    const t = this.targetModules;
    if (typeof t === 'string') {
      try {
        this.pattern();
      } catch (e) {
        throw new Error(`${src}: field 'target_modules' ${JSON.stringify(t)} is not a regex this loader matches: ${(e as Error).message}`);
      }
    } else if (!Array.isArray(t) || t.length === 0 || !t.every((x) => typeof x === 'string' && x.length > 0)) {
      throw new Error(`${src}: field 'target_modules' must be a non-empty list of module names or a regex string`);
    }
  }

  /**
   * PEFT's rule (check_target_module_exists): a regex string must match the whole module name;
   * a list entry matches when it equals the name or the name ends with "." + entry.
   */
  matches(moduleName: string): boolean {
    const t = this.targetModules;
    if (typeof t === 'string') return this.pattern().fullMatch(moduleName);
    return t.some((k) => moduleName === k || moduleName.endsWith('.' + k));
  }

  /** The compiled regex target_modules (linear-time: see pattern.ts), compiled once per string. */
  private pattern(): FullMatchPattern {
    const t = this.targetModules as string;
    if (this.compiled?.source !== t) this.compiled = new FullMatchPattern(t);
    return this.compiled;
  }

  /** adapter_config.json as PEFT writes it (fields PEFT has but we do not use keep their defaults). */
  toJSON(): Record<string, unknown> {
    return {
      alpha_pattern: {},
      auto_mapping: null,
      base_model_name_or_path: this.baseModelNameOrPath,
      bias: this.bias,
      fan_in_fan_out: false,
      inference_mode: this.inferenceMode,
      init_lora_weights: true,
      layer_replication: null,
      layers_pattern: null,
      layers_to_transform: null,
      loftq_config: {},
      lora_alpha: this.loraAlpha,
      lora_dropout: this.loraDropout,
      megatron_config: null,
      megatron_core: 'megatron.core',
      modules_to_save: null,
      peft_type: this.peftType,
      r: this.r,
      rank_pattern: {},
      revision: null,
      target_modules: typeof this.targetModules === 'string' ? this.targetModules : [...this.targetModules],
      task_type: this.taskType,
      use_dora: false,
      use_rslora: this.useRslora,
    };
  }

  /** Reads a PEFT adapter_config.json object; rejects settings we would silently get wrong. */
  static fromJSON(obj: Record<string, unknown>, src = 'adapter_config.json'): LoraConfig {
    if (obj === null || typeof obj !== 'object') throw new Error(`${src}: must be a JSON object`);
    if (obj.peft_type !== undefined && obj.peft_type !== 'LORA') throw new Error(`${src}: field 'peft_type' is ${JSON.stringify(obj.peft_type)}; only "LORA" is supported`);
    if (obj.fan_in_fan_out === true) throw new Error(`${src}: field 'fan_in_fan_out' true is not supported (Whisper uses nn.Linear)`);
    if (obj.use_dora === true) throw new Error(`${src}: field 'use_dora' true is not supported`);
    for (const k of ['rank_pattern', 'alpha_pattern'] as const) {
      const v = obj[k];
      if (v && typeof v === 'object' && Object.keys(v).length) throw new Error(`${src}: field '${k}' (per-module ranks) is not supported`);
    }
    let targets = obj.target_modules as TargetModules | undefined;
    if (targets === null || targets === undefined) throw new Error(`${src}: field 'target_modules' is missing`);
    const c = new LoraConfig();
    c.r = obj.r as number;
    c.loraAlpha = (obj.lora_alpha ?? 8) as number;
    c.loraDropout = (obj.lora_dropout ?? 0) as number;
    c.targetModules = Array.isArray(targets) ? [...targets] : targets;
    c.bias = (obj.bias ?? 'none') as 'none';
    c.useRslora = Boolean(obj.use_rslora);
    c.baseModelNameOrPath = (obj.base_model_name_or_path ?? null) as string | null;
    c.taskType = (obj.task_type ?? 'SEQ_2_SEQ_LM') as string;
    c.inferenceMode = Boolean(obj.inference_mode);
    c.validate(src);
    return c;
  }
}
