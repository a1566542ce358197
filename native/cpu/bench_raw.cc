// Bench-only: OpenBLAS called with nothing in between and with its own threads (as many as the backend
// uses), the peer that bench/engine-matmul.ts measures the backend's matmul against.
#include <cblas.h>

#include "kernel.h"

// blasSgemmRaw(a, b, c, m, n, k): C = A B by one cblas_sgemm call on OpenBLAS's thread pool.
BITSCALE_KERNEL(blasSgemmRaw) {
  const int64_t m = a.integer(3, "m"), n = a.integer(4, "n"), k = a.integer(5, "k");
  const float* A = a.f32(0, "a", m * k);
  const float* B = a.f32(1, "b", k * n);
  float* C = a.f32(2, "c", m * n);
  openblas_set_num_threads(bitscale::threads());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), 1.0f, A, static_cast<int>(k), B, static_cast<int>(n), 0.0f, C, static_cast<int>(n));
  openblas_set_num_threads(1);
}
