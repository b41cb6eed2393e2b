// whisper_dnnl: the model's matrix products on the CPU's own vector units (AVX-512, FMA) through
// oneDNN (dnnl_sgemm; its matmul primitive for a Linear with bias, scaling and residual), and the
// passes that dominate once the products are fast (GELU, LayerNorm, softmax, attention of many
// queries with every head in one call, a loss's exp) in OpenMP threads, on float32 memory where
// it already lives (a Float32Array view on the wasm heap, which is a SharedArrayBuffer in the
// threaded build). Plain Node-API (no node-addon-api), so that it builds against the installed
// Node's headers alone. Called synchronously from the JS thread, between wasm kernels: nothing
// else touches the heap while a product runs.
#include <node_api.h>
#include <dnnl.h>
#include <dnnl.hpp>
#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include "cephes.h"
#include "kernels.h"
#include "napi.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <atomic>
#include <map>
#include <unordered_map>
#include <tuple>
#include <vector>


static bool throwError(napi_env env, const char* msg) {
  napi_throw_error(env, nullptr, msg);
  return false;
}

static bool getInt(napi_env env, napi_value v, int64_t* out, const char* name) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    char buf[128];
    snprintf(buf, sizeof buf, "whisper_dnnl.sgemm: %s must be a number", name);
    return throwError(env, buf);
  }
  return true;
}

// A Float32Array's data pointer and length (in floats); works on views of a SharedArrayBuffer.
static bool getFloats(napi_env env, napi_value v, float** data, size_t* length, const char* name) {
  bool is = false;
  napi_typedarray_type type;
  void* ptr = nullptr;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, length, &ptr, nullptr, nullptr) != napi_ok ||
      type != napi_float32_array) {
    char buf[128];
    snprintf(buf, sizeof buf, "whisper_dnnl.sgemm: %s must be a Float32Array", name);
    return throwError(env, buf);
  }
  *data = static_cast<float*>(ptr);
  return true;
}

// The last element a row-major matrix of `rows` x `cols` with leading dimension ld touches, plus one.
static int64_t extent(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

// ---- signals held back while oneDNN's kernels run ----
// oneDNN 2.6's JIT float32 GEMM kernels point rsp at a heap buffer while they run (oneDNN issue
// #4845, fixed in 3.11): a signal handled on that thread then writes its frame into the heap, and
// a later free() aborts ("corrupted size vs. prev_size"). Signals come to a Node process from a
// profiler (SIGPROF), child processes (SIGCHLD), Jupyter's interrupt (SIGINT) and a terminal
// (SIGWINCH). So a call that reaches oneDNN holds the asynchronous signals back until it returns
// (they are delivered then), and OpenMP's worker threads, which run the same kernels, never take
// them. Faults (SIGSEGV and the like) stay open: they are the thread's own, and V8 handles them.
static const sigset_t& asyncSignals() {
  static const sigset_t set = [] {
    sigset_t s;
    sigfillset(&s);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&s, sig);
    return s;
  }();
  return set;
}

class SignalsHeld {
 public:
  SignalsHeld() { pthread_sigmask(SIG_BLOCK, &asyncSignals(), &previous_); }
  ~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

 private:
  sigset_t previous_;
};

// The calling thread's OpenMP workers (made now if they do not exist yet, and then inheriting the
// held mask) block the asynchronous signals for good.
static void holdSignalsInWorkers() {
  SignalsHeld held;
  #pragma omp parallel
  if (omp_get_thread_num() != 0) pthread_sigmask(SIG_BLOCK, &asyncSignals(), nullptr);
}

// ---- matmul: oneDNN's matmul primitive with the Linear's bias, scaling, residual and GELU fused ----

static dnnl::engine& cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// ---- bf16 products: operands rounded to bfloat16, float32 accumulation and result ----
// Off by default (the exact mode is float32). Process-wide: data-parallel training's worker
// threads share the setting of the thread that started the run (setPrecision).
static std::atomic<bool> bf16Products{false};

// oneDNN's ISA names for what it dispatches to here (ONEDNN_MAX_CPU_ISA lowers it).
static const char* isaName(unsigned isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

// Whether oneDNN runs bf16 products with the CPU's own bf16 instructions (AVX512_BF16 or
// AMX-BF16); below that it would emulate them, slower than float32.
static bool cpuHasBf16() {
  unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
  return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

// float32 -> bfloat16, rounding to nearest even (what vcvtne2ps2bf16 does); NaN stays a quiet NaN.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void toBf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t b;
    __builtin_memcpy(&b, src + i, 4);
    uint32_t r = (b & 0x7fffffffu) > 0x7f800000u ? (b | 0x00400000u) : b + 0x7fffu + ((b >> 16) & 1u);
    dst[i] = (uint16_t)(r >> 16);
  }
}

// A stored rows x cols matrix (leading dimension ld) as dense bfloat16 in `scratch`, grown as needed.
static uint16_t* matrixToBf16(const float* m, int64_t rows, int64_t cols, int64_t ld, std::vector<uint16_t>& scratch) {
  if ((int64_t)scratch.size() < rows * cols) scratch.resize(rows * cols);
  uint16_t* out = scratch.data();
  #pragma omp parallel for schedule(static) if (rows * cols >= (1 << 16))
  for (int64_t r = 0; r < rows; r++) toBf16(m + r * ld, out + r * cols, cols);
  return out;
}

// What a primitive is made for: the shapes, strides, fused steps and operand type (the data pointers come per call).
using MatmulKey = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float, float, bool>;

struct MatmulEntry {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, bias, c, res;
};

// Primitives by key: making one takes far longer than running a product (oneDNN picks and
// prepares a kernel). A training run meets a few dozen shapes (label lengths vary per batch);
// the cache is emptied when it grows past MAX_PRIMITIVES rather than tracking use. One cache and
// stream per thread: data-parallel training calls the addon from worker threads at once.
static thread_local std::map<MatmulKey, MatmulEntry> primitives;
static const size_t MAX_PRIMITIVES = 512;
// The bf16 copies of a product's operands, per thread, reused call after call.
static thread_local std::vector<uint16_t> bf16A, bf16B;

