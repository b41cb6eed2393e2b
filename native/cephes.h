// exp(z) as the wasm kernels compute it (src/backend/wasm/simd.ts): Cephes' expf polynomial, 2^n
// put in the exponent bits, z clamped at -87 (where expf is subnormal or 0 anyway). The addon's
// GELU, softmax and attention use this one so that they give the wasm kernels' bits. Rounds to
// nearest even (rintf in the default rounding mode); callers build with -ffp-contract=off.
#pragma once
#include <stdint.h>
#include <string.h>

static inline float expCephes(float z) {
  z = z > -87.f ? z : -87.f;
  float n = __builtin_rintf(z * 1.44269504f);
  float r = (z - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = ((p * r) * r + r) + 1.f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, 4);
  return p * scale;
}
