// GPTQ's heavy parts (src/numerics/gptq.ts orchestrates; read it for the algorithm), in Float64 like the
// TypeScript reference so that both choose the same grid points:
//   gptqHessian           H = 2/tokens X^T X            one dsyrk/dgemm per row block of H, across the team
//   gptqInverseCholesky   U upper with U^T U = H^-1     LAPACK dpotrf + dtrtri (OpenBLAS) on J H J
//   gptqQuantizeBlock     the column loop of one block  rows in parallel, each row's block in cache
//   gptqLazyUpdate        W[:, i2:end] -= E U[i1:i2, i2:end]  one dgemm, split by rows across the team
// The column loop repeats the reference's operations one for one (no FMA contraction), so given the same
// U it gives the same bits.
#pragma GCC optimize("fp-contract=off")

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "blas_threads.h"
#include "gptq_grid.h"
#include "kernel.h"

extern "C" {
// LAPACK (in libopenblas), column-major.
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dtrtri_(const char* uplo, const char* diag, const int* n, double* a, const int* lda, int* info);
}

namespace {

// OpenBLAS's own threads for the LAPACK calls (which we cannot split ourselves); back to one afterwards,
// as the rest of the backend expects (blas_threads.h).
struct BlasTeam {
  BlasTeam() { openblas_set_num_threads(bitscale::threads()); }
  ~BlasTeam() { openblas_set_num_threads(1); }
};

using gptq_grid::IntGrid;

void check_block(int64_t i1, int64_t i2, int64_t cols) {
  if (!(i1 <= i2 && i2 <= cols)) {
    throw std::runtime_error("i1 = " + std::to_string(i1) + ", i2 = " + std::to_string(i2) +
                             " are not allowed; expected i1 <= i2 <= cols = " + std::to_string(cols));
  }
}

void check_ld(int64_t ld, int64_t count) {
  if (ld < count) {
    throw std::runtime_error("ldErr = " + std::to_string(ld) + " is not allowed; expected at least i2 - i1 = " +
                             std::to_string(count));
  }
}

}  // namespace

// gptqHessian(x: F32 (tokens, cols), tokens, cols, h: F64 (cols, cols)): h = 2/tokens x^T x, both triangles.
BITSCALE_KERNEL(gptqHessian) {
  const int64_t tokens = a.integer(1, "tokens"), cols = a.integer(2, "cols");
  const float* x = a.f32(0, "x", tokens * cols);
  double* h = a.f64(3, "h", cols * cols);
  if (cols == 0) return;
  if (tokens == 0) {
    std::fill(h, h + cols * cols, 0.0);
    return;
  }
  std::vector<double> xd(x, x + tokens * cols);  // products of floats are exact in double, as in the reference
  const double alpha = 2.0 / static_cast<double>(tokens);
  // Row blocks of the lower triangle: rows [r0, r1) against columns [0, r1); biggest first for balance.
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
  bitscale::parallel_items(blocks, [&](int64_t i) {
    const int64_t b = blocks - 1 - i, r0 = b * kBlock, r1 = std::min(cols, r0 + kBlock);
    const int lda = static_cast<int>(cols), k = static_cast<int>(tokens);
    if (r0 > 0) {
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(r1 - r0), static_cast<int>(r0), k, alpha,
                  xd.data() + r0, lda, xd.data(), lda, 0.0, h + r0 * cols, lda);
    }
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, static_cast<int>(r1 - r0), k, alpha, xd.data() + r0, lda, 0.0,
                h + r0 * cols + r0, lda);
  });
#pragma omp parallel for schedule(dynamic, 64) num_threads(bitscale::threads())
  for (int64_t i = 0; i < cols; i++)
    for (int64_t j = i + 1; j < cols; j++) h[i * cols + j] = h[j * cols + i];
}

// gptqInverseCholesky(h: F64 (n, n), n): in place, h (symmetric positive definite) -> the upper-triangular U
// with U^T U = h^-1. With the reversal J (reversing a row-major matrix both ways reverses its storage):
// J h J = L L^T gives U = J L^-1 J. Row-major lower is column-major upper, LAPACK's 'U'.
BITSCALE_KERNEL(gptqInverseCholesky) {
  const int64_t n64 = a.integer(1, "n");
  double* h = a.f64(0, "h", n64 * n64);
  if (n64 == 0) return;
  if (n64 > 46340) throw std::runtime_error("n = " + std::to_string(n64) + " is too large for LAPACK's int sizes");
  const int n = static_cast<int>(n64);
  std::reverse(h, h + n64 * n64);
  int info = 0;
  {
    BlasTeam team;
    dpotrf_("U", &n, h, &n, &info);
    if (info > 0) {
      // The leading minor of order info of J h J is not positive definite: pivot info - 1 in the reversed order,
      // as the reference's choleskyLower names it.
      throw std::runtime_error("hessian pivot [" + std::to_string(info - 1) +
                               "] is not positive; expected a positive definite matrix (raise dampPercent)");
    }
    if (info == 0) dtrtri_("U", "N", &n, h, &n, &info);
  }
  if (info != 0) throw std::runtime_error("LAPACK failed with info = " + std::to_string(info));
  // The other triangle still holds h: clear it (row-major upper, j > i), then reverse back.
#pragma omp parallel for schedule(dynamic, 64) num_threads(bitscale::threads())
  for (int64_t i = 0; i < n64; i++) std::fill(h + i * n64 + i + 1, h + (i + 1) * n64, 0.0);
  std::reverse(h, h + n64 * n64);
}

