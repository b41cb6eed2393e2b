// The few-row kernels of a generation step (src/backend/native.ts): a Linear on 1-16 rows and
// attention of a few queries to a cache or to the audio positions, on the wasm heap's float32
// memory like dnnl.cc's sgemm. They do what the wasm SIMD kernels linearRows and attend do
// (src/backend/wasm/simd.ts), with the same float operations in the same order (16 lanes per
// dot product added pairwise at the end; sums over a head's dims and over positions in order;
// Cephes' exp), so they give the same bits: only wider vectors (AVX-512), a second thread for the
// big ones, and weights read as float16 where that loses nothing.
//
// A weight whose every value is a float16 (a checkpoint stored in F16, as the shared ones are) is
// copied once as float16 (packWeight): converting back is exact, so the products are unchanged,
// and a step reads half the bytes (the vocabulary projection alone is 80 MB of float32).
#include <node_api.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "cephes.h"
#include "kernels.h"
#include "napi.h"
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#endif


namespace {


#if defined(__x86_64__)
const bool kAvx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("f16c");
#else
const bool kAvx512 = false;
#endif

void freePacked(napi_env env, void* data, void*) {
  Packed* p = static_cast<Packed*>(data);
  int64_t change = 0;
  napi_adjust_external_memory(env, -p->bytes(), &change);
  free(p->half);
  free(p->q);
  free(p->scales);
  delete p;
}

// ---- one output of linearRows: ((x . w) + b) * scale + res, the wasm kernel's order ----

// The wasm kernel's final additions: lanes l, 4+l, 8+l, 12+l pairwise, then the four pairwise.
inline float reduce16(const float* a) {
  float t[4];
  for (int l = 0; l < 4; l++) t[l] = (a[l] + a[4 + l]) + (a[8 + l] + a[12 + l]);
  return (t[0] + t[1]) + (t[2] + t[3]);
}

// Output (r, o) of a Linear from its dot product y: ((y + b[o]) * scale) + res[r, o], the wasm
// kernel's order (b, res may be null).
inline void storeOutput(float y, const float* b, float scale, const float* res, float* out, int64_t r, int64_t m, int64_t o) {
  if (b) y = y + b[o];
  y = y * scale;
  if (res) y = y + res[r * m + o];
  out[r * m + o] = y;
}

// Portable dot product in 16 lanes (then 4), float32 weight row.
float dotGeneric(const float* x, const float* w, int64_t n) {
  float a[16] = {0};
  int64_t k = 0, n16 = n & ~(int64_t)15;
  for (; k < n16; k += 16)
    for (int l = 0; l < 16; l++) a[l] = a[l] + x[k + l] * w[k + l];
  for (; k < n; k += 4)
    for (int l = 0; l < 4; l++) a[l] = a[l] + x[k + l] * w[k + l];
  return reduce16(a);
}

#if defined(__x86_64__)
__attribute__((target("avx512f,f16c"))) inline __m512 load16(const float* w) { return _mm512_loadu_ps(w); }
__attribute__((target("avx512f,f16c"))) inline __m512 load16(const uint16_t* w) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
}
__attribute__((target("avx512f,f16c"))) inline __m128 load4(const float* w) { return _mm_loadu_ps(w); }
__attribute__((target("avx512f,f16c"))) inline __m128 load4(const uint16_t* w) {
  return _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w)));
}

// The end of one dot product: the 4-lane tail (n not a multiple of 16) and the final additions.
template <typename W>
__attribute__((target("avx512f,f16c"))) inline float finishDot(__m512 acc, const float* xr, const W* wr, int64_t k, int64_t n) {
  float a[16];
  _mm512_storeu_ps(a, acc);
  if (k < n) {
    __m128 a0 = _mm_loadu_ps(a);
    for (; k < n; k += 4) a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_loadu_ps(xr + k), load4(wr + k)));
    _mm_storeu_ps(a, a0);
  }
  return reduce16(a);
}

// Dot products of R rows of x (from x + r0 * n) with O weight rows (wr[0..O-1]), the wasm
// kernel's lanes and order for each (no fused multiply-add: a multiply, then an add, as wasm SIMD
// does). The R x O sums are independent chains side by side: each load of a weight serves R rows
// and each load of x serves O outputs, and no sum waits on the latency of its own last add.
template <int R, int O, typename W>
__attribute__((target("avx512f,f16c"))) inline void dotBlock(const float* x, const W* const* wr, int64_t n, int64_t r0, float (*y)[O]) {
  int64_t n16 = n & ~(int64_t)15, k = 0;
  __m512 acc[R][O];
  for (int i = 0; i < R; i++)
    for (int j = 0; j < O; j++) acc[i][j] = _mm512_setzero_ps();
  for (; k < n16; k += 16) {
    __m512 wv[O];
    // The weight rows of the next block into L1 and those four blocks on into L2, a cache line at
    // a time: O short rows at once are too many streams for the hardware's prefetcher to follow,
    // and the L2 requests keep more of memory's latency in flight than L1's few fill buffers.
    if (k % (64 / sizeof(W)) == 0)
      for (int j = 0; j < O; j++) {
        _mm_prefetch(reinterpret_cast<const char*>(wr[j] + O * n + k), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(wr[j] + 4 * O * n + k), _MM_HINT_T1);
      }
    for (int j = 0; j < O; j++) wv[j] = load16(wr[j] + k);
    for (int i = 0; i < R; i++) {
      __m512 xv = _mm512_loadu_ps(x + (r0 + i) * n + k);
      for (int j = 0; j < O; j++) acc[i][j] = _mm512_add_ps(acc[i][j], _mm512_mul_ps(xv, wv[j]));
    }
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < O; j++) y[i][j] = finishDot(acc[i][j], x + (r0 + i) * n, wr[j], k, n);
}

