/**
 * The backend boundary: which TensorFlow.js backend runs (select.ts), and the operations the
 * model calls (ops.ts), each a plain tfjs formula unless the active backend registered its own
 * way (wasm/). Everything backend-specific lives in this folder.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export { initBackend, describeBackend } from './select';
export type { BackendName, BackendReport } from './select';
export { setMatmulPrecision, getMatmulPrecision, roughProducts } from './native';
export type { MatmulPrecision } from './native';
export {
  linear, affine, prepareLinear, matMulT, layerNorm, gelu, softmaxBackward, softmaxTimes,
  keyValue, concatKeyValue, gatherKeyValue, sliceKeyValue, attention, decoderStep, expSum, tokenNll, heapLimitBytes, prefetch, DerivedTensors, isTrainable,
} from './ops';
export type { FrozenWeight, KeyValue } from './ops';
export { quantize, toFloat16, dequantize } from './quantized';
export type { Int8Weight, Float16Weight, QuantizedWeight, WeightDtype } from './quantized';
