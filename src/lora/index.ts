export { LoraConfig } from './config';
export type { LoraConfigInit, TargetModules } from './config';
export { countParameters, countLoraParameters, linearSpecs, targetedLinears, formatTrainableParameters, trainableParametersLine, modelSummary } from './count';
export type { LinearSpec, SummaryRow } from './count';
export { LoraLayer, kaimingUniformA } from './layer';
export { PeftModel, getPeftModel, peftKey, atomicWriteDir, readSafetensorsFile, ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from './peft';
export type { PeftBaseModel, GetPeftModelOptions } from './peft';