// Outputs o..o+O-1 for every row, R rows at a time: as many as keep the R x O sums in registers.
template <int O, typename W>
__attribute__((target("avx512f,f16c"))) inline void outputsAvx512(const float* x, const W* w, const float* b, const float* res, float* out,
    int64_t rows, int64_t n, int64_t m, float scale, int64_t o) {
  const W* wr[O];
  for (int j = 0; j < O; j++) wr[j] = w + (o + j) * n;
  float y[8][O];
  for (int64_t r = 0; r < rows;) {
    const int64_t left = rows - r;
    const int R = left >= 8 && O <= 2 ? 8 : left >= 5 ? 5 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
    if (R == 8) dotBlock<8, O>(x, wr, n, r, y);
    else if (R == 5) dotBlock<5, O>(x, wr, n, r, y);
    else if (R == 4) dotBlock<4, O>(x, wr, n, r, y);
    else if (R == 2) dotBlock<2, O>(x, wr, n, r, y);
    else dotBlock<1, O>(x, wr, n, r, y);
    for (int i = 0; i < R; r++, i++) {
      for (int j = 0; j < O; j++) storeOutput(y[i][j], b, scale, res, out, r, m, o + j);
    }
  }
}

// Outputs o0..o1 of x [rows, n] times weight rows ([m, n], float32 or float16): four weight rows
// at a time for up to 5 rows of x (a step, a speculative check), two for more (a batch), then one;
// each output's float operations unchanged.
template <typename W>
__attribute__((target("avx512f,f16c"))) void linearAvx512(const float* x, const W* w, const float* b, const float* res, float* out,
    int64_t rows, int64_t n, int64_t m, float scale, int64_t o0, int64_t o1) {
  int64_t o = o0;
  if (rows <= 5)
    for (; o + 4 <= o1; o += 4) outputsAvx512<4>(x, w, b, res, out, rows, n, m, scale, o);
  for (; o + 2 <= o1; o += 2) outputsAvx512<2>(x, w, b, res, out, rows, n, m, scale, o);
  for (; o < o1; o++) outputsAvx512<1>(x, w, b, res, out, rows, n, m, scale, o);
}

// The rough path (a draft model's steps, whose tokens are only proposals): x times int8 weight rows,
// each output's sum scaled by its row's scale, in fused multiply-adds. A quarter of float32's
// bytes; the rounding differs from the float kernels and decides nothing the main model does not check.
template <int R>
__attribute__((target("avx512f"))) inline void int8Block(const float* x, const int8_t* const* wr, int64_t n, int64_t r0, float (*y)[4]) {
  __m512 acc[R][4];
  for (int i = 0; i < R; i++)
    for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m512 wv[4];
    if (k % 64 == 0)  // as dotBlock: the next block into L1, four blocks on into L2
      for (int j = 0; j < 4; j++) {
        _mm_prefetch(reinterpret_cast<const char*>(wr[j] + 4 * n + k), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(wr[j] + 16 * n + k), _MM_HINT_T1);
      }
    for (int j = 0; j < 4; j++)
      wv[j] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wr[j] + k))));
    for (int i = 0; i < R; i++) {
      __m512 xv = _mm512_loadu_ps(x + (r0 + i) * n + k);
      for (int j = 0; j < 4; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < 4; j++) {
      float v = _mm512_reduce_add_ps(acc[i][j]);
      for (int64_t t = k; t < n; t++) v += x[(r0 + i) * n + t] * wr[j][t];
      y[i][j] = v;
    }
}

__attribute__((target("avx512f"))) void linearInt8(const float* x, const Packed* p, const float* b, const float* res, float* out,
    int64_t rows, int64_t n, int64_t m, float scale, int64_t o0, int64_t o1) {
  float y[5][4];
  for (int64_t o = o0; o < o1; o += 4) {
    const int O = o1 - o < 4 ? (int)(o1 - o) : 4;
    const int8_t* wr[4];
    for (int j = 0; j < 4; j++) wr[j] = p->q + (o + (j < O ? j : 0)) * n;
    for (int64_t r = 0; r < rows;) {
      const int R = rows - r >= 5 ? 5 : rows - r >= 4 ? 4 : rows - r >= 2 ? 2 : 1;
      if (R == 5) int8Block<5>(x, wr, n, r, y);
      else if (R == 4) int8Block<4>(x, wr, n, r, y);
      else if (R == 2) int8Block<2>(x, wr, n, r, y);
      else int8Block<1>(x, wr, n, r, y);
      for (int i = 0; i < R; r++, i++)
        for (int j = 0; j < O; j++) storeOutput(y[i][j] * p->scales[o + j], b, scale, res, out, r, m, o + j);
    }
  }
}
#endif