static dnnl::memory::desc matrixDesc(int64_t rows, int64_t cols, int64_t ld, bool trans,
    dnnl::memory::data_type type = dnnl::memory::data_type::f32) {
  // rows x cols as the product reads it; stored transposed (cols x rows, leading dimension ld) when trans.
  return dnnl::memory::desc({rows, cols}, type, trans ? dnnl::memory::dims{1, ld} : dnnl::memory::dims{ld, 1});
}

// C = ((op(A) op(B) + bias) * scale + res) + beta C, op(A) M x K, op(B) K x N, row-major with
// leading dimensions; bias / res null when absent. With bf16, A and B are rounded to bfloat16
// (dense copies) and the product accumulates in float32: the post-ops and C stay float32.
static void product(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool transA, const float* B, int64_t ldb,
    bool transB, float* C, int64_t ldc, const float* bias, const float* res, int64_t ldres, float scale, float beta, bool bf16) {
  const void* a = A;
  const void* b = B;
  if (bf16) {
    int64_t aRows = transA ? K : M, aCols = transA ? M : K;
    int64_t bRows = transB ? N : K, bCols = transB ? K : N;
    a = matrixToBf16(A, aRows, aCols, lda, bf16A);
    b = matrixToBf16(B, bRows, bCols, ldb, bf16B);
    lda = aCols;
    ldb = bCols;
  }
  bool hasBias = bias != nullptr, hasRes = res != nullptr;
  MatmulKey key{M, N, K, transA ? -lda : lda, transB ? -ldb : ldb, ldc, hasBias, hasRes ? ldres : 0, scale, beta, bf16};
  auto it = primitives.find(key);
  if (it == primitives.end()) {
    if (primitives.size() >= MAX_PRIMITIVES) primitives.clear();
    auto type = bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
    MatmulEntry e;
    e.a = matrixDesc(M, K, lda, transA, type);
    e.b = matrixDesc(K, N, ldb, transB, type);
    e.c = matrixDesc(M, N, ldc, false);
    if (hasBias) e.bias = dnnl::memory::desc({1, N}, dnnl::memory::data_type::f32, dnnl::memory::dims{N, 1});
    if (hasRes) e.res = matrixDesc(M, N, ldres, false);
    dnnl::post_ops ops;
    if (scale != 1) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, scale, 0.f);
    if (hasRes) ops.append_binary(dnnl::algorithm::binary_add, e.res);
    if (beta != 0) ops.append_sum(beta);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    auto desc = hasBias ? dnnl::matmul::desc(e.a, e.b, e.bias, e.c) : dnnl::matmul::desc(e.a, e.b, e.c);
    e.prim = dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, cpuEngine()));
    it = primitives.emplace(key, e).first;
  }
  MatmulEntry& e = it->second;
  dnnl::engine& engine = cpuEngine();
  std::unordered_map<int, dnnl::memory> args{
    {DNNL_ARG_SRC, dnnl::memory(e.a, engine, const_cast<void*>(a))},
    {DNNL_ARG_WEIGHTS, dnnl::memory(e.b, engine, const_cast<void*>(b))},
    {DNNL_ARG_DST, dnnl::memory(e.c, engine, C)},
  };
  if (hasBias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(e.bias, engine, const_cast<float*>(bias)));
  if (hasRes) args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(scale != 1 ? 1 : 0) | DNNL_ARG_SRC_1, dnnl::memory(e.res, engine, const_cast<float*>(res)));
  static thread_local dnnl::stream stream(engine);
  e.prim.execute(stream, args);
  stream.wait();
}

static void oneDnnError(napi_env env, const char* fn, const dnnl::error& err) {
  char buf[256];
  snprintf(buf, sizeof buf, "whisper_dnnl.%s: oneDNN: %s (status %d)", fn, err.what(), (int)err.status);
  throwError(env, buf);
}

// matmul(heap, M, N, K, aOff, lda, transA, bOff, ldb, transB, cOff, ldc, biasOff, resOff, ldres, scale):
// C = (op(A) op(B) + bias) * scale + res on one Float32Array (the wasm heap), offsets and leading
// dimensions in floats; biasOff / resOff -1 when absent (bias [N], res M x N with ldres). The
// bias, scaling and residual are oneDNN post-ops on the float32 accumulator: the same float
// operations as separate ops. (GELU stays a pass of its own below: the model applies it to the
// Linear's output, and training keeps its derivative, which a post-op does not give.) Extents are
// checked as for sgemm.
static napi_value Matmul(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 16) {
    throwError(env, "whisper_dnnl.matmul: 16 arguments (heap, M, N, K, aOffset, lda, transA, bOffset, ldb, transB, cOffset, ldc, biasOffset, resOffset, ldres, scale)");
    return nullptr;
  }
  float* heap;
  size_t len;
  if (!getFloats(env, argv[0], &heap, &len, "heap")) return nullptr;
  int64_t v[16];
  static const char* names[] = {"M", "N", "K", "aOffset", "lda", "transA", "bOffset", "ldb", "transB", "cOffset", "ldc", "biasOffset", "resOffset", "ldres"};
  for (int i = 0; i < 14; i++) if (!getInt(env, argv[1 + i], &v[i], names[i])) return nullptr;
  double scale;
  CHECK(napi_get_value_double(env, argv[15], &scale));
  int64_t M = v[0], N = v[1], K = v[2], aOff = v[3], lda = v[4], bOff = v[6], ldb = v[7], cOff = v[9], ldc = v[10];
  int64_t biasOff = v[11], resOff = v[12], ldres = v[13];
  bool transA = v[5] != 0, transB = v[8] != 0;
  if (M <= 0 || N <= 0 || K <= 0 || aOff < 0 || bOff < 0 || cOff < 0 || biasOff < -1 || resOff < -1) {
    throwError(env, "whisper_dnnl.matmul: sizes must be positive, offsets not negative");
    return nullptr;
  }
  int64_t aRows = transA ? K : M, aCols = transA ? M : K;
  int64_t bRows = transB ? N : K, bCols = transB ? K : N;
  bool hasRes = resOff >= 0;
  if (lda < aCols || ldb < bCols || ldc < N || (hasRes && ldres < N)) {
    throwError(env, "whisper_dnnl.matmul: a leading dimension is smaller than its row");
    return nullptr;
  }
  if (aOff + extent(aRows, aCols, lda) > (int64_t)len || bOff + extent(bRows, bCols, ldb) > (int64_t)len ||
      cOff + extent(M, N, ldc) > (int64_t)len || (biasOff >= 0 && biasOff + N > (int64_t)len) ||
      (hasRes && resOff + extent(M, N, ldres) > (int64_t)len)) {
    throwError(env, "whisper_dnnl.matmul: an operand reaches past the end of the heap");
    return nullptr;
  }
  SignalsHeld held;
  try {
    product(M, N, K, heap + aOff, lda, transA, heap + bOff, ldb, transB, heap + cOff, ldc, biasOff >= 0 ? heap + biasOff : nullptr,
      hasRes ? heap + resOff : nullptr, ldres, (float)scale, 0.f, bf16Products);
  } catch (const dnnl::error& err) {
    oneDnnError(env, "matmul", err);
  }
  return nullptr;
}