// gptqQuantizeBlock(w, q, err, ldErr, u, scales, zeros, groupOf, rows, cols, i1, i2, group, bits, symmetric,
//                   paramsFixed)
//   w (rows, cols) F64, the working weight in processing order, updated in place inside columns [i1, i2)
//   q (rows, cols) F64 receives the quantized columns; err (rows, ldErr) F64 the scaled errors (w - q) / U_cc
//   in its first i2 - i1 columns
//   u (cols, cols) F64 the inverse Cholesky factor; scales, zeros (rows, cols / group) F64 per (row, group)
//   groupOf (cols) Int32: the group of each processing position
//   paramsFixed: the params are given (act-order's static groups); else each group's params are chosen from
//   its current (already updated) values when the loop reaches its first column.
BITSCALE_KERNEL(gptqQuantizeBlock) {
  const int64_t rows = a.integer(8, "rows"), cols = a.integer(9, "cols"), i1 = a.integer(10, "i1"),
                i2 = a.integer(11, "i2"), group = a.integer(12, "group"), bits = a.integer(13, "bits");
  const bool symmetric = a.flag(14, "symmetric"), fixed = a.flag(15, "paramsFixed");
  check_block(i1, i2, cols);
  if (group == 0 || cols % group != 0)
    throw std::runtime_error("group = " + std::to_string(group) + " is not allowed; expected a divisor of cols = " +
                             std::to_string(cols));
  if (bits < (symmetric ? 2 : 1) || bits > 8)
    throw std::runtime_error("bits = " + std::to_string(bits) + " is not allowed; expected " +
                             (symmetric ? "2..8 (symmetric)" : "1..8"));
  const int64_t count = i2 - i1, groups = cols / group, ld_err = a.integer(3, "ldErr");
  check_ld(ld_err, count);
  double* w = a.f64(0, "w", rows * cols);
  double* q = a.f64(1, "q", rows * cols);
  double* err = a.f64(2, "err", rows == 0 ? 0 : (rows - 1) * ld_err + count);
  const double* u = a.f64(4, "u", cols * cols);
  double* scales = a.f64(5, "scales", rows * groups);
  double* zeros = a.f64(6, "zeros", rows * groups);
  const int32_t* group_of = a.i32(7, "groupOf", cols);
  for (int64_t c = i1; c < i2; c++) {
    if (group_of[c] < 0 || group_of[c] >= groups)
      throw std::runtime_error("groupOf[" + std::to_string(c) + "] = " + std::to_string(group_of[c]) +
                               " is not allowed; expected 0.." + std::to_string(groups - 1));
  }
  const IntGrid grid(static_cast<int>(bits), symmetric);
  const bool parallel = rows * count * count >= bitscale::kParallelGrain;
#pragma omp parallel for schedule(static) num_threads(bitscale::threads()) if (parallel)
  for (int64_t r = 0; r < rows; r++) {
    double* wr = w + r * cols;
    double* er = err + r * ld_err;
    for (int64_t k = 0; k < count; k++) {
      const int64_t col = i1 + k, p = r * groups + group_of[col];
      if (!fixed && col % group == 0) grid.params(wr + col, group, scales + p, zeros + p);
      const double* ur = u + col * cols;
      const double wv = wr[col], qv = grid.quantize(scales[p], zeros[p], wv);
      q[r * cols + col] = qv;
      const double e = (wv - qv) / ur[col];
      er[k] = e;
      for (int64_t j = col + 1; j < i2; j++) wr[j] -= e * ur[j];
    }
  }
}

// gptqLazyUpdate(w, err, ldErr, u, rows, cols, i1, i2, end): w[:, i2:end] -= err (rows, i2 - i1; leading
// dimension ldErr) u[i1:i2, i2:end]: a block's errors pushed onto later columns at once.
BITSCALE_KERNEL(gptqLazyUpdate) {
  const int64_t rows = a.integer(4, "rows"), cols = a.integer(5, "cols"), i1 = a.integer(6, "i1"),
                i2 = a.integer(7, "i2"), end = a.integer(8, "end");
  check_block(i1, i2, cols);
  if (!(i2 <= end && end <= cols))
    throw std::runtime_error("end = " + std::to_string(end) + " is not allowed; expected i2 = " + std::to_string(i2) +
                             " <= end <= cols = " + std::to_string(cols));
  const int64_t count = i2 - i1, rest = end - i2, ld_err = a.integer(2, "ldErr");
  check_ld(ld_err, count);
  double* w = a.f64(0, "w", rows * cols);
  const double* err = a.f64(1, "err", rows == 0 ? 0 : (rows - 1) * ld_err + count);
  const double* u = a.f64(3, "u", cols * cols);
  if (rows == 0 || count == 0 || rest == 0) return;
  const int team = bitscale::threads();
  const int64_t parts = rows * count * rest < (1 << 20) ? 1 : std::min<int64_t>(team, rows);
  const int64_t step = (rows + parts - 1) / parts;
#pragma omp parallel for schedule(static, 1) num_threads(team) if (parts > 1)
  for (int64_t part = 0; part < parts; part++) {
    const int64_t r0 = part * step, r1 = std::min(rows, r0 + step);
    if (r1 <= r0) continue;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(r1 - r0), static_cast<int>(rest),
                static_cast<int>(count), -1.0, err + r0 * ld_err, static_cast<int>(ld_err), u + i1 * cols + i2,
                static_cast<int>(cols), 1.0, w + r0 * cols + i2, static_cast<int>(cols));
  }
}