void linearGeneric(const float* x, const float* w, const float* b, const float* res, float* out,
    int64_t rows, int64_t n, int64_t m, float scale, int64_t o0, int64_t o1) {
  for (int64_t o = o0; o < o1; o++) {
    for (int64_t r = 0; r < rows; r++) storeOutput(dotGeneric(x + r * n, w + o * n, n), b, scale, res, out, r, m, o);
  }
}

// Products from this many multiply-adds on share their outputs with helper threads: every Linear of
// a whisper-tiny step (384 x 384 of one row and up). Within a step the helper is still looking for
// work from the previous one (Helpers' spin), so sharing costs no wake-up.
const int64_t kSplitMacs = 1 << 17;
// Attention (queries x positions x width) from this size on shares its heads with helper threads.
const int64_t kSplitAttend = 1 << 17;

// Chunks of work shared between the calling thread and helpers, without a barrier: the caller
// takes chunks until none is left and then waits only for chunks a helper has taken. A helper
// that is not running (a busy machine: other processes on the cores) never holds the caller up,
// which an OpenMP team does (its end waits for every thread to arrive); with a core free, a
// helper wakes and takes its share. Results do not depend on who computes a
// chunk. After a job a helper keeps looking for the next one for kSpin before it
// sleeps: a generation step's Linears and attention come one after another, and waking a sleeping
// thread takes longer than one of them.
class Helpers {
 public:
  // run(i) for i in [0, chunks), on the caller and up to `helpers` helper threads.
  // (A second caller meanwhile, another Node worker thread with the addon, runs its chunks alone.)
  void share(int64_t chunks, int helpers, const std::function<void(int64_t)>& run) {
    std::unique_lock<std::mutex> caller(busy_, std::try_to_lock);
    if (!caller.owns_lock()) {
      for (int64_t i = 0; i < chunks; i++) run(i);
      return;
    }
    start(helpers);
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(m_);
      gen = ++gen_;
      job_ = &run;
      chunks_ = chunks;
      ticket_.store(gen << 32);
    }
    cv_.notify_all();
    work(gen, chunks, run);
    while (inFlight_.load() != 0) std::this_thread::yield();
  }

 private:
  // Takes chunks of job `gen` until none is left.
  void work(uint64_t gen, int64_t chunks, const std::function<void(int64_t)>& run) {
    for (;;) {
      uint64_t t = ticket_.load();
      if ((t >> 32) != gen || (int64_t)(t & 0xffffffffu) >= chunks) return;
      if (ticket_.compare_exchange_weak(t, t + 1)) run((int64_t)(t & 0xffffffffu));
    }
  }

  void start(int helpers) {
    while ((int)threads_.size() < helpers) {
      threads_.emplace_back([this] {
        uint64_t seen = 0;
        for (;;) {
          const std::function<void(int64_t)>* job;
          int64_t chunks;
          uint64_t gen;
          const auto until = std::chrono::steady_clock::now() + kSpin;
          while (gen_.load() == seen && std::chrono::steady_clock::now() < until) pause();
          {
            std::unique_lock<std::mutex> lock(m_);
            cv_.wait(lock, [&] { return gen_.load() != seen; });
            seen = gen = gen_.load();
            job = job_;
            chunks = chunks_;
          }
          // Counted before taking a chunk: the caller waits for this to drop back.
          inFlight_.fetch_add(1);
          work(gen, chunks, *job);
          inFlight_.fetch_sub(1);
        }
      });
      threads_.back().detach();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex busy_, m_;
  std::condition_variable cv_;
  std::atomic<uint64_t> gen_{0};  // written under m_; read without it by a spinning helper
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t chunks_ = 0;
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> inFlight_{0};
  // Long enough to bridge the JavaScript between two generation steps too (the next step's first
  // Linear then finds the helper awake).
  static constexpr std::chrono::microseconds kSpin{500};

  static void pause() {
#if defined(__x86_64__)
    _mm_pause();
#endif
  }
};

// Never destroyed: its threads wait on it until the process ends.
Helpers& helpers = *new Helpers;

// ---- attend: the wasm kernel's attention of T queries to `len` positions, every head ----


#if defined(__x86_64__)
__attribute__((target("avx512f,f16c"))) inline __m512 expCephes16(__m512 z) {
  z = _mm512_max_ps(z, _mm512_set1_ps(-87.f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(z, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_sub_ps(_mm512_sub_ps(z, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f))), _mm512_mul_ps(n, _mm512_set1_ps(-2.12194440e-4f)));
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r), _mm512_set1_ps(1.f));
  __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

// e = exp(s - m) for 16 scores.
__attribute__((target("avx512f,f16c"))) void exp16(const float* s, float m, float* e) {
  _mm512_storeu_ps(e, expCephes16(_mm512_sub_ps(_mm512_loadu_ps(s), _mm512_set1_ps(m))));
}

// scores[s] = sum over j of q[j] kT[j, s], in order of j, for the positions s < n rounded down to
// 16 (returned): kT's rows one after the other, the sums waiting in `scores` (in L1), so that kT is
// read front to back as the prefetcher likes it.
__attribute__((target("avx512f,f16c"))) int64_t scoresByRow(const float* qr, const float* k0, float* scores, int64_t dh, int64_t cap, int64_t n) {
  int64_t n16 = n & ~(int64_t)15;
  for (int64_t s = 0; s < n16; s += 16) _mm512_storeu_ps(scores + s, _mm512_setzero_ps());
  for (int64_t j = 0; j < dh; j++) {
    __m512 qj = _mm512_set1_ps(qr[j]);
    const float* row = k0 + j * cap;
    for (int64_t s = 0; s < n16; s += 16)
      _mm512_storeu_ps(scores + s, _mm512_add_ps(_mm512_loadu_ps(scores + s), _mm512_mul_ps(qj, _mm512_loadu_ps(row + s))));
  }
  return n16;
}

// o[c] = sum over t < n of p_u[t] v[t, c] for 16 U dims c from v's column 0, p_u the probabilities of
// the head that dims 16u..16u+15 belong to, in order of t: one pass over v's rows for several heads
// (a head alone reads 256 bytes of every row, which the prefetcher follows badly).
template <int U>
__attribute__((target("avx512f,f16c"))) void valuesByRow(const float* const* p, const float* v, float* o, int64_t d, int64_t n) {
  __m512 acc[U];
  for (int u = 0; u < U; u++) acc[u] = _mm512_setzero_ps();
  for (int64_t t = 0; t < n; t++) {
    const float* r = v + t * d;
    for (int u = 0; u < U; u++) acc[u] = _mm512_add_ps(acc[u], _mm512_mul_ps(_mm512_set1_ps(p[u][t]), _mm512_loadu_ps(r + 16 * u)));
  }
  for (int u = 0; u < U; u++) _mm512_storeu_ps(o + 16 * u, acc[u]);
}

// half[0..count) = w as float16 while every value is one exactly; false at the first that is not
// (NaN never compares equal: such weights stay float32).
__attribute__((target("avx512f,f16c"))) bool toHalf(const float* w, uint16_t* half, int64_t count) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m512 x = _mm512_loadu_ps(w + i);
    __m256i h = _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if (_mm512_cmpneq_ps_mask(_mm512_cvtph_ps(h), x) != 0) return false;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(half + i), h);
  }
  for (; i < count; i++) {
    __m128i h = _mm_cvtps_ph(_mm_set_ss(w[i]), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if (!(_mm_cvtss_f32(_mm_cvtph_ps(h)) == w[i])) return false;
    half[i] = (uint16_t)_mm_extract_epi16(h, 0);
  }
  return true;
}
#endif