// setPrecision("float32" | "bfloat16"): the operands of the following products (sgemm and
// matmul, every thread). bfloat16 throws where the CPU has no bf16 instructions oneDNN uses.
static napi_value SetPrecision(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  char name[16] = "";
  size_t n = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n) != napi_ok ||
      (strcmp(name, "float32") != 0 && strcmp(name, "bfloat16") != 0)) {
    throwError(env, "whisper_dnnl.setPrecision: 'float32' or 'bfloat16'");
    return nullptr;
  }
  bool bf16 = strcmp(name, "bfloat16") == 0;
  if (bf16 && !cpuHasBf16()) {
    char buf[200];
    snprintf(buf, sizeof buf, "whisper_dnnl.setPrecision: this CPU has no bf16 products (oneDNN runs %s here; bf16 needs AVX512_BF16 or AMX-BF16)",
      isaName((unsigned)dnnl_get_effective_cpu_isa()));
    throwError(env, buf);
    return nullptr;
  }
  bf16Products = bf16;
  return nullptr;
}


// sgemm(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc):
// C = alpha op(A) op(B) + beta C, row-major, offsets and leading dimensions in floats. Every
// operand's extent is checked against its array first: a wrong offset throws instead of writing
// outside the heap.
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 16) {
    throwError(env, "whisper_dnnl.sgemm: 16 arguments (transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc)");
    return nullptr;
  }
  bool transA = false, transB = false;
  CHECK(napi_get_value_bool(env, argv[0], &transA));
  CHECK(napi_get_value_bool(env, argv[1], &transB));
  int64_t M, N, K, aOff, lda, bOff, ldb, cOff, ldc;
  double alpha, beta;
  if (!getInt(env, argv[2], &M, "M") || !getInt(env, argv[3], &N, "N") || !getInt(env, argv[4], &K, "K") ||
      !getInt(env, argv[7], &aOff, "aOffset") || !getInt(env, argv[8], &lda, "lda") ||
      !getInt(env, argv[10], &bOff, "bOffset") || !getInt(env, argv[11], &ldb, "ldb") ||
      !getInt(env, argv[14], &cOff, "cOffset") || !getInt(env, argv[15], &ldc, "ldc")) return nullptr;
  CHECK(napi_get_value_double(env, argv[5], &alpha));
  CHECK(napi_get_value_double(env, argv[12], &beta));
  float *A, *B, *C;
  size_t aLen, bLen, cLen;
  if (!getFloats(env, argv[6], &A, &aLen, "A") || !getFloats(env, argv[9], &B, &bLen, "B") ||
      !getFloats(env, argv[13], &C, &cLen, "C")) return nullptr;
  if (M < 0 || N < 0 || K < 0 || aOff < 0 || bOff < 0 || cOff < 0) {
    throwError(env, "whisper_dnnl.sgemm: negative size or offset");
    return nullptr;
  }
  // op(A) is M x K: stored K x M when transposed. op(B) is K x N: stored N x K when transposed.
  int64_t aRows = transA ? K : M, aCols = transA ? M : K;
  int64_t bRows = transB ? N : K, bCols = transB ? K : N;
  if (lda < (aCols > 1 ? aCols : 1) || ldb < (bCols > 1 ? bCols : 1) || ldc < (N > 1 ? N : 1)) {
    throwError(env, "whisper_dnnl.sgemm: a leading dimension is smaller than its row");
    return nullptr;
  }
  if (aOff + extent(aRows, aCols, lda) > (int64_t)aLen || bOff + extent(bRows, bCols, ldb) > (int64_t)bLen ||
      cOff + extent(M, N, ldc) > (int64_t)cLen) {
    throwError(env, "whisper_dnnl.sgemm: an operand reaches past the end of its array");
    return nullptr;
  }
  if (M == 0 || N == 0) return nullptr;
  SignalsHeld held;
  if (bf16Products && K > 0) {
    try {
      product(M, N, K, A + aOff, lda, transA, B + bOff, ldb, transB, C + cOff, ldc, nullptr, nullptr, 0, (float)alpha, (float)beta, true);
    } catch (const dnnl::error& err) {
      oneDnnError(env, "sgemm", err);
    }
    return nullptr;
  }
  dnnl_status_t s = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, (float)alpha,
      A + aOff, lda, B + bOff, ldb, (float)beta, C + cOff, ldc);
  if (s != dnnl_success) {
    char buf[96];
    snprintf(buf, sizeof buf, "whisper_dnnl.sgemm: dnnl_sgemm failed with status %d", (int)s);
    throwError(env, buf);
  }
  return nullptr;
}



