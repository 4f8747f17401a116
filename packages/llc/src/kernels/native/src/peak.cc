#include "peak.h"

#include <chrono>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace lh {

namespace {

constexpr int ACCUMULATORS = 12;  // enough independent chains to cover the FMA latency on both ports
constexpr long REPEATS = 1 << 20;

__attribute__((target("avx2,fma"))) float fmaLoop(long repeats) {
  __m256 acc[ACCUMULATORS];
  for (int k = 0; k < ACCUMULATORS; k++) acc[k] = _mm256_set1_ps(static_cast<float>(k));
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-7f);
  for (long r = 0; r < repeats; r++)
    for (int k = 0; k < ACCUMULATORS; k++) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  __m256 sum = acc[0];
  for (int k = 1; k < ACCUMULATORS; k++) sum = _mm256_add_ps(sum, acc[k]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0];
}

}  // namespace

double avx2PeakF32(double seconds) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
  volatile float sink = fmaLoop(REPEATS / 16);
  double best = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  do {
    const auto t0 = std::chrono::steady_clock::now();
    sink = fmaLoop(REPEATS);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double gflops = static_cast<double>(REPEATS) * ACCUMULATORS * 8 * 2 / s / 1e9;
    if (gflops > best) best = gflops;
  } while (std::chrono::steady_clock::now() < deadline);
  (void)sink;
  return best;
}

}  // namespace lh

#else

namespace lh {
double avx2PeakF32(double) { return 0; }
}  // namespace lh

#endif
