// The project's normal stream (packages/llc/src/rng.ts, `fillNormal`), natively: element i of the
// stream of key (k0, k1) is the (i mod 2)-th Box–Muller normal of Threefry-2x32-20 block ⌊i/2⌋
// (Salmon et al., SC'11). Any slice can be generated on its own, so a chain's noise is the slice
// [c·d, (c + 1)·d) whichever kernel draws it.
//
// - float64: the exact stream, with the C library's log, sin and cos (within an ulp or two of
//   JavaScript's Math functions).
// - float32: the vectorised, f32-accurate generator of the WebAssembly kernel
//   (wasm/assembly/rng.ts), operation for operation: the same polynomial log and sin/cos, the same
//   rounding of every step, no fused multiply-adds. Its values are within 2e-6 of the exact stream
//   and equal, bit for bit, to the WebAssembly build's.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "simd.h"

namespace lh {

static inline uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// Threefry-2x32 with 20 rounds of counter (c0, c1) under key (k0, k1).
static inline void threefry(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t& o0, uint32_t& o1) {
  const uint32_t ks2 = k0 ^ k1 ^ 0x1bd11bdau;
  uint32_t x0 = c0 + k0, x1 = c1 + k1;
#define LH_MIX(r) x0 += x1; x1 = rotl(x1, r) ^ x0;
  LH_MIX(13) LH_MIX(15) LH_MIX(26) LH_MIX(6)
  x0 += k1; x1 += ks2 + 1;
  LH_MIX(17) LH_MIX(29) LH_MIX(16) LH_MIX(24)
  x0 += ks2; x1 += k0 + 2;
  LH_MIX(13) LH_MIX(15) LH_MIX(26) LH_MIX(6)
  x0 += k0; x1 += k1 + 3;
  LH_MIX(17) LH_MIX(29) LH_MIX(16) LH_MIX(24)
  x0 += k1; x1 += ks2 + 4;
  LH_MIX(13) LH_MIX(15) LH_MIX(26) LH_MIX(6)
  x0 += ks2; x1 += k0 + 5;
#undef LH_MIX
  o0 = x0;
  o1 = x1;
}

// Element i of the exact (float64) stream.
double normalAt(uint32_t k0, uint32_t k1, uint64_t i);

// Elements [start, start + count) of the exact stream into out.
void normalsF64(uint32_t k0, uint32_t k1, uint64_t start, int64_t count, double* out);

// Elements [start, start + count) of the float32 stream into out.
void normalsF32(uint32_t k0, uint32_t k1, uint64_t start, int64_t count, float* out);

}  // namespace lh