// ---- gelu: the wasm kernel's GELU (src/backend/wasm/simd.ts gelu) with wider vectors and threads ----
// The same float operations in the same order, so the same bits: erf by Abramowitz & Stegun 7.1.26
// with PyTorch's coefficients, exp by Cephes' polynomial (cephes.h), no fused multiply-adds (built with
// -ffp-contract=off), rounding to nearest even (rintf in the default rounding mode).


static inline float erf4(float z) {
  float a = __builtin_fabsf(z);
  float t = 1.f / (a * 0.3275911f + 1.f);
  float r = 1.061405429f * t + -1.453152027f;
  r = r * t + 1.421413741f;
  r = r * t + -0.284496736f;
  r = r * t + 0.254829592f;
  float y = 1.f - (r * t) * expCephes(-(a * a));
  return __builtin_copysignf(y, z); // y >= 0: sign(z) | y, as the wasm kernel's bit or
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void geluRange(const float* x, float* value, float* deriv, int64_t n) {
  if (deriv) {
    for (int64_t i = 0; i < n; i++) {
      float xv = x[i];
      float c2 = erf4(xv * 0.70710678f) + 1.f;
      value[i] = (xv * 0.5f) * c2;
      float xc = xv > -9.f ? (xv < 9.f ? xv : 9.f) : -9.f;
      deriv[i] = c2 * 0.5f + (xv * expCephes((xc * xc) * -0.5f)) * 0.398942280f;
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      float xv = x[i];
      value[i] = (xv * 0.5f) * (erf4(xv * 0.70710678f) + 1.f);
    }
  }
}

// fn(start, end) over [0, n) in OpenMP threads, each a chunk of whole cache lines (16 floats).
template <typename F>
static void inChunks(int64_t n, F fn) {
  #pragma omp parallel
  {
    int threads = omp_get_num_threads(), id = omp_get_thread_num();
    int64_t chunk = ((n + threads - 1) / threads + 15) / 16 * 16;
    int64_t start = id * chunk, end = start + chunk < n ? start + chunk : n;
    if (start < end) fn(start, end);
  }
}

// gelu(heap, xOff, valueOff, derivOff (-1: none), n): offsets in floats.
static napi_value Gelu(napi_env env, napi_callback_info info) {
  float* heap;
  size_t len;
  int64_t a[4];
  if (!heapArgs(env, info, "gelu", "(heap, xOffset, valueOffset, derivOffset, n)", &heap, &len, a)) return nullptr;
  const int64_t xOff = a[0], vOff = a[1], dOff = a[2], n = a[3];
  if (!inHeap(xOff, n, len) || !inHeap(vOff, n, len) || !inHeap(dOff, n, len, true))
    return fail(env, "gelu", "an operand reaches past the end of the heap"), nullptr;
  float* deriv = dOff >= 0 ? heap + dOff : nullptr;
  inChunks(n, [&](int64_t start, int64_t end) {
    geluRange(heap + xOff + start, heap + vOff + start, deriv ? deriv + start : nullptr, end - start);
  });
  return nullptr;
}


// ---- softmax over the last axis: attention's rows, many small ones in training ----
// max, e = exp(x - max) by the exp above (Cephes' polynomial, about 1 ulp; 0 below -87, where
// expf is subnormal or 0 anyway), sum, e * (1 / sum). Rows in OpenMP threads when there are
// enough values to pay for waking them; a few thousand values take one thread.

__attribute__((target_clones("avx512f", "avx2", "default")))
static void softmaxRow(const float* x, float* y, int64_t n) {
  float m = x[0];
  #pragma omp simd reduction(max : m)
  for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
  float sum = 0.f;
  #pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; i++) {
    float z = x[i] - m;
    float e = z < -87.f ? 0.f : expCephes(z);
    y[i] = e;
    sum += e;
  }
  float r = 1.f / sum;
  for (int64_t i = 0; i < n; i++) y[i] *= r;
}

// softmax(heap, xOff, yOff, rows, cols): offsets in floats.
static napi_value Softmax(napi_env env, napi_callback_info info) {
  float* heap;
  size_t len;
  int64_t a[4];
  if (!heapArgs(env, info, "softmax", "(heap, xOffset, yOffset, rows, cols)", &heap, &len, a)) return nullptr;
  const int64_t xOff = a[0], yOff = a[1], rows = a[2], cols = a[3];
  if (rows < 0 || cols < 1 || !inHeap(xOff, rows * cols, len) || !inHeap(yOff, rows * cols, len))
    return fail(env, "softmax", "an operand reaches past the end of the heap"), nullptr;
  float* x = heap + xOff;
  float* y = heap + yOff;
  #pragma omp parallel for schedule(static) if (rows * cols >= (1 << 16))
  for (int64_t r = 0; r < rows; r++) softmaxRow(x + r * cols, y + r * cols, cols);
  return nullptr;
}


// ---- LayerNorm over the last axis: the wasm kernel's (src/backend/wasm/simd.ts layerNorm) bits ----
// Each row's sums run in order, one value at a time, as the wasm kernel's (and tfjs-wasm's Mean)
// do; every other step is the same float operation. A row's sum is a chain of dependent adds, so
// LN_ROWS rows are summed side by side (independent chains, the same order within each), and
// groups of rows go to OpenMP threads. (LN_ROWS: kernels.h)
__attribute__((target_clones("avx512f", "avx2", "default")))
void layerNormRows(const float* x, const float* w, const float* b, float eps, float* out, float* nOut, float* rOut,
                   int64_t rows, int64_t d) {
  float sum[LN_ROWS] = {0}, mean[LN_ROWS], r[LN_ROWS];
  const float df = (float)d;
  for (int64_t j = 0; j < d; j++)
    for (int64_t i = 0; i < rows; i++) sum[i] += x[i * d + j];
  for (int64_t i = 0; i < rows; i++) mean[i] = sum[i] / df, sum[i] = 0.f;
  for (int64_t j = 0; j < d; j++)
    for (int64_t i = 0; i < rows; i++) {
      float c = x[i * d + j] - mean[i];
      sum[i] += c * c;
    }
  for (int64_t i = 0; i < rows; i++) r[i] = 1.f / __builtin_sqrtf(sum[i] / df + eps), rOut[i] = r[i];
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < d; j++) {
      float nv = (x[i * d + j] - mean[i]) * r[i];
      nOut[i * d + j] = nv;
      out[i * d + j] = nv * w[j] + b[j];
    }
}

