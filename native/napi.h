// Argument reading shared by the addon's functions (dnnl.cc, decode.cc): every function takes the
// wasm heap as a Float32Array and float offsets into it, and checks each operand lies inside it
// before touching memory, so a wrong offset throws instead of writing outside the heap.
#pragma once
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, nullptr, "whisper_dnnl: N-API call failed: " #call); \
      return nullptr;                                                        \
    }                                                                        \
  } while (0)

// Throws "whisper_dnnl.<fn>: <msg>"; returns false.
static inline bool fail(napi_env env, const char* fn, const char* msg) {
  char buf[160];
  snprintf(buf, sizeof buf, "whisper_dnnl.%s: %s", fn, msg);
  napi_throw_error(env, nullptr, buf);
  return false;
}

// The heap: a Float32Array's data pointer and length in floats (a view of a SharedArrayBuffer too).
static inline bool heapOf(napi_env env, napi_value v, float** data, size_t* length, const char* fn) {
  bool is = false;
  napi_typedarray_type type;
  void* ptr = nullptr;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, length, &ptr, nullptr, nullptr) != napi_ok || type != napi_float32_array)
    return fail(env, fn, "the heap must be a Float32Array");
  *data = static_cast<float*>(ptr);
  return true;
}

// n integer arguments from argv into out.
static inline bool ints(napi_env env, napi_value* argv, size_t n, int64_t* out, const char* fn) {
  for (size_t i = 0; i < n; i++)
    if (napi_get_value_int64(env, argv[i], &out[i]) != napi_ok) return fail(env, fn, "integer arguments expected");
  return true;
}

// Whether [offset, offset + count) lies in a heap of `length` floats (offset -1: absent, allowed when optional).
static inline bool inHeap(int64_t offset, int64_t count, size_t length, bool optional = false) {
  if (offset == -1) return optional;
  return offset >= 0 && count >= 0 && offset + count <= (int64_t)length;
}

// A kernel's arguments: the heap, then N integers (offsets and sizes) into a. Throws and returns
// false when there are not N + 1 of them ("<N + 1> arguments <usage>") or one has the wrong type.
template <size_t N>
static inline bool heapArgs(napi_env env, napi_callback_info info, const char* fn, const char* usage, float** heap, size_t* length,
    int64_t (&a)[N]) {
  size_t argc = N + 1;
  napi_value argv[N + 1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) {
    napi_throw_error(env, nullptr, "whisper_dnnl: N-API call failed: napi_get_cb_info");
    return false;
  }
  if (argc != N + 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "%zu arguments %s", N + 1, usage);
    return fail(env, fn, msg);
  }
  return heapOf(env, argv[0], heap, length, fn) && ints(env, argv + 1, N, a, fn);
}
