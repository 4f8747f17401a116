#include "kernel.h"

#include <algorithm>
#include <cmath>

#include "noise.h"
#include "pool.h"
#include "simd.h"

namespace lh {

namespace {

// w ← w − ½·εP⊙(γ(w − w*) + nβ·drift) + √(εP)⊙ξ for one chain (packages/llc/src/samplers/sgld.ts),
// in float64 arithmetic with every stored value rounded to T, as the other kernels do.
template <typename T>
inline void sgldUpdateImpl(T* w, const T* grad, T* m, T* v, const T* center, const T* noise, int64_t d, const SgldStep& s) {
  if (s.precond == 0) {
    const double root = std::sqrt(s.stepSize);
    for (int64_t j = 0; j < d; j++) {
      const double wj = w[j];
      w[j] = static_cast<T>(wj - 0.5 * s.stepSize * (s.gamma * (wj - static_cast<double>(center[j])) + s.nBeta * static_cast<double>(grad[j])) +
                            root * static_cast<double>(noise[j]));
    }
    return;
  }
  const bool adam = s.precond == 2;
  for (int64_t j = 0; j < d; j++) {
    const double g = grad[j];
    const T vj = static_cast<T>(s.beta2 * static_cast<double>(v[j]) + (1 - s.beta2) * g * g);
    v[j] = vj;
    const double p = 1 / (std::sqrt(static_cast<double>(vj) / s.bias2) + s.eps);
    double drift = g;
    if (adam) {
      const T mj = static_cast<T>(s.beta1 * static_cast<double>(m[j]) + (1 - s.beta1) * g);
      m[j] = mj;
      drift = static_cast<double>(mj) / s.bias1;
    }
    const double ep = s.stepSize * p;
    const double wj = w[j];
    w[j] = static_cast<T>(wj - 0.5 * ep * (s.gamma * (wj - static_cast<double>(center[j])) + s.nBeta * drift) + std::sqrt(ep) * static_cast<double>(noise[j]));
  }
}

LH_CLONES void sgldUpdate(float* w, const float* g, float* m, float* v, const float* c, const float* xi, int64_t d, const SgldStep& s) {
  sgldUpdateImpl<float>(w, g, m, v, c, xi, d, s);
}
LH_CLONES void sgldUpdate(double* w, const double* g, double* m, double* v, const double* c, const double* xi, int64_t d, const SgldStep& s) {
  sgldUpdateImpl<double>(w, g, m, v, c, xi, d, s);
}

void normals(uint32_t hi, uint32_t lo, uint64_t start, int64_t count, float* out) { normalsF32(hi, lo, start, count, out); }
void normals(uint32_t hi, uint32_t lo, uint64_t start, int64_t count, double* out) { normalsF64(hi, lo, start, count, out); }

// Below this many row·parameter products per call, waking threads costs more than it saves.
constexpr double THREAD_MIN_WORK = 2e6;

template <typename T>
class TypedKernel final : public Kernel {
 public:
  TypedKernel(const Arch& arch, const double* X, const double* Y, int64_t n, int32_t chains, int32_t maxBatch, int32_t threads)
      : arch_(arch), n_(n), chains_(chains), X_(X, X + n * arch.inDim), Y_(Y, Y + n * arch.outDim), pool_(threads) {
    const int32_t maxRows = static_cast<int32_t>(std::min<int64_t>(BLOCK_ROWS, std::max<int64_t>(n, maxBatch)));
    for (int t = 0; t < threads; t++) {
      nets_.emplace_back(std::make_unique<Net<T>>(arch_, maxRows));
      noise_.emplace_back(arch.d);
    }
  }

  void loss(const void* positions, double* out) override {
    const T* theta = static_cast<const T*>(positions);
    const int32_t blocks = blocksIn(n_);
    partial_.assign(static_cast<size_t>(chains_) * blocks, 0);
    pool_.run(chains_ * blocks, parallel(n_), [&](int item, int t) {
      const int64_t start = static_cast<int64_t>(item % blocks) * BLOCK_ROWS;
      partial_[item] = nets_[t]->pass(theta + static_cast<int64_t>(item / blocks) * arch_.d, X_.data(), Y_.data(), nullptr, start, rowsIn(start, n_), false, 1, nullptr);
    });
    for (int32_t c = 0; c < chains_; c++) out[c] = chainSum(c, blocks) / static_cast<double>(n_ * arch_.outDim);
  }