// layerNorm(heap, x, w, b, eps, out, n, r, rows, d): offsets in floats; out and n [rows, d], r [rows].
static napi_value LayerNorm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  float* heap;
  size_t len;
  int64_t a[9];
  double eps;
  if (argc != 10) return fail(env, "layerNorm", "10 arguments (heap, x, w, b, eps, out, n, r, rows, d)"), nullptr;
  if (!heapOf(env, argv[0], &heap, &len, "layerNorm") || !ints(env, argv + 1, 3, a, "layerNorm") ||
      !ints(env, argv + 5, 5, a + 3, "layerNorm")) return nullptr;
  CHECK(napi_get_value_double(env, argv[4], &eps));
  const int64_t xOff = a[0], wOff = a[1], bOff = a[2], oOff = a[3], nOff = a[4], rOff = a[5], rows = a[6], d = a[7];
  if (rows < 0 || d < 1 || !inHeap(xOff, rows * d, len) || !inHeap(wOff, d, len) || !inHeap(bOff, d, len) ||
      !inHeap(oOff, rows * d, len) || !inHeap(nOff, rows * d, len) || !inHeap(rOff, rows, len))
    return fail(env, "layerNorm", "an operand reaches past the end of the heap"), nullptr;
  const int64_t groups = (rows + LN_ROWS - 1) / LN_ROWS;
  #pragma omp parallel for schedule(static) if (rows * d >= (1 << 14))
  for (int64_t g = 0; g < groups; g++) {
    const int64_t i0 = g * LN_ROWS, n = rows - i0 < LN_ROWS ? rows - i0 : LN_ROWS;
    layerNormRows(heap + xOff + i0 * d, heap + wOff, heap + bOff, (float)eps, heap + oOff + i0 * d, heap + nOff + i0 * d,
                  heap + rOff + i0, n, d);
  }
  return nullptr;
}


// ---- attention of many queries (the encoder, a long prompt) with every head in one call ----
// softmax(q k + mask) v per head, read where the operands lie: q [T, d] (scaled), kT [d, cap] (the
// 'rows' layout's transposed keys, the first S positions in use), v [cap, d], out [T, d], mask
// [T, S] or absent. Head h is the column block h*dh.. of q, v and out and the row block of kT, so
// no head is split off, transposed or concatenated. Work comes in tasks of one head and
// ATTEND_ROWS queries, handed to OpenMP threads as they come free (a thread that other jobs hold
// back does not hold back the rest; a task's sums do not depend on the thread that runs it):
// the task's scores [rows, S] stay in the thread's cache from the product through the softmax to
// the product with v, instead of a [T, S] map per head going out to memory and back. Inside the
// parallel region each dnnl_sgemm runs on its calling thread. The softmax is softmaxRow above, on
// scores plus mask: the same operations as the separate kernels.
static const int64_t ATTEND_ROWS = 32;

// One task of attention: queries r0.. (rows of them) of head h. Scores q k^T into p [rows, S],
// from the keys of head h as the 'rows' layout keeps them (transposed: [dh, S], leading dimension
// ld) or as the projection made them ([S, dh], ld d); plus the mask, softmaxRow; then p v into out.
static dnnl_status_t attendBlock(const float* q, const float* keys, int64_t ld, bool transposed, const float* v, const float* mask,
    float* p, float* out, int64_t h, int64_t r0, int64_t rows, int64_t S, int64_t d, int64_t dh) {
  dnnl_status_t s = dnnl_sgemm('N', transposed ? 'N' : 'T', rows, S, dh, 1.f, q + r0 * d + h * dh, d, keys, ld, 0.f, p, S);
  for (int64_t i = 0; i < rows; i++) {
    float* row = p + i * S;
    if (mask) {
      const float* m = mask + (r0 + i) * S;
      for (int64_t j = 0; j < S; j++) row[j] = row[j] + m[j];
    }
    softmaxRow(row, row, S);
  }
  if (s == dnnl_success) s = dnnl_sgemm('N', 'N', rows, dh, S, 1.f, p, S, v + h * dh, d, 0.f, out + r0 * d + h * dh, d);
  return s;
}

// attendMany(heap, q, kT, v, mask (-1: none), out, T, S, cap, d, heads): offsets in floats.
static napi_value AttendMany(napi_env env, napi_callback_info info) {
  float* heap;
  size_t len;
  int64_t a[10];
  if (!heapArgs(env, info, "attendMany", "(heap, q, kT, v, mask, out, T, S, cap, d, heads)", &heap, &len, a)) return nullptr;
  const int64_t qOff = a[0], kOff = a[1], vOff = a[2], mOff = a[3], oOff = a[4], T = a[5], S = a[6], cap = a[7], d = a[8], heads = a[9];
  if (T < 1 || S < 1 || cap < S || heads < 1 || d < heads || d % heads != 0) return fail(env, "attendMany", "bad sizes"), nullptr;
  if (!inHeap(qOff, T * d, len) || !inHeap(kOff, d * cap, len) || !inHeap(vOff, cap * d, len) || !inHeap(oOff, T * d, len) ||
      !inHeap(mOff, T * S, len, true))
    return fail(env, "attendMany", "an operand reaches past the end of the heap"), nullptr;
  const int64_t dh = d / heads, blocks = (T + ATTEND_ROWS - 1) / ATTEND_ROWS;
  const float* q = heap + qOff;
  const float* kT = heap + kOff;
  const float* v = heap + vOff;
  const float* mask = mOff >= 0 ? heap + mOff : nullptr;
  float* out = heap + oOff;
  SignalsHeld held;
  bool failed = false;
  #pragma omp parallel
  {
    static thread_local std::vector<float> scores;
    if ((int64_t)scores.size() < ATTEND_ROWS * S) scores.resize(ATTEND_ROWS * S);
    float* p = scores.data();
    #pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < heads * blocks; task++) {
      const int64_t h = task / blocks, r0 = (task % blocks) * ATTEND_ROWS;
      const int64_t rows = T - r0 < ATTEND_ROWS ? T - r0 : ATTEND_ROWS;
      if (attendBlock(q, kT + h * dh * cap, cap, true, v, mask, p, out, h, r0, rows, S, d, dh) != dnnl_success) {
        #pragma omp atomic write
        failed = true;
      }
    }
  }
  if (failed) fail(env, "attendMany", "dnnl_sgemm failed");
  return nullptr;
}