// Scores of positions from..n-1 one at a time, q.k summed over the head's dims in order: the
// positions that the vector kernels leave (the last n % 16, or all without AVX-512).
static inline void scoresFrom(const float* qr, const float* k0, float* sc, int64_t dh, int64_t cap, int64_t from, int64_t n) {
  for (int64_t s = from; s < n; s++) {
    float y = 0;
    for (int64_t j = 0; j < dh; j++) y = y + qr[j] * k0[j * cap + s];
    sc[s] = y;
  }
}

// Softmax of the n scores in place, in the wasm kernel's order (sums in 4 lanes, then a tail).
void softmaxRow(float* s, int64_t n, bool wide) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; i++) m = fmaxf(m, s[i]);
  float lanes[4] = {0, 0, 0, 0};
  int64_t i = 0;
#if defined(__x86_64__)
  if (wide) {
    // 16 at a time, each value added to the lane (i mod 4) it joins in the wasm kernel, in order.
    for (; i + 16 <= n; i += 16) {
      float e[16];
      exp16(s + i, m, e);
      memcpy(s + i, e, 64);
      for (int g = 0; g < 16; g += 4)
        for (int l = 0; l < 4; l++) lanes[l] = lanes[l] + e[g + l];
    }
  }
#endif
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; l++) {
      s[i + l] = expCephes(s[i + l] - m);
      lanes[l] = lanes[l] + s[i + l];
    }
  float tail = 0;
  for (; i < n; i++) {
    s[i] = expCephes(s[i] - m);
    tail = tail + s[i];
  }
  float inv = 1.f / (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + tail);
  for (i = 0; i < n; i++) s[i] = s[i] * inv;
}