  void lossGrad(const void* positions, const int32_t* rows, int32_t batch, void* grad, double* out) override {
    const T* theta = static_cast<const T*>(positions);
    T* g = static_cast<T*>(grad);
    const int64_t d = arch_.d;
    const int64_t total = rows ? batch : n_;
    const int32_t blocks = blocksIn(total);
    const double elements = static_cast<double>(total * arch_.outDim);
    partial_.assign(static_cast<size_t>(chains_) * blocks, 0);
    // A chain of one block writes its gradient in place; several blocks each write their own, summed below.
    if (blocks > 1) blockGrads_.resize(static_cast<size_t>(chains_) * blocks * d);
    pool_.run(chains_ * blocks, parallel(total), [&](int item, int t) {
      const int32_t c = item / blocks;
      const int64_t start = static_cast<int64_t>(item % blocks) * BLOCK_ROWS;
      T* dest = blocks == 1 ? g + c * d : blockGrads_.data() + item * d;
      partial_[item] = nets_[t]->pass(theta + c * d, X_.data(), Y_.data(), rows ? rows + static_cast<int64_t>(c) * batch + start : nullptr, rows ? 0 : start,
                                      rowsIn(start, total), true, elements, dest);
    });
    for (int32_t c = 0; c < chains_; c++) {
      out[c] = chainSum(c, blocks) / elements;
      if (blocks == 1) continue;
      const T* first = blockGrads_.data() + static_cast<int64_t>(c) * blocks * d;
      std::copy(first, first + d, g + c * d);
      for (int32_t b = 1; b < blocks; b++) add(first + b * d, g + c * d, d);
    }
  }

  void sgldStep(void* w, void* grad, void* m, void* v, const void* center, const int32_t* rows, int32_t batch, double* out, const SgldStep& step) override {
    const int64_t d = arch_.d;
    T* W = static_cast<T*>(w);
    T* G = static_cast<T*>(grad);
    // Each chain's update, with its slice [c·d, (c + 1)·d) of the step's noise stream.
    const auto update = [&](int32_t c, int t) {
      normals(step.keyHi, step.keyLo, static_cast<uint64_t>(c * d), d, noise_[t].data());
      sgldUpdate(W + c * d, G + c * d, static_cast<T*>(m) + c * d, static_cast<T*>(v) + c * d, static_cast<const T*>(center), noise_[t].data(), d, step);
    };
    if (batch <= BLOCK_ROWS) {
      // Gradient and update fused per chain: the gradient is used while still in cache.
      pool_.run(chains_, parallel(batch), [&](int c, int t) {
        out[c] = nets_[t]->pass(W + c * d, X_.data(), Y_.data(), rows + static_cast<int64_t>(c) * batch, 0, batch, true, static_cast<double>(batch) * arch_.outDim, G + c * d) /
                 (static_cast<double>(batch) * arch_.outDim);
        update(c, t);
      });
      return;
    }
    lossGrad(w, rows, batch, grad, out);
    pool_.run(chains_, parallel(batch), update);
  }

 private:
  static int32_t blocksIn(int64_t rows) { return static_cast<int32_t>((rows + BLOCK_ROWS - 1) / BLOCK_ROWS); }
  static int32_t rowsIn(int64_t start, int64_t total) { return static_cast<int32_t>(std::min<int64_t>(BLOCK_ROWS, total - start)); }
  bool parallel(int64_t rowsPerChain) const { return static_cast<double>(rowsPerChain) * arch_.d * chains_ >= THREAD_MIN_WORK; }

  // A chain's loss sums over its blocks, in block order.
  double chainSum(int32_t c, int32_t blocks) const {
    double sum = 0;
    for (int32_t b = 0; b < blocks; b++) sum += partial_[static_cast<size_t>(c) * blocks + b];
    return sum;
  }

  const Arch arch_;
  const int64_t n_;
  const int32_t chains_;
  const std::vector<T> X_, Y_;
  // Per thread: the network's scratch and a chain's noise.
  std::vector<std::unique_ptr<Net<T>>> nets_;
  std::vector<std::vector<T>> noise_;
  std::vector<double> partial_;
  std::vector<T> blockGrads_;
  Pool pool_;
};

}  // namespace

std::unique_ptr<Kernel> makeKernel(bool float32, const Arch& arch, const double* X, const double* Y, int64_t n, int32_t chains, int32_t maxBatch, int32_t threads) {
  if (float32) return std::make_unique<TypedKernel<float>>(arch, X, Y, n, chains, maxBatch, threads);
  return std::make_unique<TypedKernel<double>>(arch, X, Y, n, chains, maxBatch, threads);
}

}  // namespace lh
