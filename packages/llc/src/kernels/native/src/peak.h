#pragma once

namespace lh {

// The float32 multiply-add throughput of one core with 256-bit AVX2 FMA, measured over about
// `seconds` (GFLOP/s, 2 flops per lane and FMA), or 0 when the CPU has no AVX2 + FMA. Benchmarks
// divide by it to say how close a kernel comes to the core's AVX2 peak.
double avx2PeakF32(double seconds);

}  // namespace lh