// ---- attention with a gradient tape (training): every head of a batch row in one call each way ----
// Head h is the column block h*dh.. of q, k, v and out ([T, d] and [S, d] as the projections
// made them), so no head is split off, transposed or concatenated, in either pass.
// Forward: softmax(q k^T + mask) into p [heads, T, S] (kept for the backward pass) and p v into out,
// in tasks of one head and TRAIN_ROWS queries (a decoder's whole batch row in one).
static const int64_t TRAIN_ROWS = 64;
// attendTrain(heap, q, k, v, mask (-1: none), out, p, T, S, d, heads): offsets in floats.
static napi_value AttendTrain(napi_env env, napi_callback_info info) {
  float* heap;
  size_t len;
  int64_t a[10];
  if (!heapArgs(env, info, "attendTrain", "(heap, q, k, v, mask, out, p, T, S, d, heads)", &heap, &len, a)) return nullptr;
  const int64_t qOff = a[0], kOff = a[1], vOff = a[2], mOff = a[3], oOff = a[4], pOff = a[5], T = a[6], S = a[7], d = a[8], heads = a[9];
  if (T < 1 || S < 1 || heads < 1 || d < heads || d % heads != 0) return fail(env, "attendTrain", "bad sizes"), nullptr;
  if (!inHeap(qOff, T * d, len) || !inHeap(kOff, S * d, len) || !inHeap(vOff, S * d, len) || !inHeap(oOff, T * d, len) ||
      !inHeap(pOff, heads * T * S, len) || !inHeap(mOff, T * S, len, true))
    return fail(env, "attendTrain", "an operand reaches past the end of the heap"), nullptr;
  const int64_t dh = d / heads, blocks = (T + TRAIN_ROWS - 1) / TRAIN_ROWS;
  const float* q = heap + qOff;
  const float* k = heap + kOff;
  const float* v = heap + vOff;
  const float* mask = mOff >= 0 ? heap + mOff : nullptr;
  float* out = heap + oOff;
  SignalsHeld held;
  bool failed = false;
  #pragma omp parallel for schedule(dynamic)
  for (int64_t task = 0; task < heads * blocks; task++) {
    const int64_t h = task / blocks, r0 = (task % blocks) * TRAIN_ROWS;
    const int64_t rows = T - r0 < TRAIN_ROWS ? T - r0 : TRAIN_ROWS;
    if (attendBlock(q, k + h * dh, d, false, v, mask, heap + pOff + (h * T + r0) * S, out, h, r0, rows, S, d, dh) != dnnl_success) {
      #pragma omp atomic write
      failed = true;
    }
  }
  if (failed) fail(env, "attendTrain", "dnnl_sgemm failed");
  return nullptr;
}

// Backward, one task per head (its k and v gradients are sums over every query): per block of
// queries dP = dout v^T, dS = p (dP - r) with r = rowsum(dout * out) (FlashAttention's form: the
// same numbers as rowsum(dP * p), from [T, dh] instead of [T, S]), then dq = dS k, dk += dS^T q
// and dv += p^T dout. dS lives in the thread's cache only.
static const int64_t ATTEND_GRAD_ROWS = 128;

__attribute__((target_clones("avx512f", "avx2", "default")))
static void softmaxGradRows(float* ds, const float* p, const float* dout, const float* out, int64_t rows, int64_t S, int64_t d, int64_t dh) {
  for (int64_t i = 0; i < rows; i++) {
    float r = 0.f;
    for (int64_t j = 0; j < dh; j++) r += dout[i * d + j] * out[i * d + j];
    for (int64_t j = 0; j < S; j++) ds[i * S + j] = p[i * S + j] * (ds[i * S + j] - r);
  }
}

