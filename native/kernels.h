// The addon's kernels that native/step.cc composes into a whole generation step: each is also an
// addon function of its own (dnnl.cc: layerNorm, gelu; decode.cc: linearRows, attend), so the
// step computes what those calls compute, with the same bits.
#pragma once
#include <stdint.h>

// A weight kept outside the heap (rows x cols): decode.cc packWeight. As float16 (`half`), where
// that is exact; or, for a rough copy (a draft model's), as int8 with one scale per row (`q`,
// `scales`), where only the bytes read count.
struct Packed {
  int64_t rows, cols;
  uint16_t* half;
  int8_t* q = nullptr;
  float* scales = nullptr;
  int64_t bytes() const { return q ? rows * cols + rows * 4 : rows * cols * 2; }
};

// dnnl.cc: wasm's LayerNorm of `rows` rows (at most LN_ROWS), with n and r as its other outputs.
static const int64_t LN_ROWS = 8;
void layerNormRows(const float* x, const float* w, const float* b, float eps, float* out, float* nOut, float* rOut,
                   int64_t rows, int64_t d);
// dnnl.cc: wasm's GELU of n values (deriv may be null).
void geluRange(const float* x, float* value, float* deriv, int64_t n);
// decode.cc: out = ((x w^T) + b) * scale + res for x [rows, n], w [m, n] (float32 w, or `packed`
// when not null); b, res may be null; res may be out.
void linearRowsOn(const float* x, const float* w, const Packed* packed, const float* b, const float* res, float* out,
                  int64_t rows, int64_t n, int64_t m, float scale);
// decode.cc: row b of q [B, T, d] attends to the first len positions of kT[b] [d, cap[b]] and v[b]
// [cap[b], d]; query i sees len - T + 1 + i positions when causal.
void attendOn(const float* q, const float* const* kT, const float* const* v, const int64_t* cap, float* out,
              int64_t B, int64_t T, int64_t d, int64_t heads, int64_t len, bool causal);