#if defined(__x86_64__)
// Head h of Q queries (rows of q, d apart) attending to all len positions, without a mask: what
// attendHeads computes for each query alone (scoresByRow's sums over j in order, softmaxRow, then
// valuesByRow's sums over t in order), with the sums in registers and each of the head's key and
// value vectors loaded once for the Q queries. scores: Q * len floats of scratch.
template <int Q>
__attribute__((target("avx512f,f16c"))) void queriesAttend(const float* q, const float* kT, const float* v, float* out, float* scores,
    int64_t d, int64_t dh, int64_t h, int64_t cap, int64_t len) {
  const float* k0 = kT + h * dh * cap;
  const int64_t n16 = len & ~(int64_t)15;
  for (int64_t s = 0; s < n16;) {
    const int C = n16 - s >= 64 ? 4 : 1;  // 4 vectors of positions at a time, then one
    __m512 acc[Q][4];
    for (int i = 0; i < Q; i++)
      for (int c = 0; c < C; c++) acc[i][c] = _mm512_setzero_ps();
    for (int64_t j = 0; j < dh; j++) {
      __m512 kv[4];
      for (int c = 0; c < C; c++) {
        _mm_prefetch(reinterpret_cast<const char*>(k0 + j * cap + s + 128 + 16 * c), _MM_HINT_T0);
        kv[c] = _mm512_loadu_ps(k0 + j * cap + s + 16 * c);
      }
      for (int i = 0; i < Q; i++) {
        __m512 qj = _mm512_set1_ps(q[i * d + h * dh + j]);
        for (int c = 0; c < C; c++) acc[i][c] = _mm512_add_ps(acc[i][c], _mm512_mul_ps(qj, kv[c]));
      }
    }
    for (int i = 0; i < Q; i++)
      for (int c = 0; c < C; c++) _mm512_storeu_ps(scores + i * len + s + 16 * c, acc[i][c]);
    s += 16 * C;
  }
  for (int i = 0; i < Q; i++) {
    const float* qr = q + i * d + h * dh;
    float* sc = scores + i * len;
    scoresFrom(qr, k0, sc, dh, cap, n16, len);
    softmaxRow(sc, len, true);
  }
  for (int64_t c0 = h * dh; c0 < (h + 1) * dh; c0 += 64) {
    __m512 acc[Q][4];
    for (int i = 0; i < Q; i++)
      for (int c = 0; c < 4; c++) acc[i][c] = _mm512_setzero_ps();
    for (int64_t t = 0; t < len; t++) {
      const float* r = v + t * d + c0;
      __m512 vv[4];
      for (int c = 0; c < 4; c++) vv[c] = _mm512_loadu_ps(r + 16 * c);
      for (int i = 0; i < Q; i++) {
        __m512 p = _mm512_set1_ps(scores[i * len + t]);
        for (int c = 0; c < 4; c++) acc[i][c] = _mm512_add_ps(acc[i][c], _mm512_mul_ps(p, vv[c]));
      }
    }
    for (int i = 0; i < Q; i++)
      for (int c = 0; c < 4; c++) _mm512_storeu_ps(out + i * d + c0 + 16 * c, acc[i][c]);
  }
}
#endif

// Heads h0..h1 of attend for every query: q [T, d], kT [d, cap], v [cap, d], out [T, d]; scores
// scratch of max(h1 - h0, 5) * len floats.
void attendHeads(const float* q, const float* kT, const float* v, float* out, float* scores,
    int64_t T, int64_t d, int64_t dh, int64_t h0, int64_t h1, int64_t cap, int64_t len, bool causal) {
#if defined(__x86_64__)
  // Several queries to the audio (a speculative check): each head's keys and values are read once
  // for up to 5 queries at a time (queriesAttend), every sum in the same order.
  if (kAvx512 && T > 1 && !causal && dh % 64 == 0) {
    for (int64_t h = h0; h < h1; h++)
      for (int64_t i = 0; i < T;) {
        const int64_t g = T - i >= 5 ? 5 : T - i;
        auto run = g == 5 ? queriesAttend<5> : g == 4 ? queriesAttend<4> : g == 3 ? queriesAttend<3> : g == 2 ? queriesAttend<2> : queriesAttend<1>;
        run(q + i * d, kT, v, out + i * d, scores, d, dh, h, cap, len);
        i += g;
      }
    return;
  }
#endif
  for (int64_t i = 0; i < T; i++) {
    int64_t n = causal ? len - T + 1 + i : len;
    for (int64_t h = h0; h < h1; h++) {
      const float* qr = q + i * d + h * dh;
      const float* k0 = kT + h * dh * cap;
      float* sc = scores + (h - h0) * len;
      int64_t s = 0;
#if defined(__x86_64__)
      if (kAvx512) s = scoresByRow(qr, k0, sc, dh, cap, n);
#endif
      scoresFrom(qr, k0, sc, dh, cap, s, n);
      softmaxRow(sc, n, kAvx512);
    }
    // out[c] = sum over t of p[t] v[t, c], in order of t, for the dims c of heads h0..h1.
    int64_t c = h0 * dh, end = h1 * dh;
#if defined(__x86_64__)
    if (kAvx512 && dh % 16 == 0) {
      for (int64_t u; c < end; c += 16 * u) {
        u = (end - c) / 16 < 16 ? (end - c) / 16 : 16;
        const float* p[16];
        for (int64_t k = 0; k < u; k++) p[k] = scores + ((c + 16 * k) / dh - h0) * len;
        const float* vr = v + c;
        float* o = out + i * d + c;
        if (u == 16) valuesByRow<16>(p, vr, o, d, n);
        else if (u >= 8) u = 8, valuesByRow<8>(p, vr, o, d, n);
        else if (u >= 4) u = 4, valuesByRow<4>(p, vr, o, d, n);
        else u = 1, valuesByRow<1>(p, vr, o, d, n);
      }
    }
#endif
    for (; c < end; c++) {
      const float* p = scores + (c / dh - h0) * len;
      float y = 0;
      for (int64_t t = 0; t < n; t++) y = y + p[t] * v[t * d + c];
      out[i * d + c] = y;
    }
  }
}

