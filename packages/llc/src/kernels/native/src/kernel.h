// A kernel bound to one problem: the network, the data and loss, the precision and the chains.
// Every call handles all chains; positions, gradients and SGLD moments are chains × d, row-major by
// chain, in the kernel's precision. Passes go through the rows in blocks of at most BLOCK_ROWS.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "mlp.h"

namespace lh {

constexpr int32_t BLOCK_ROWS = 1024;

// The SGLD update's settings for one step; precond 0 none, 1 RMSprop, 2 Adam.
struct SgldStep {
  double stepSize, nBeta, gamma;
  int32_t precond;
  double beta1, beta2, eps;
  // Bias-correction divisors for m and v (1 without correction).
  double bias1, bias2;
  // The noise is the normal stream of this key, element c·d + j for chain c (noise.h).
  uint32_t keyHi, keyLo;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Full-data mean loss of every chain.
  virtual void loss(const void* positions, double* out) = 0;
  // Mean loss and its gradient for every chain over `batch` rows per chain (rows[c·batch …]), or
  // the full data when rows is null.
  virtual void lossGrad(const void* positions, const int32_t* rows, int32_t batch, void* grad, double* out) = 0;
  // One SGLD step of every chain: its minibatch gradient, then the update with noise, chain by chain
  // so the gradient is used while still in cache.
  virtual void sgldStep(void* w, void* grad, void* m, void* v, const void* center, const int32_t* rows, int32_t batch, double* out, const SgldStep& step) = 0;
};

// X (n × in_dim) and Y (n × out_dim) are copied in the kernel's precision. Work is split into items
// of one chain and one block of rows, run on `threads` threads (pool.h) and combined in a fixed
// order, so results do not depend on the thread count.
std::unique_ptr<Kernel> makeKernel(bool float32, const Arch& arch, const double* X, const double* Y, int64_t n, int32_t chains, int32_t maxBatch, int32_t threads);

}  // namespace lh
