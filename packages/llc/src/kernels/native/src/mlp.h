// The MLP of packages/llc/src/mlp.ts (affine layers, activation, optional LayerNorm and skip
// connections, affine output; MSE or Student-t loss), forward and backward over a block of rows of
// one chain, with the layer products in BLAS (cblas_sgemm / cblas_dgemm) and the elementwise work
// in loops compiled for the CPU's vector width (simd.h).
//
// Row-major throughout: a block's activations are rows × width, a layer's W is out × in, so
//   forward   Z = H·Wᵀ (+ b)          gemm(N, T)
//   backward  dW += Gᵀ·H, dH = G·W    gemm(T, N), gemm(N, N)
#pragma once
#include <cstdint>
#include <vector>

namespace lh {

enum Activation : int32_t { RELU = 0, TANH = 1, GELU = 2, IDENTITY = 3 };
enum LossKind : int32_t { MSE = 0, T_REGRESSION = 1 };

struct Layer {
  int32_t in, out;
  // Offsets into the flat parameter vector; −1 when the layer has no bias or no LayerNorm.
  int32_t w, b, lnGain, lnBias;
  bool hidden, skip;
};

struct Arch {
  std::vector<Layer> layers;
  int32_t inDim, outDim, d;
  Activation activation;
  LossKind loss;
  // Student-t loss: ν and the scale s.
  double df, scale;
};

// One chain's forward and backward passes over up to `maxRows` rows at a time, with all scratch
// buffers held so that calls allocate nothing.
template <typename T>
class Net {
 public:
  Net(const Arch& arch, int32_t maxRows);

  // Sum of the per-element losses of the block: rows[0 … count) of X (or, when rows is null, the
  // contiguous rows from rowStart). With `backward`, also writes the gradient of
  // (sum of losses) / divisor to grad.
  double pass(const T* theta, const T* X, const T* Y, const int32_t* rows, int64_t rowStart, int32_t count, bool backward, double divisor, T* grad);

 private:
  const T* forward(const T* theta, const T* X, const int32_t* rows, int64_t rowStart, int32_t count);
  double lossSum(const T* f, const T* Y, const int32_t* rows, int64_t rowStart, int32_t count, double weight, T* dF) const;

  const Arch& arch_;
  int32_t maxRows_;
  std::vector<T> input_;
  std::vector<std::vector<T>> pre_, post_, act_, xhat_, rstd_, gradOut_;
  std::vector<T> gPre_;
  std::vector<double> lnAcc_;
};

// y += x over n values, elementwise.
void add(const float* x, float* y, int64_t n);
void add(const double* x, double* y, int64_t n);

extern template class Net<float>;
extern template class Net<double>;

}  // namespace lh