// ---- expSum: the decoding loop's log-sum-exp over the vocabulary (src/model/search.ts) ----

// Lanes of e^x for x <= 0 as search.ts's expNonPositive computes them: steps[j] (= e^(-j/16), the
// caller's table) times a degree-8 Taylor polynomial on the rest, 0 where j is past the table.
// The same float64 operations (a division by 40320 included), so the same values.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) inline __m512d expSteps8(__m512d x, const double* steps, int64_t count) {
  __m512d j = _mm512_roundscale_pd(_mm512_mul_pd(_mm512_set1_pd(-16.0), x), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __mmask8 in = _mm512_cmp_pd_mask(j, _mm512_set1_pd((double)count), _CMP_LT_OQ);
  __m512d r = _mm512_add_pd(x, _mm512_div_pd(j, _mm512_set1_pd(16.0)));
  __m256i idx = _mm512_cvttpd_epi32(_mm512_maskz_mov_pd(in, j));
  __m512d step = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), in, idx, steps, 8);
  __m512d p = _mm512_add_pd(_mm512_set1_pd(1.0 / 5040), _mm512_div_pd(r, _mm512_set1_pd(40320.0)));
  const double c[] = {1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1.0, 1.0};
  for (double k : c) p = _mm512_add_pd(_mm512_set1_pd(k), _mm512_mul_pd(r, p));
  return _mm512_maskz_mov_pd(in, _mm512_mul_pd(step, p));
}

// The sum over the first n rounded down to 8 values, 8 exponentials at a time, added in order.
__attribute__((target("avx512f"))) double expSumWide(const float* v, int64_t n8, double max, const double* steps, int64_t count) {
  double sum = 0;
  for (int64_t i = 0; i < n8; i += 8) {
    double e[8];
    _mm512_storeu_pd(e, expSteps8(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(v + i)), _mm512_set1_pd(max)), steps, count));
    for (int k = 0; k < 8; k++) sum += e[k];
  }
  return sum;
}
#endif

inline double expStep(double x, const double* steps, int64_t count) {
  double j = floor(-16 * x);
  if (!(j < (double)count)) return 0;
  double r = x + j / 16;
  return steps[(int64_t)j] * (1 + r * (1 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040 + r / 40320))))))));
}

}  // namespace

// expSum(values, max, steps): the sum, in order, of e^(values[i] - max) over a Float32Array, e^ as
// expStep above (steps: search.ts's table). The same float64 operations as search.ts's loop.
napi_value ExpSum(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  void* data[2] = {nullptr, nullptr};
  size_t count[2] = {0, 0};
  const napi_typedarray_type want[2] = {napi_float32_array, napi_float64_array};
  for (int a = 0; a < 2; a++) {
    bool is = false;
    napi_typedarray_type type;
    if (argc != 3 || napi_is_typedarray(env, argv[a * 2], &is) != napi_ok || !is ||
        napi_get_typedarray_info(env, argv[a * 2], &type, &count[a], &data[a], nullptr, nullptr) != napi_ok || type != want[a])
      return fail(env, "expSum", "a Float32Array, a number and a Float64Array expected"), nullptr;
  }
  double max;
  CHECK(napi_get_value_double(env, argv[1], &max));
  const float* v = static_cast<const float*>(data[0]);
  const double* steps = static_cast<const double*>(data[1]);
  const int64_t n = count[0], table = count[1];
  double sum = 0;
  int64_t i = 0;
#if defined(__x86_64__)
  if (kAvx512) sum = expSumWide(v, i = n & ~(int64_t)7, max, steps, table);
#endif
  for (; i < n; i++) sum += expStep((double)v[i] - max, steps, table);
  napi_value out;
  CHECK(napi_create_double(env, sum, &out));
  return out;
}

void linearRowsOn(const float* x, const float* w, const Packed* packed, const float* b, const float* res, float* out,
                  int64_t rows, int64_t n, int64_t m, float scale) {
  int threads = rows * n * m >= kSplitMacs ? omp_get_max_threads() : 1;
  auto run = [&](int64_t o0, int64_t o1) {
#if defined(__x86_64__)
    if (packed && packed->q) return linearInt8(x, packed, b, res, out, rows, n, m, scale, o0, o1);
    if (packed) return linearAvx512(x, packed->half, b, res, out, rows, n, m, scale, o0, o1);
    if (kAvx512) return linearAvx512(x, w, b, res, out, rows, n, m, scale, o0, o1);
#endif
    linearGeneric(x, w, b, res, out, rows, n, m, scale, o0, o1);
  };
  if (threads <= 1) {
    run(0, m);
  } else {
    // Chunks small enough that a few rows times a 384-wide layer still make several.
    const int64_t chunk = m >= 4096 ? 512 : 64;
    helpers.share((m + chunk - 1) / chunk, threads - 1, [&](int64_t i) { run(i * chunk, (i + 1) * chunk < m ? (i + 1) * chunk : m); });
  }
}

