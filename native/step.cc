// A whole generation step of Whisper's decoder in one call (src/backend/native.ts decoderStep):
// what model/decoder.ts `step` computes kernel by kernel, here as the same kernels (kernels.h) one
// after the other, with the activations in a scratch buffer of this thread instead of the wasm
// heap. The result has the same bits as the step's own kernels; what the one call saves is the
// JavaScript between them (tfjs bookkeeping for about 70 kernels a step).
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include <vector>
#include "kernels.h"
#include "napi.h"

namespace {

// The plan's layout (Int32Array; heap offsets in floats, -1 for an absent bias):
// a header, the token ids' own offset among them, then per layer its weights, then per layer the
// cross-attention length and per batch row its caches.
enum Header { B_, T_, D_, HEADS, LAYERS, FFN, OFFSET, IDS, TOKENS, VOCAB, POSITIONS, MAX_POS, OUT, NORM_W, NORM_B, HEADER };
enum Layer {
  SELF_LN_W, SELF_LN_B, Q_W, Q_B, K_W, V_W, V_B, O_W, O_B,
  CROSS_LN_W, CROSS_LN_B, CQ_W, CQ_B, CO_W, CO_B,
  MLP_LN_W, MLP_LN_B, FC1_W, FC1_B, FC2_W, FC2_B, LAYER
};
// Per batch row of a layer: self-attention keys (transposed, [d, cap]) and values ([cap, d]),
// their room, the audio's keys and values and their room.
enum Row { SELF_K, SELF_V, SELF_CAP, CROSS_K, CROSS_V, CROSS_CAP, ROW };
// The Linears of a layer in `packed` (float16 copies, or null: float32 in the heap).
enum Linear { LQ, LK, LV, LO, LCQ, LCO, LFC1, LFC2, LINEARS };

}  // namespace

