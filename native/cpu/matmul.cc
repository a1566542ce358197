// Batched matmul on OpenBLAS sgemm, parallelized by OpenMP (see blas_threads.h): a large product is split
// into row (or column) blocks of C, one per thread; a batch of small products runs one product per thread.
#include <algorithm>

#include "blas_threads.h"
#include "kernel.h"

namespace bitscale {

void sgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, A, static_cast<int>(lda), B,
              static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

namespace {
// Below this many multiply-adds a product is not worth splitting.
constexpr int64_t kSplitGemm = 1 << 18;
}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int team = threads();
  if (team == 1 || m * n * k < kSplitGemm) {
    sgemm_serial(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const bool split_rows = m >= n;
  const int64_t extent = split_rows ? m : n;
  // One block per thread, in whole 16-row (or column) tiles: every block re-packs the shared operand, so
  // more blocks than threads costs more than it balances (measured in dev/split_gemm_bench.cc).
  const int64_t parts = std::min<int64_t>(team, (extent + 15) / 16);
  const int64_t step = ((extent + parts - 1) / parts + 15) / 16 * 16;
#pragma omp parallel for schedule(static, 1) num_threads(team)
  for (int64_t p = 0; p < parts; p++) {
    const int64_t begin = p * step, len = std::min(extent, begin + step) - begin;
    if (len <= 0) continue;
    if (split_rows) {
      // Rows of op(A): row i of A, or column i of a transposed A.
      const float* a = trans_a ? A + begin : A + begin * lda;
      sgemm_serial(trans_a, trans_b, len, n, k, alpha, a, lda, B, ldb, beta, C + begin * ldc, ldc);
    } else {
      const float* b = trans_b ? B + begin * ldb : B + begin;
      sgemm_serial(trans_a, trans_b, m, len, k, alpha, A, lda, b, ldb, beta, C + begin, ldc);
    }
  }
}

}  // namespace bitscale

// matmul(a, b, out, batch, m, n, k, transA, transB, aBatchStride, bBatchStride, alpha, accumulate)
BITSCALE_KERNEL(matmul) {
  const int64_t batch = a.integer(3, "batch"), m = a.integer(4, "m"), n = a.integer(5, "n"), k = a.integer(6, "k");
  const bool ta = a.flag(7, "transA"), tb = a.flag(8, "transB");
  const int64_t sa = a.integer(9, "aBatchStride"), sb = a.integer(10, "bBatchStride");
  const float alpha = static_cast<float>(a.num(11, "alpha"));
  const float beta = a.flag(12, "accumulate") ? 1.0f : 0.0f;
  if (batch == 0 || m == 0 || n == 0) return;
  const float* A = a.f32(0, "a", (batch - 1) * sa + m * k);
  const float* B = a.f32(1, "b", (batch - 1) * sb + k * n);
  float* C = a.f32(2, "out", batch * m * n);
  if (k == 0) {
    if (beta == 0) std::fill(C, C + batch * m * n, 0.0f);
    return;
  }
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  // A batch of row blocks times one shared B is one tall product: (batch m, k) x (k, n).
  if (batch > 1 && !ta && sa == m * k && sb == 0) {
    bitscale::sgemm(false, tb, batch * m, n, k, alpha, A, lda, B, ldb, beta, C, n);
  } else if (batch >= bitscale::threads()) {
    bitscale::parallel_items(batch, [&](int64_t i) {
      bitscale::sgemm_serial(ta, tb, m, n, k, alpha, A + i * sa, lda, B + i * sb, ldb, beta, C + i * m * n, n);
    });
  } else {
    for (int64_t i = 0; i < batch; i++) {
      bitscale::sgemm(ta, tb, m, n, k, alpha, A + i * sa, lda, B + i * sb, ldb, beta, C + i * m * n, n);
    }
  }
}
