#include "noise.h"

#include <algorithm>

namespace lh {

namespace {

constexpr double TWO_POW_MINUS_32 = 2.3283064365386963e-10;

float fromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

uint32_t toBits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// ln x for x in (0, 1]: exponent, mantissa in [√½, √2), then 2·atanh((m − 1)/(m + 1)). Constants are
// the f32 roundings of the double values, as the WebAssembly build has them.
inline float logF32(float x) {
  const uint32_t bits = toBits(x);
  int32_t e = static_cast<int32_t>(bits >> 23) - 127;
  float m = fromBits((bits & 0x007fffffu) | 0x3f800000u);
  // Selections are bit masks, as in the WebAssembly build, so that the loop has no branches.
  const uint32_t big = 0u - static_cast<uint32_t>(m > static_cast<float>(1.4142135623730951));
  m = fromBits((toBits(m * 0.5f) & big) | (toBits(m) & ~big));
  e += static_cast<int32_t>(big & 1u);
  const float s = (m - 1.0f) / (m + 1.0f);
  const float s2 = s * s;
  float p = static_cast<float>(1.0 / 9);
  p = p * s2 + static_cast<float>(1.0 / 7);
  p = p * s2 + static_cast<float>(1.0 / 5);
  p = p * s2 + static_cast<float>(1.0 / 3);
  p = p * s2 + 1.0f;
  const float lnm = (p * s) * 2.0f;
  return static_cast<float>(e) * static_cast<float>(0.6931471805599453) + lnm;
}

// The two float32 normals of one Threefry block.
inline void pairF32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, float& z0, float& z1) {
  uint32_t x0, x1;
  threefry(k0, k1, c0, c1, x0, x1);
  const float scale = static_cast<float>(TWO_POW_MINUS_32);
  const float u1 = (static_cast<float>(x0) + 0.5f) * scale;
  const float u2 = (static_cast<float>(x1) + 0.5f) * scale;
  const float r = std::sqrt(-2.0f * logF32(u1));
  // 2π·u2 = q·π/2 + f with f in [−π/4, π/4].
  const float t = u2 * 4.0f;
  // t rounded to the nearest integer, ties to even (WebAssembly's f32x4.nearest): adding and
  // subtracting 2²³ does exactly that for 0 ≤ t < 2²³, and unlike roundevenf it vectorises.
  const float qf = (t + 8388608.0f) - 8388608.0f;
  const float f = (t - qf) * static_cast<float>(1.5707963267948966);
  const int32_t q = static_cast<int32_t>(qf);
  const float f2 = f * f;
  float sp = static_cast<float>(1.0 / 362880);
  sp = sp * f2 + static_cast<float>(-1.0 / 5040);
  sp = sp * f2 + static_cast<float>(1.0 / 120);
  sp = sp * f2 + static_cast<float>(-1.0 / 6);
  sp = sp * f2 + 1.0f;
  const float sinF = sp * f;
  float cp = static_cast<float>(-1.0 / 3628800);
  cp = cp * f2 + static_cast<float>(1.0 / 40320);
  cp = cp * f2 + static_cast<float>(-1.0 / 720);
  cp = cp * f2 + static_cast<float>(1.0 / 24);
  cp = cp * f2 - 0.5f;
  const float cosF = cp * f2 + 1.0f;
  // Quadrants: sin θ is ±sin f (q even) or ±cos f (q odd); cos θ the other one.
  const uint32_t odd = 0u - static_cast<uint32_t>(q & 1);
  const uint32_t sinSign = static_cast<uint32_t>(q & 2) << 30;
  const uint32_t cosSign = static_cast<uint32_t>((q + 1) & 2) << 30;
  const float sinT = fromBits(((toBits(cosF) & odd) | (toBits(sinF) & ~odd)) ^ sinSign);
  const float cosT = fromBits(((toBits(sinF) & odd) | (toBits(cosF) & ~odd)) ^ cosSign);
  z0 = r * cosT;
  z1 = r * sinT;
}

// Blocks lo … lo + pairs − 1 (high counter word hi, no carry into it) into out, two normals each.
LH_CLONES void pairsF32(uint32_t k0, uint32_t k1, uint32_t hi, uint32_t lo, int64_t pairs, float* out) {
  for (int64_t p = 0; p < pairs; p++) {
    float z0, z1;
    pairF32(k0, k1, hi, lo + static_cast<uint32_t>(p), z0, z1);
    out[2 * p] = z0;
    out[2 * p + 1] = z1;
  }
}

inline void pairF64(uint32_t k0, uint32_t k1, uint64_t block, double& z0, double& z1) {
  uint32_t x0, x1;
  threefry(k0, k1, static_cast<uint32_t>(block >> 32), static_cast<uint32_t>(block), x0, x1);
  const double r = std::sqrt(-2 * std::log((x0 + 0.5) * TWO_POW_MINUS_32));
  const double theta = 2 * M_PI * ((x1 + 0.5) * TWO_POW_MINUS_32);
  z0 = r * std::cos(theta);
  z1 = r * std::sin(theta);
}

}  // namespace

double normalAt(uint32_t k0, uint32_t k1, uint64_t i) {
  double z0, z1;
  pairF64(k0, k1, i >> 1, z0, z1);
  return (i & 1) ? z1 : z0;
}

void normalsF64(uint32_t k0, uint32_t k1, uint64_t start, int64_t count, double* out) {
  const uint64_t end = start + static_cast<uint64_t>(count);
  for (uint64_t i = start; i < end;) {
    double z0, z1;
    pairF64(k0, k1, i >> 1, z0, z1);
    if ((i & 1) == 0) out[i++ - start] = z0;
    if (i < end) out[i++ - start] = z1;
  }
}

void normalsF32(uint32_t k0, uint32_t k1, uint64_t start, int64_t count, float* out) {
  const uint64_t end = start + static_cast<uint64_t>(count);
  uint64_t i = start;
  float z0, z1;
  if ((i & 1) && i < end) {
    pairF32(k0, k1, static_cast<uint32_t>((i >> 1) >> 32), static_cast<uint32_t>(i >> 1), z0, z1);
    out[i++ - start] = z1;
  }
  // Whole pairs, split where the low counter word would wrap so the vectorised loop never carries.
  while (end - i >= 2) {
    const uint64_t block = i >> 1;
    const uint64_t room = (uint64_t{1} << 32) - (block & 0xffffffffu);
    const int64_t pairs = static_cast<int64_t>(std::min<uint64_t>((end - i) >> 1, room));
    pairsF32(k0, k1, static_cast<uint32_t>(block >> 32), static_cast<uint32_t>(block), pairs, out + (i - start));
    i += 2 * static_cast<uint64_t>(pairs);
  }
  if (i < end) {
    pairF32(k0, k1, static_cast<uint32_t>((i >> 1) >> 32), static_cast<uint32_t>(i >> 1), z0, z1);
    out[i - start] = z0;
  }
}

}  // namespace lh
