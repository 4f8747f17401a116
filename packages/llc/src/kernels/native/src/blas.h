// The BLAS this addon is linked against: OpenBLAS on Linux (Debian's libopenblas-dev), Accelerate's
// CBLAS on macOS (untested).
#pragma once
#include <cstdint>
#include <string>

#ifdef __APPLE__
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
// OpenBLAS's own entry points; declared here too so that any cblas.h works.
extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}
#endif

namespace lh {

// C (M×N) = op(A)·op(B) + (accumulate ? C : 0), row-major, leading dimensions in elements.
template <typename T>
void gemm(bool transA, bool transB, int32_t M, int32_t N, int32_t K, const T* A, int32_t lda, const T* B, int32_t ldb, bool accumulate, T* C, int32_t ldc);

template <>
inline void gemm<float>(bool transA, bool transB, int32_t M, int32_t N, int32_t K, const float* A, int32_t lda, const float* B, int32_t ldb, bool accumulate, float* C,
                        int32_t ldc) {
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, accumulate ? 1.0f : 0.0f, C, ldc);
}

template <>
inline void gemm<double>(bool transA, bool transB, int32_t M, int32_t N, int32_t K, const double* A, int32_t lda, const double* B, int32_t ldb, bool accumulate,
                         double* C, int32_t ldc) {
  cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K, 1.0, A, lda, B, ldb, accumulate ? 1.0 : 0.0, C, ldc);
}

// Threads the BLAS uses for each product (process-wide: OpenBLAS has one setting; Accelerate none).
inline void setBlasThreads(int threads) {
#ifndef __APPLE__
  openblas_set_num_threads(threads);
#else
  (void)threads;
#endif
}

// What decides the BLAS's rounding: its build and the kernels it picked for this CPU.
inline std::string blasDescription() {
#ifdef __APPLE__
  return "Accelerate";
#else
  std::string config = openblas_get_config();
  while (!config.empty() && config.front() == ' ') config.erase(config.begin());
  while (!config.empty() && config.back() == ' ') config.pop_back();
  return config + " (core " + openblas_get_corename() + ")";
#endif
}

}  // namespace lh
