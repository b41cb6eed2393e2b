// whisper_dnnl: the model's matrix products on the CPU's own vector units (AVX-512, FMA) through
// oneDNN's dnnl_sgemm, on float32 memory where it already lives (a Float32Array view on the wasm
// heap, which is a SharedArrayBuffer in the threaded build). Plain Node-API (no node-addon-api),
// so that it builds against the installed Node's headers alone. Called synchronously from the JS
// thread, between wasm kernels: nothing else touches the heap while a product runs.
#include <node_api.h>
#include <dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, nullptr, "whisper_dnnl: N-API call failed: " #call); \
      return nullptr;                                                        \
    }                                                                        \
  } while (0)

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
  dnnl_status_t s = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, (float)alpha,
      A + aOff, lda, B + bOff, ldb, (float)beta, C + cOff, ldc);
  if (s != dnnl_success) {
    char buf[96];
    snprintf(buf, sizeof buf, "whisper_dnnl.sgemm: dnnl_sgemm failed with status %d", (int)s);
    throwError(env, buf);
  }
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
  napi_value out;
  CHECK(napi_create_int32(env, omp_get_max_threads(), &out));
  return out;
}

// info(): { version: "2.6.3", threads, isa } for describeBackend.
static napi_value Info(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  char version[64];
  snprintf(version, sizeof version, "%d.%d.%d", v->major, v->minor, v->patch);
  napi_value out, ver, threads, isa;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_string_utf8(env, version, NAPI_AUTO_LENGTH, &ver));
  CHECK(napi_create_int32(env, omp_get_max_threads(), &threads));
  CHECK(napi_create_int32(env, (int32_t)dnnl_get_effective_cpu_isa(), &isa));
  CHECK(napi_set_named_property(env, out, "version", ver));
  CHECK(napi_set_named_property(env, out, "threads", threads));
  CHECK(napi_set_named_property(env, out, "isa", isa));
  return out;
}

// decode.cc: the few-row kernels of a generation step.
napi_value InitDecode(napi_env env, napi_value exports);

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sgemm", nullptr, Sgemm, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return InitDecode(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
