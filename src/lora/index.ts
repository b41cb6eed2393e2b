export { LoraConfig } from './config';
export type { LoraConfigInit, TargetModules } from './config';
export { countParameters, formatTrainableParameters, trainableParametersLine, modelSummary } from './count';
export type { LinearSpec, ModelSummaryRow } from './count';
export { LoraLayer } from './layer';
export { PeftModel, getPeftModel, peftKey, atomicWriteDir, ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from './peft';
export type { PeftBaseModel, GetPeftModelOptions } from './peft';