void attendOn(const float* q, const float* const* kT, const float* const* v, const int64_t* cap, float* out,
              int64_t B, int64_t T, int64_t d, int64_t H, int64_t len, bool causal) {
  int64_t dh = d / H;
  // Rows and heads are independent: with enough work (cross-attention to 1500 positions) each row's
  // heads are split in two halves, and the helper takes some of those chunks.
  int threads = B * T * len * d >= kSplitAttend ? omp_get_max_threads() : 1;
  int64_t groups = threads > 1 && H > 1 ? 2 : 1;
  auto chunk = [&](int64_t i) {
    thread_local std::vector<float> scores;  // per thread: the caller's, a helper's, a Node worker's
    int64_t b = i / groups, g = i % groups;
    int64_t h0 = H * g / groups, h1 = H * (g + 1) / groups;
    int64_t need = ((h1 - h0) > 5 ? (h1 - h0) : 5) * len;
    if ((int64_t)scores.size() < need) scores.resize(need);
    attendHeads(q + b * T * d, kT[b], v[b], out + b * T * d, scores.data(), T, d, dh, h0, h1, cap[b], len, causal);
  };
  if (threads <= 1) {
    for (int64_t i = 0; i < B * groups; i++) chunk(i);
  } else {
    helpers.share(B * groups, threads - 1, chunk);
  }
}

// packWeight(heap, offset, rows, cols[, rough]): the weight at heap[offset..] as float16 outside the
// heap when every value is one, else null (read it in place); with `rough`, as int8 with a scale per
// row (max |w| / 127) instead, whatever the values (an external to pass to linearRows either way).
napi_value PackWeight(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  float* heap;
  size_t length;
  int64_t a[3];
  bool rough = false;
  napi_value none;
  CHECK(napi_get_null(env, &none));
  if (argc != 4 && argc != 5) return fail(env, "packWeight", "4 or 5 arguments (heap, offset, rows, cols[, rough])"), nullptr;
  if (!heapOf(env, argv[0], &heap, &length, "packWeight") || !ints(env, argv + 1, 3, a, "packWeight")) return nullptr;
  if (argc == 5 && napi_get_value_bool(env, argv[4], &rough) != napi_ok) return fail(env, "packWeight", "rough must be a boolean"), nullptr;
  int64_t offset = a[0], rows = a[1], cols = a[2];
  if (!inHeap(offset, rows * cols, length) || rows <= 0 || cols <= 0) return fail(env, "packWeight", "weight outside the heap"), nullptr;
  if (!kAvx512) return none;  // float16 is read fast with F16C only; elsewhere float32 in place
  int64_t count = rows * cols;
  const float* w = heap + offset;
  Packed* p = nullptr;
  if (rough) {
    int8_t* q = static_cast<int8_t*>(aligned_alloc(64, ((count + 63) / 64) * 64));
    float* scales = static_cast<float*>(malloc(rows * sizeof(float)));
    if (!q || !scales) {
      free(q);
      free(scales);
      return none;
    }
    for (int64_t r = 0; r < rows; r++) {
      const float* row = w + r * cols;
      float top = 0;
      for (int64_t c = 0; c < cols; c++) top = fmaxf(top, fabsf(row[c]));
      scales[r] = top > 0 ? top / 127 : 1;
      for (int64_t c = 0; c < cols; c++) q[r * cols + c] = (int8_t)lrintf(row[c] / scales[r]);
    }
    p = new Packed{rows, cols, nullptr, q, scales};
  } else {
    uint16_t* half = static_cast<uint16_t*>(aligned_alloc(64, ((count * 2 + 63) / 64) * 64));
    if (!half) return none;
    bool exact = false;
#if defined(__x86_64__)
    exact = toHalf(w, half, count);
#endif
    if (!exact) {
      free(half);
      return none;
    }
    p = new Packed{rows, cols, half};
  }
  int64_t change = 0;
  napi_adjust_external_memory(env, p->bytes(), &change);
  napi_value out;
  CHECK(napi_create_external(env, p, freePacked, nullptr, &out));
  return out;
}