// attendTrainGrad(heap, dout, q, k, v, p, out, dq, dk, dv, T, S, d, heads): offsets in floats.
static napi_value AttendTrainGrad(napi_env env, napi_callback_info info) {
  float* heap;
  size_t len;
  int64_t a[13];
  if (!heapArgs(env, info, "attendTrainGrad", "(heap, dout, q, k, v, p, out, dq, dk, dv, T, S, d, heads)", &heap, &len, a)) return nullptr;
  const int64_t dyOff = a[0], qOff = a[1], kOff = a[2], vOff = a[3], pOff = a[4], oOff = a[5], dqOff = a[6], dkOff = a[7], dvOff = a[8];
  const int64_t T = a[9], S = a[10], d = a[11], heads = a[12];
  if (T < 1 || S < 1 || heads < 1 || d < heads || d % heads != 0) return fail(env, "attendTrainGrad", "bad sizes"), nullptr;
  if (!inHeap(dyOff, T * d, len) || !inHeap(qOff, T * d, len) || !inHeap(kOff, S * d, len) || !inHeap(vOff, S * d, len) ||
      !inHeap(pOff, heads * T * S, len) || !inHeap(oOff, T * d, len) || !inHeap(dqOff, T * d, len) || !inHeap(dkOff, S * d, len) ||
      !inHeap(dvOff, S * d, len))
    return fail(env, "attendTrainGrad", "an operand reaches past the end of the heap"), nullptr;
  const int64_t dh = d / heads;
  const float *dout = heap + dyOff, *q = heap + qOff, *k = heap + kOff, *v = heap + vOff, *out = heap + oOff;
  float *dq = heap + dqOff, *dk = heap + dkOff, *dv = heap + dvOff;
  SignalsHeld held;
  bool failed = false;
  #pragma omp parallel
  {
    static thread_local std::vector<float> scratch;
    if ((int64_t)scratch.size() < ATTEND_GRAD_ROWS * S) scratch.resize(ATTEND_GRAD_ROWS * S);
    float* ds = scratch.data();
    #pragma omp for schedule(dynamic)
    for (int64_t h = 0; h < heads; h++) {
      dnnl_status_t s = dnnl_success;
      for (int64_t r0 = 0; r0 < T && s == dnnl_success; r0 += ATTEND_GRAD_ROWS) {
        const int64_t rows = T - r0 < ATTEND_GRAD_ROWS ? T - r0 : ATTEND_GRAD_ROWS;
        const float* p = heap + pOff + (h * T + r0) * S;
        const int64_t at = r0 * d + h * dh;
        const float beta = r0 ? 1.f : 0.f;
        s = dnnl_sgemm('N', 'T', rows, S, dh, 1.f, dout + at, d, v + h * dh, d, 0.f, ds, S);
        softmaxGradRows(ds, p, dout + at, out + at, rows, S, d, dh);
        if (s == dnnl_success) s = dnnl_sgemm('N', 'N', rows, dh, S, 1.f, ds, S, k + h * dh, d, 0.f, dq + at, d);
        if (s == dnnl_success) s = dnnl_sgemm('T', 'N', S, dh, rows, 1.f, ds, S, q + at, d, beta, dk + h * dh, d);
        if (s == dnnl_success) s = dnnl_sgemm('T', 'N', S, dh, rows, 1.f, p, S, dout + at, d, beta, dv + h * dh, d);
      }
      if (s != dnnl_success) {
        #pragma omp atomic write
        failed = true;
      }
    }
  }
  if (failed) fail(env, "attendTrainGrad", "dnnl_sgemm failed");
  return nullptr;
}


// ---- exp of a large tensor (a training loss's softmax over the vocabulary) ----
__attribute__((target_clones("avx512f", "avx2", "default")))
static void expRange(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float z = x[i];
    // Above 88.72 expf overflows; below -87 it is subnormal or 0 (taken as 0).
    y[i] = z > 88.72f ? __builtin_inff() : z < -87.f ? 0.f : expCephes(z);
  }
}

// exp(heap, xOff, yOff, n): offsets in floats.
static napi_value Exp(napi_env env, napi_callback_info info) {
  float* heap;
  size_t len;
  int64_t a[3];
  if (!heapArgs(env, info, "exp", "(heap, xOffset, yOffset, n)", &heap, &len, a)) return nullptr;
  const int64_t xOff = a[0], yOff = a[1], n = a[2];
  if (!inHeap(xOff, n, len) || !inHeap(yOff, n, len)) return fail(env, "exp", "an operand reaches past the end of the heap"), nullptr;
  inChunks(n, [&](int64_t start, int64_t end) { expRange(heap + xOff + start, heap + yOff + start, end - start); });
  return nullptr;
}