// decoderStep(heap, plan, packed, scaling, eps): writes the final LayerNorm's output [B, T, d] to
// plan[OUT] and this step's keys and values into the self-attention caches at positions
// offset..offset+T-1 (each must have room for them).
napi_value DecoderStep(napi_env env, napi_callback_info info) {
  const char* fn = "decoderStep";
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 5) return fail(env, fn, "5 arguments (heap, plan, packed, scaling, eps)"), nullptr;
  float* heap;
  size_t length;
  if (!heapOf(env, argv[0], &heap, &length, fn)) return nullptr;
  bool is = false;
  napi_typedarray_type type;
  size_t planLength = 0;
  void* planData = nullptr;
  if (napi_is_typedarray(env, argv[1], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[1], &type, &planLength, &planData, nullptr, nullptr) != napi_ok || type != napi_int32_array)
    return fail(env, fn, "the plan must be an Int32Array"), nullptr;
  const int32_t* plan = static_cast<const int32_t*>(planData);
  double scaling, eps;
  CHECK(napi_get_value_double(env, argv[3], &scaling));
  CHECK(napi_get_value_double(env, argv[4], &eps));
  if (planLength < HEADER) return fail(env, fn, "the plan is shorter than its header"), nullptr;
  const int64_t B = plan[B_], T = plan[T_], d = plan[D_], H = plan[HEADS], L = plan[LAYERS], ffn = plan[FFN], offset = plan[OFFSET];
  const int64_t vocab = plan[VOCAB], maxPos = plan[MAX_POS], R = B * T;
  if (B <= 0 || T <= 0 || d <= 0 || H <= 0 || L <= 0 || ffn <= 0 || d % H != 0 || d % 4 != 0 || ffn % 4 != 0 || R > 64 ||
      offset < 0 || offset + T > maxPos || vocab <= 0)
    return fail(env, fn, "sizes out of range"), nullptr;
  if ((int64_t)planLength != HEADER + L * LAYER + L * (1 + B * ROW)) return fail(env, fn, "the plan's length does not match its sizes"), nullptr;
  const int32_t* layers = plan + HEADER;
  const int32_t* caches = layers + L * LAYER;

  // Every operand inside the heap before anything is read or written.
  if (!inHeap(plan[IDS], R, length) || !inHeap(plan[TOKENS], vocab * d, length) || !inHeap(plan[POSITIONS], maxPos * d, length) ||
      !inHeap(plan[OUT], R * d, length) || !inHeap(plan[NORM_W], d, length) || !inHeap(plan[NORM_B], d, length))
    return fail(env, fn, "an operand reaches outside the heap"), nullptr;
  const int32_t* ids = reinterpret_cast<const int32_t*>(heap) + plan[IDS];
  for (int64_t i = 0; i < R; i++)
    if (ids[i] < 0 || ids[i] >= vocab) return fail(env, fn, "a token id outside the vocabulary"), nullptr;
  uint32_t packedCount = 0;
  if (napi_is_array(env, argv[2], &is) != napi_ok || !is || napi_get_array_length(env, argv[2], &packedCount) != napi_ok ||
      (int64_t)packedCount != L * LINEARS)
    return fail(env, fn, "packed: one entry (a packed weight or null) per Linear"), nullptr;
  std::vector<const Packed*> packed(L * LINEARS, nullptr);
  const int64_t shapes[LINEARS][2] = {{d, d}, {d, d}, {d, d}, {d, d}, {d, d}, {d, d}, {ffn, d}, {d, ffn}};  // [out, in]
  const int weightAt[LINEARS] = {Q_W, K_W, V_W, O_W, CQ_W, CO_W, FC1_W, FC2_W};
  const int biasAt[LINEARS] = {Q_B, -1, V_B, O_B, CQ_B, CO_B, FC1_B, FC2_B};
  for (int64_t l = 0; l < L; l++) {
    const int32_t* w = layers + l * LAYER;
    for (int j : {SELF_LN_W, SELF_LN_B, CROSS_LN_W, CROSS_LN_B, MLP_LN_W, MLP_LN_B})
      if (!inHeap(w[j], d, length)) return fail(env, fn, "a LayerNorm weight reaches outside the heap"), nullptr;
    for (int j = 0; j < LINEARS; j++) {
      napi_value e;
      napi_valuetype t;
      CHECK(napi_get_element(env, argv[2], (uint32_t)(l * LINEARS + j), &e));
      CHECK(napi_typeof(env, e, &t));
      const int64_t m = shapes[j][0], n = shapes[j][1];
      if (t == napi_external) {
        void* p;
        CHECK(napi_get_value_external(env, e, &p));
        packed[l * LINEARS + j] = static_cast<const Packed*>(p);
        if (packed[l * LINEARS + j]->rows != m || packed[l * LINEARS + j]->cols != n) return fail(env, fn, "a packed weight of another shape"), nullptr;
      } else if (t != napi_null) {
        return fail(env, fn, "packed: a packed weight or null expected"), nullptr;
      } else if (!inHeap(w[weightAt[j]], m * n, length)) {
        return fail(env, fn, "a weight reaches outside the heap"), nullptr;
      }
      if (biasAt[j] >= 0 && !inHeap(w[biasAt[j]], m, length, true)) return fail(env, fn, "a bias reaches outside the heap"), nullptr;
    }
    const int32_t* c = caches + l * (1 + B * ROW);
    for (int64_t b = 0; b < B; b++) {
      const int32_t* r = c + 1 + b * ROW;
      if (r[SELF_CAP] < offset + T || !inHeap(r[SELF_K], d * (int64_t)r[SELF_CAP], length) || !inHeap(r[SELF_V], (int64_t)r[SELF_CAP] * d, length) ||
          c[0] <= 0 || r[CROSS_CAP] < c[0] || !inHeap(r[CROSS_K], d * (int64_t)r[CROSS_CAP], length) ||
          !inHeap(r[CROSS_V], (int64_t)r[CROSS_CAP] * d, length))
        return fail(env, fn, "a row's keys or values reach outside the heap or have no room for this step"), nullptr;
    }
  }

  // x: the residual stream; h: its LayerNorm; q, k, v; a: attention's output; f: the MLP's hidden
  // layer; nScratch, rScratch: LayerNorm's other outputs, not needed here.
  thread_local std::vector<float> scratch;
  scratch.resize(R * (7 * d + ffn) + R);
  float *x = scratch.data(), *h = x + R * d, *q = h + R * d, *k = q + R * d, *v = k + R * d, *a = v + R * d,
        *nScratch = a + R * d, *f = nScratch + R * d, *rScratch = f + R * ffn;
  const float *tokens = heap + plan[TOKENS], *positions = heap + plan[POSITIONS];
  for (int64_t i = 0; i < R; i++)
    for (int64_t j = 0; j < d; j++) x[i * d + j] = tokens[ids[i] * d + j] + positions[(offset + i % T) * d + j];
  auto norm = [&](const float* in, int32_t w, int32_t b, float* out) {
    for (int64_t i0 = 0; i0 < R; i0 += LN_ROWS)
      layerNormRows(in + i0 * d, heap + w, heap + b, (float)eps, out + i0 * d, nScratch + i0 * d, rScratch + i0,
                    R - i0 < LN_ROWS ? R - i0 : LN_ROWS, d);
  };
  std::vector<float*> selfK(B), selfV(B);
  std::vector<const float*> crossK(B), crossV(B);
  std::vector<int64_t> selfCap(B), crossCap(B);
  for (int64_t l = 0; l < L; l++) {
    const int32_t* w = layers + l * LAYER;
    const Packed* const* p = packed.data() + l * LINEARS;
    auto linear = [&](int j, const float* in, const float* res, float* out, float scale) {
      const int32_t b = biasAt[j] >= 0 ? w[biasAt[j]] : -1;
      linearRowsOn(in, heap + w[weightAt[j]], p[j], b < 0 ? nullptr : heap + b, res, out, R, shapes[j][1], shapes[j][0], scale);
    };
    const int32_t* c = caches + l * (1 + B * ROW);
    for (int64_t b = 0; b < B; b++) {
      const int32_t* r = c + 1 + b * ROW;
      selfK[b] = heap + r[SELF_K], selfV[b] = heap + r[SELF_V], selfCap[b] = r[SELF_CAP];
      crossK[b] = heap + r[CROSS_K], crossV[b] = heap + r[CROSS_V], crossCap[b] = r[CROSS_CAP];
    }
    // x + self_attn(ln(x)), this step's keys and values joining the cache first.
    norm(x, w[SELF_LN_W], w[SELF_LN_B], h);
    linear(LQ, h, nullptr, q, (float)scaling);
    linear(LK, h, nullptr, k, 1.f);
    linear(LV, h, nullptr, v, 1.f);
    for (int64_t i = 0; i < R; i++) {
      const int64_t b = i / T, at = offset + i % T;
      for (int64_t j = 0; j < d; j++) selfK[b][j * selfCap[b] + at] = k[i * d + j];
      memcpy(selfV[b] + at * d, v + i * d, d * sizeof(float));
    }
    attendOn(q, selfK.data(), selfV.data(), selfCap.data(), a, B, T, d, H, offset + T, T > 1);
    linear(LO, a, x, x, 1.f);
    // x + encoder_attn(ln(x)) over the audio.
    norm(x, w[CROSS_LN_W], w[CROSS_LN_B], h);
    linear(LCQ, h, nullptr, q, (float)scaling);
    attendOn(q, crossK.data(), crossV.data(), crossCap.data(), a, B, T, d, H, c[0], false);
    linear(LCO, a, x, x, 1.f);
    // x + fc2(gelu(fc1(ln(x))))
    norm(x, w[MLP_LN_W], w[MLP_LN_B], h);
    linear(LFC1, h, nullptr, f, 1.f);
    geluRange(f, f, nullptr, R * ffn);
    linear(LFC2, f, x, x, 1.f);
  }
  norm(x, plan[NORM_W], plan[NORM_B], heap + plan[OUT]);
  return nullptr;
}