// linearRows(heap, x, w, packed, b, res, out, rows, n, m, scale): out[r, o] = ((x[r] . w[o]) + b[o])
// * scale + res[r, o] for x [rows, n] and w [m, n] (heap offsets in floats; b, res = -1 when
// absent; `packed` from packWeight, or null to read w from the heap).
napi_value LinearRows(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  float* heap;
  size_t length;
  int64_t s[3];
  double scale;
  if (argc != 11) return fail(env, "linearRows", "11 arguments (heap, x, w, packed, b, res, out, rows, n, m, scale)"), nullptr;
  if (!heapOf(env, argv[0], &heap, &length, "linearRows")) return nullptr;
  int64_t off[5];  // x, w, b, res, out
  if (!ints(env, argv + 1, 2, off, "linearRows") || !ints(env, argv + 4, 3, off + 2, "linearRows") ||
      !ints(env, argv + 7, 3, s, "linearRows")) return nullptr;
  CHECK(napi_get_value_double(env, argv[10], &scale));
  int64_t rows = s[0], n = s[1], m = s[2];
  Packed* packed = nullptr;
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[3], &t));
  if (t == napi_external) {
    void* p;
    CHECK(napi_get_value_external(env, argv[3], &p));
    packed = static_cast<Packed*>(p);
    if (packed->rows != m || packed->cols != n) return fail(env, "linearRows", "packed weight of another shape"), nullptr;
  }
  if (rows <= 0 || n <= 0 || m <= 0 || n % 4 != 0) return fail(env, "linearRows", "rows, n, m positive, n a multiple of 4"), nullptr;
  if (!inHeap(off[0], rows * n, length) || (!packed && !inHeap(off[1], m * n, length)) || !inHeap(off[2], m, length, true) ||
      !inHeap(off[3], rows * m, length, true) || !inHeap(off[4], rows * m, length))
    return fail(env, "linearRows", "an operand reaches outside the heap"), nullptr;
  const float* x = heap + off[0];
  const float* b = off[2] < 0 ? nullptr : heap + off[2];
  const float* res = off[3] < 0 ? nullptr : heap + off[3];
  float* out = heap + off[4];
  linearRowsOn(x, heap + off[1], packed, b, res, out, rows, n, m, (float)scale);
  return nullptr;
}

// `n` integers from the JavaScript array v into out (false with an exception when it is not one).
static bool intArray(napi_env env, napi_value v, int64_t n, std::vector<int64_t>& out, const char* fn) {
  bool is = false;
  uint32_t len = 0;
  if (napi_is_array(env, v, &is) != napi_ok || !is || napi_get_array_length(env, v, &len) != napi_ok || (int64_t)len != n)
    return fail(env, fn, "an array of one integer per batch row expected");
  out.resize(n);
  for (uint32_t i = 0; i < len; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok || napi_get_value_int64(env, e, &out[i]) != napi_ok)
      return fail(env, fn, "integer array elements expected");
  }
  return true;
}

// attend(heap, q, kT[], v[], cap[], out, B, T, d, heads, len, causal): the attention of row b of q
// [B, T, d] (scaled) to the first len positions of kT[b] [d, cap[b]] and v[b] [cap[b], d]; query i
// sees len - T + 1 + i positions when causal (heap offsets in floats).
napi_value Attend(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  float* heap;
  size_t length;
  int64_t a[8];
  if (argc != 12) return fail(env, "attend", "12 arguments (heap, q, kT[], v[], cap[], out, B, T, d, heads, len, causal)"), nullptr;
  if (!heapOf(env, argv[0], &heap, &length, "attend") || !ints(env, argv + 1, 1, a, "attend") ||
      !ints(env, argv + 5, 7, a + 1, "attend")) return nullptr;
  int64_t q = a[0], out = a[1], B = a[2], T = a[3], d = a[4], H = a[5], len = a[6];
  bool causal = a[7] != 0;
  if (B <= 0 || T <= 0 || d <= 0 || H <= 0 || d % H != 0 || len <= 0 || (causal && len < T))
    return fail(env, "attend", "sizes out of range"), nullptr;
  std::vector<int64_t> kT, v, cap;
  if (!intArray(env, argv[2], B, kT, "attend") || !intArray(env, argv[3], B, v, "attend") || !intArray(env, argv[4], B, cap, "attend"))
    return nullptr;
  if (!inHeap(q, B * T * d, length) || !inHeap(out, B * T * d, length)) return fail(env, "attend", "an operand reaches outside the heap"), nullptr;
  for (int64_t b = 0; b < B; b++)
    if (len > cap[b] || !inHeap(kT[b], d * cap[b], length) || !inHeap(v[b], cap[b] * d, length))
      return fail(env, "attend", "a row's keys or values reach outside the heap or hold fewer than len positions"), nullptr;
  std::vector<const float*> kp(B), vp(B);
  for (int64_t b = 0; b < B; b++) kp[b] = heap + kT[b], vp[b] = heap + v[b];
  attendOn(heap + q, kp.data(), vp.data(), cap.data(), heap + out, B, T, d, H, len, causal);
  return nullptr;
}

napi_value DecoderStep(napi_env env, napi_callback_info info);  // step.cc

// The functions above and step.cc's, added to the module's exports by dnnl.cc's Init.
napi_value InitDecode(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"packWeight", nullptr, PackWeight, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"linearRows", nullptr, LinearRows, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"attend", nullptr, Attend, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"decoderStep", nullptr, DecoderStep, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"expSum", nullptr, ExpSum, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