// ---- elementwise sums and row lookups that tfjs-wasm makes one value at a time in one thread ----
__attribute__((target_clones("avx512f", "avx2", "default")))
static void addRange(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

// add(heap, a, b, out, n): out = a + b, offsets in floats.
static napi_value Add(napi_env env, napi_callback_info info) {
  float* heap;
  size_t len;
  int64_t a[4];
  if (!heapArgs(env, info, "add", "(heap, a, b, out, n)", &heap, &len, a)) return nullptr;
  const int64_t aOff = a[0], bOff = a[1], oOff = a[2], n = a[3];
  if (!inHeap(aOff, n, len) || !inHeap(bOff, n, len) || !inHeap(oOff, n, len)) return fail(env, "add", "an operand reaches past the end of the heap"), nullptr;
  inChunks(n, [&](int64_t start, int64_t end) { addRange(heap + aOff + start, heap + bOff + start, heap + oOff + start, end - start); });
  return nullptr;
}

// Whether every one of n int32 indices is in [0, size).
static bool indicesInRange(const int32_t* indices, int64_t n, int64_t size) {
  for (int64_t i = 0; i < n; i++) if (indices[i] < 0 || indices[i] >= size) return false;
  return true;
}

// gatherRows(heap, params, rows, cols, indices (int32), n, out): out row i = params row indices[i]
// (offsets in 4-byte units). Returns false, copying nothing, when an index is outside [0, rows).
static napi_value GatherRows(napi_env env, napi_callback_info info) {
  float* heap;
  size_t len;
  int64_t a[6];
  if (!heapArgs(env, info, "gatherRows", "(heap, params, rows, cols, indices, n, out)", &heap, &len, a)) return nullptr;
  const int64_t pOff = a[0], rows = a[1], cols = a[2], iOff = a[3], n = a[4], oOff = a[5];
  if (rows < 0 || cols < 0 || n < 0 || !inHeap(pOff, rows * cols, len) || !inHeap(iOff, n, len) || !inHeap(oOff, n * cols, len))
    return fail(env, "gatherRows", "an operand reaches past the end of the heap"), nullptr;
  const int32_t* idx = reinterpret_cast<const int32_t*>(heap + iOff);
  const bool inRange = indicesInRange(idx, n, rows);
  if (inRange) for (int64_t i = 0; i < n; i++) memcpy(heap + oOff + i * cols, heap + pOff + idx[i] * cols, cols * sizeof(float));
  napi_value result;
  CHECK(napi_get_boolean(env, inRange, &result));
  return result;
}

// ---- a training loss: -log softmax(x)[label] for each row of the logits x [n, V] ----
// Two passes over a row (its max, then the sum of exp(x - max)), and one for the
// gradient dy (softmax(x) - onehot(label)), which recomputes exp(x - lse) instead of keeping an
// [n, V] tensor of them: the logits are the largest tensor of a decoder training step.

__attribute__((target_clones("avx512f", "avx2", "default")))
static float logSumExpRow(const float* x, int64_t n) {
  float m = x[0];
  #pragma omp simd reduction(max : m)
  for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
  // float32 sums of 1024 terms (16 lanes), added in float64: one float32 sum over a whole row
  // drifts by up to 1e-4, which is the loss's own size late in training.
  double sum = 0.;
  for (int64_t i0 = 0; i0 < n; i0 += 1024) {
    const int64_t end = i0 + 1024 < n ? i0 + 1024 : n;
    float block = 0.f;
    #pragma omp simd reduction(+ : block)
    for (int64_t i = i0; i < end; i++) {
      float z = x[i] - m;
      block += z < -87.f ? 0.f : expCephes(z);
    }
    sum += block;
  }
  return m + (float)log(sum);
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void nllGradRow(const float* x, float lse, float dy, int32_t label, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float z = x[i] - lse;
    dx[i] = (z < -87.f ? 0.f : expCephes(z)) * dy;
  }
  dx[label] -= dy;
}

// nll(heap, x, labels (int32), lse, nll, n, V): offsets in 4-byte units.
static napi_value Nll(napi_env env, napi_callback_info info) {
  float* heap;
  size_t len;
  int64_t a[6];
  if (!heapArgs(env, info, "nll", "(heap, x, labels, lse, nll, n, V)", &heap, &len, a)) return nullptr;
  const int64_t xOff = a[0], lOff = a[1], lseOff = a[2], nllOff = a[3], n = a[4], V = a[5];
  if (n < 0 || V < 1 || !inHeap(xOff, n * V, len) || !inHeap(lOff, n, len) || !inHeap(lseOff, n, len) || !inHeap(nllOff, n, len))
    return fail(env, "nll", "an operand reaches past the end of the heap"), nullptr;
  const int32_t* labels = reinterpret_cast<const int32_t*>(heap + lOff);
  if (!indicesInRange(labels, n, V)) return fail(env, "nll", "a label is outside the vocabulary"), nullptr;
  #pragma omp parallel for schedule(static) if (n * V >= (1 << 16))
  for (int64_t r = 0; r < n; r++) {
    const float* x = heap + xOff + r * V;
    const float lse = logSumExpRow(x, V);
    heap[lseOff + r] = lse;
    heap[nllOff + r] = lse - x[labels[r]];
  }
  return nullptr;
}

// nllGrad(heap, x, labels (int32), lse, dy, dx, n, V): offsets in 4-byte units.
static napi_value NllGrad(napi_env env, napi_callback_info info) {
  float* heap;
  size_t len;
  int64_t a[7];
  if (!heapArgs(env, info, "nllGrad", "(heap, x, labels, lse, dy, dx, n, V)", &heap, &len, a)) return nullptr;
  const int64_t xOff = a[0], lOff = a[1], lseOff = a[2], dyOff = a[3], dxOff = a[4], n = a[5], V = a[6];
  if (n < 0 || V < 1 || !inHeap(xOff, n * V, len) || !inHeap(lOff, n, len) || !inHeap(lseOff, n, len) || !inHeap(dyOff, n, len) ||
      !inHeap(dxOff, n * V, len))
    return fail(env, "nllGrad", "an operand reaches past the end of the heap"), nullptr;
  const int32_t* labels = reinterpret_cast<const int32_t*>(heap + lOff);
  if (!indicesInRange(labels, n, V)) return fail(env, "nllGrad", "a label is outside the vocabulary"), nullptr;
  #pragma omp parallel for schedule(static) if (n * V >= (1 << 16))
  for (int64_t r = 0; r < n; r++) nllGradRow(heap + xOff + r * V, heap[lseOff + r], heap[dyOff + r], labels[r], heap + dxOff + r * V, V);
  return nullptr;
}

// setThreads(n): OpenMP threads of the following products (oneDNN's CPU runtime here is OpenMP;
// the setting belongs to the calling thread, the one JS thread that calls sgemm). Returns n.
static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  int32_t n = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    throwError(env, "whisper_dnnl.setThreads: a positive integer");
    return nullptr;
  }
  omp_set_num_threads(n);
  holdSignalsInWorkers();
  napi_value out;
  CHECK(napi_create_int32(env, omp_get_max_threads(), &out));
  return out;
}

// info(): { version: "2.6.3", threads, isa, bf16 (whether bf16 products can run), precision } for describeBackend.
static napi_value Info(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  char version[64];
  snprintf(version, sizeof version, "%d.%d.%d", v->major, v->minor, v->patch);
  napi_value out, ver, threads, isa, bf16, precision;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_string_utf8(env, version, NAPI_AUTO_LENGTH, &ver));
  CHECK(napi_create_int32(env, omp_get_max_threads(), &threads));
  CHECK(napi_create_int32(env, (int32_t)dnnl_get_effective_cpu_isa(), &isa));
  CHECK(napi_set_named_property(env, out, "version", ver));
  CHECK(napi_set_named_property(env, out, "threads", threads));
  CHECK(napi_set_named_property(env, out, "isa", isa));
  CHECK(napi_get_boolean(env, cpuHasBf16(), &bf16));
  CHECK(napi_set_named_property(env, out, "bf16", bf16));
  CHECK(napi_create_string_utf8(env, bf16Products ? "bfloat16" : "float32", NAPI_AUTO_LENGTH, &precision));
  CHECK(napi_set_named_property(env, out, "precision", precision));
  return out;
}

// decode.cc: the few-row kernels of a generation step.
napi_value InitDecode(napi_env env, napi_value exports);

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sgemm", nullptr, Sgemm, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"gelu", nullptr, Gelu, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"attendMany", nullptr, AttendMany, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"attendTrain", nullptr, AttendTrain, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"attendTrainGrad", nullptr, AttendTrainGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"layerNorm", nullptr, LayerNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"exp", nullptr, Exp, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"nll", nullptr, Nll, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"add", nullptr, Add, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"gatherRows", nullptr, GatherRows, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"nllGrad", nullptr, NllGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"setPrecision", nullptr, SetPrecision, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  holdSignalsInWorkers();
  return InitDecode(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
