#include "mlp.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "blas.h"
#include "simd.h"

namespace lh {

namespace {

constexpr double GELU_C = 0.7978845608028654;  // √(2/π)
constexpr double LN_EPS = 1e-5;

// a = act(z), elementwise over n values.
template <typename T>
inline void activateImpl(Activation kind, const T* z, T* a, int64_t n) {
  switch (kind) {
    case RELU:
      for (int64_t i = 0; i < n; i++) a[i] = z[i] > T(0) ? z[i] : T(0);
      return;
    case TANH:
      for (int64_t i = 0; i < n; i++) a[i] = std::tanh(z[i]);
      return;
    case GELU:
      for (int64_t i = 0; i < n; i++) {
        const T x = z[i];
        a[i] = T(0.5) * x * (T(1) + std::tanh(T(GELU_C) * (x + T(0.044715) * x * x * x)));
      }
      return;
    case IDENTITY:
      std::memcpy(a, z, sizeof(T) * n);
      return;
  }
}

// g ← g ⊙ act′(z), in place.
template <typename T>
inline void activationBackwardImpl(Activation kind, const T* z, T* g, int64_t n) {
  switch (kind) {
    case RELU:
      for (int64_t i = 0; i < n; i++) g[i] = z[i] > T(0) ? g[i] : T(0);
      return;
    case TANH:
      for (int64_t i = 0; i < n; i++) {
        const T t = std::tanh(z[i]);
        g[i] *= T(1) - t * t;
      }
      return;
    case GELU:
      for (int64_t i = 0; i < n; i++) {
        const T x = z[i];
        const T t = std::tanh(T(GELU_C) * (x + T(0.044715) * x * x * x));
        g[i] *= T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * T(GELU_C) * (T(1) + T(3) * T(0.044715) * x * x);
      }
      return;
    case IDENTITY:
      return;
  }
}

// acc[o] += Σ_i g[i, o] in float64, column by column in row order (the bias gradient).
template <typename T>
inline void columnSumsImpl(const T* g, int32_t rows, int32_t width, double* acc) {
  for (int32_t i = 0; i < rows; i++) {
    const T* row = g + static_cast<int64_t>(i) * width;
    for (int32_t o = 0; o < width; o++) acc[o] += static_cast<double>(row[o]);
  }
}

#define LH_ELEMENTWISE(T)                                                                                                         \
  LH_CLONES void activate(Activation k, const T* z, T* a, int64_t n) { activateImpl<T>(k, z, a, n); }                              \
  LH_CLONES void activationBackward(Activation k, const T* z, T* g, int64_t n) { activationBackwardImpl<T>(k, z, g, n); }          \
  LH_CLONES void columnSums(const T* g, int32_t rows, int32_t width, double* acc) { columnSumsImpl<T>(g, rows, width, acc); }
LH_ELEMENTWISE(float)
LH_ELEMENTWISE(double)
#undef LH_ELEMENTWISE

template <typename T>
void layerNorm(const T* a, int32_t count, int32_t width, const T* gain, const T* bias, T* xhat, T* rstd, T* out) {
  for (int32_t i = 0; i < count; i++) {
    const int64_t base = static_cast<int64_t>(i) * width;
    double mean = 0;
    for (int32_t j = 0; j < width; j++) mean += a[base + j];
    mean /= width;
    double v = 0;
    for (int32_t j = 0; j < width; j++) v += (a[base + j] - mean) * (a[base + j] - mean);
    const double r = 1 / std::sqrt(v / width + LN_EPS);
    rstd[i] = static_cast<T>(r);
    for (int32_t j = 0; j < width; j++) {
      const T x = static_cast<T>((a[base + j] - mean) * r);
      xhat[base + j] = x;
      out[base + j] = x * gain[j] + bias[j];
    }
  }
}

// Writes the input gradient to gIn and adds the gain and bias gradients to dGain, dBias (float64).
template <typename T>
void layerNormBackward(const T* gOut, int32_t count, int32_t width, const T* gain, const T* xhat, const T* rstd, double* dGain, double* dBias, T* gIn) {
  for (int32_t i = 0; i < count; i++) {
    const int64_t base = static_cast<int64_t>(i) * width;
    double meanG = 0, meanGX = 0;
    for (int32_t j = 0; j < width; j++) {
      const T g = gOut[base + j];
      dGain[j] += static_cast<double>(g) * xhat[base + j];
      dBias[j] += g;
      const double dx = static_cast<double>(g) * gain[j];
      meanG += dx;
      meanGX += dx * xhat[base + j];
    }
    meanG /= width;
    meanGX /= width;
    for (int32_t j = 0; j < width; j++) {
      const double dx = static_cast<double>(gOut[base + j]) * gain[j];
      gIn[base + j] = static_cast<T>(rstd[i] * (dx - meanG - xhat[base + j] * meanGX));
    }
  }
}

template <typename T>
void storeSums(const double* acc, int32_t n, T* grad) {
  for (int32_t k = 0; k < n; k++) grad[k] = static_cast<T>(acc[k]);
}

}  // namespace

LH_CLONES void add(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}
LH_CLONES void add(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

template <typename T>
Net<T>::Net(const Arch& arch, int32_t maxRows) : arch_(arch), maxRows_(maxRows) {
  const size_t rows = static_cast<size_t>(maxRows);
  input_.resize(rows * arch.inDim);
  int32_t widest = arch.inDim;
  for (const Layer& l : arch.layers) {
    const size_t n = rows * l.out;
    const bool ln = l.lnGain >= 0;
    pre_.emplace_back(n);
    post_.emplace_back(l.hidden ? n : 0);
    act_.emplace_back(ln ? n : 0);
    xhat_.emplace_back(ln ? n : 0);
    rstd_.emplace_back(ln ? rows : 0);
    gradOut_.emplace_back(n);
    widest = std::max(widest, l.out);
  }
  gPre_.resize(rows * widest);
  lnAcc_.resize(2 * static_cast<size_t>(widest));
}

template <typename T>
const T* Net<T>::forward(const T* theta, const T* X, const int32_t* rows, int64_t rowStart, int32_t count) {
  const int32_t inDim = arch_.inDim;
  const T* h;
  if (rows) {
    for (int32_t i = 0; i < count; i++) std::memcpy(&input_[static_cast<size_t>(i) * inDim], X + static_cast<int64_t>(rows[i]) * inDim, sizeof(T) * inDim);
    h = input_.data();
  } else {
    h = X + rowStart * inDim;
  }
  for (size_t li = 0; li < arch_.layers.size(); li++) {
    const Layer& l = arch_.layers[li];
    T* z = pre_[li].data();
    if (l.b >= 0)
      for (int32_t i = 0; i < count; i++) std::memcpy(z + static_cast<int64_t>(i) * l.out, theta + l.b, sizeof(T) * l.out);
    gemm<T>(false, true, count, l.out, l.in, h, l.in, theta + l.w, l.in, l.b >= 0, z, l.out);
    if (!l.hidden) {
      h = z;
      continue;
    }
    T* out = post_[li].data();
    const int64_t n = static_cast<int64_t>(count) * l.out;
    if (l.lnGain >= 0) {
      activate(arch_.activation, z, act_[li].data(), n);
      layerNorm<T>(act_[li].data(), count, l.out, theta + l.lnGain, theta + l.lnBias, xhat_[li].data(), rstd_[li].data(), out);
    } else {
      activate(arch_.activation, z, out, n);
    }
    if (l.skip) add(h, out, n);
    h = out;
  }
  return h;
}

template <typename T>
double Net<T>::lossSum(const T* f, const T* Y, const int32_t* rows, int64_t rowStart, int32_t count, double divisor, T* dF) const {
  const int32_t outDim = arch_.outDim;
  const bool student = arch_.loss == T_REGRESSION;
  const double df = arch_.df;
  const double tScale = df * arch_.scale * arch_.scale;
  double total = 0;
  for (int32_t i = 0; i < count; i++) {
    const int64_t yRow = rows ? rows[i] : rowStart + i;
    for (int32_t o = 0; o < outDim; o++) {
      const int64_t at = static_cast<int64_t>(i) * outDim + o;
      const double r = static_cast<double>(f[at]) - static_cast<double>(Y[yRow * outDim + o]);
      if (!student) {
        total += r * r;
        if (dF) dF[at] = static_cast<T>((2 * r) / divisor);
      } else {
        const double q = (r * r) / tScale;
        total += 0.5 * (df + 1) * std::log1p(q);
        if (dF) dF[at] = static_cast<T>(((df + 1) * r) / (tScale * (1 + q)) / divisor);
      }
    }
  }
  return total;
}

template <typename T>
double Net<T>::pass(const T* theta, const T* X, const T* Y, const int32_t* rows, int64_t rowStart, int32_t count, bool backward, double divisor, T* grad) {
  const T* f = forward(theta, X, rows, rowStart, count);
  const int32_t last = static_cast<int32_t>(arch_.layers.size()) - 1;
  const double total = lossSum(f, Y, rows, rowStart, count, divisor, backward ? gradOut_[last].data() : nullptr);
  if (!backward) return total;
  double* acc = lnAcc_.data();
  for (int32_t li = last; li >= 0; li--) {
    const Layer& l = arch_.layers[li];
    const int64_t n = static_cast<int64_t>(count) * l.out;
    T* gOut = gradOut_[li].data();
    const T* h = li == 0 ? (rows ? input_.data() : X + rowStart * arch_.inDim) : post_[li - 1].data();
    T* g = gOut;
    if (l.hidden) {
      if (l.lnGain >= 0) {
        std::fill(acc, acc + 2 * l.out, 0.0);
        layerNormBackward<T>(gOut, count, l.out, theta + l.lnGain, xhat_[li].data(), rstd_[li].data(), acc, acc + l.out, gPre_.data());
        storeSums<T>(acc, l.out, grad + l.lnGain);
        storeSums<T>(acc + l.out, l.out, grad + l.lnBias);
      } else {
        std::memcpy(gPre_.data(), gOut, sizeof(T) * n);
      }
      activationBackward(arch_.activation, pre_[li].data(), gPre_.data(), n);
      g = gPre_.data();
    }
    gemm<T>(true, false, l.out, l.in, count, g, l.out, h, l.in, false, grad + l.w, l.in);
    if (l.b >= 0) {
      std::fill(acc, acc + l.out, 0.0);
      columnSums(g, count, l.out, acc);
      storeSums<T>(acc, l.out, grad + l.b);
    }
    if (li > 0) {
      T* gIn = gradOut_[li - 1].data();
      gemm<T>(false, false, count, l.in, l.out, g, l.out, theta + l.w, l.in, false, gIn, l.in);
      if (l.skip) add(gOut, gIn, static_cast<int64_t>(count) * l.in);
    }
  }
  return total;
}

template class Net<float>;
template class Net<double>;

}  // namespace lh
