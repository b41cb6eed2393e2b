// What bf16 products would gain on this CPU (AVX512_BF16): oneDNN's matmul primitive on whisper-tiny's
// shapes in float32, and with bf16 operands and a float32 result (weights converted once, the
// activations converted by a reorder in every timed call). Not part of the library: the feasibility
// number for its bf16 option (setMatmulPrecision, native/dnnl.cc), and the reference that showed
// converting the weights in every call, as the addon does, costs nothing measurable (BENCHMARKS.md).
//   g++ -O2 -fopenmp bench/dnnl_bf16.cc -ldnnl -o /tmp/dnnl_bf16 && OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive /tmp/dnnl_bf16
#include <dnnl.hpp>
#include <chrono>
#include <cstdio>
#include <vector>
#include <omp.h>
using namespace dnnl;
using dt = memory::data_type;
static double now() { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
int main() {
  engine eng(engine::kind::cpu, 0); stream s(eng);
  long shapes[][3] = {{1500, 1536, 384}, {1500, 384, 1536}, {1500, 384, 384}, {1500, 1500, 64}, {40, 51865, 384}};
  for (auto& sh : shapes) {
    long M = sh[0], N = sh[1], K = sh[2];
    memory::desc a32({M, K}, dt::f32, memory::format_tag::ab), b32({K, N}, dt::f32, memory::format_tag::ab), c32({M, N}, dt::f32, memory::format_tag::ab);
    memory::desc a16({M, K}, dt::bf16, memory::format_tag::ab), b16({K, N}, dt::bf16, memory::format_tag::ab);
    std::vector<float> A(M * K, 0.5f), B(K * N, 0.25f), C(M * N);
    memory mA(a32, eng, A.data()), mB(b32, eng, B.data()), mC(c32, eng, C.data()), mA16(a16, eng), mB16(b16, eng);
    reorder(mB, mB16).execute(s, mB, mB16);
    auto p32 = matmul(matmul::primitive_desc(matmul::desc(a32, b32, c32), eng));
    auto pd16 = matmul::primitive_desc(matmul::desc(a16, b16, c32), eng); auto p16 = matmul(pd16);
    reorder toA(mA, mA16);
    auto t = [&](auto f) { f(); double t0 = now(); int n = 10; for (int i = 0; i < n; i++) f(); s.wait(); return (now() - t0) / n; };
    double f32 = t([&] { p32.execute(s, {{DNNL_ARG_SRC, mA}, {DNNL_ARG_WEIGHTS, mB}, {DNNL_ARG_DST, mC}}); s.wait(); });
    double tb16 = t([&] { toA.execute(s, mA, mA16); p16.execute(s, {{DNNL_ARG_SRC, mA16}, {DNNL_ARG_WEIGHTS, mB16}, {DNNL_ARG_DST, mC}}); s.wait(); });
    double f32b = t([&] { p32.execute(s, {{DNNL_ARG_SRC, mA}, {DNNL_ARG_WEIGHTS, mB}, {DNNL_ARG_DST, mC}}); s.wait(); });
    printf("%ldx%ldx%ld f32 %.2f/%.2f ms  bf16 (incl. activation conversion) %.2f ms  f32/bf16 %.2fx  [%s]\n", M, N, K, f32, f32b, tb16, (f32 + f32b) / 2 / tb16,
      pd16.impl_info_str());
  }
}
