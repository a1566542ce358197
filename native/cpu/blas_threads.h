// One thread pool for the whole backend: OpenMP. OpenBLAS is kept single-threaded and every product is
// split across the OpenMP team by us, because two pools of busy-waiting threads (OpenMP's and OpenBLAS's)
// on the same few cores stall each other for whole scheduler time slices.
#pragma once
#include <cblas.h>

#include "kernel.h"

namespace bitscale {

// Runs fn(i) for i < count, one item at a time per OpenMP thread.
template <class F>
void parallel_items(int64_t count, F fn) {
#pragma omp parallel for schedule(dynamic, 1) if (count > 1 && threads() > 1)
  for (int64_t i = 0; i < count; i++) fn(i);
}

// C (m, n, leading dim ldc) = alpha op(A) op(B) + beta C, row-major, split across the team along the
// longer side of C when the product is big enough to pay for it.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The same product on the calling thread only (inside parallel regions).
void sgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace bitscale
