// Embedding lookups: gather rows of a table by i32 index, and its gradient, scatter-add.
#include <omp.h>

#include <cstring>
#include <string>

#include "kernel.h"

namespace {

void check_indices(const int32_t* idx, int64_t n_idx, int64_t rows, const char* table) {
  for (int64_t i = 0; i < n_idx; i++) {
    if (idx[i] < 0 || idx[i] >= rows) {
      throw std::runtime_error("idx[" + std::to_string(i) + "] = " + std::to_string(idx[i]) + " is outside " + table +
                               " rows [0, " + std::to_string(rows) + ")");
    }
  }
}

}  // namespace

// gather(table, idx, out, nIdx, rowSize)
BITSCALE_KERNEL(gather) {
  const int64_t n_idx = a.integer(3, "nIdx"), row = a.integer(4, "rowSize");
  const float* table = a.f32(0, "table");
  const int32_t* idx = a.i32(1, "idx", n_idx);
  float* out = a.f32(2, "out", n_idx * row);
  const int64_t rows = row == 0 ? 0 : static_cast<int64_t>(a.view(0).length) / row;
  check_indices(idx, n_idx, rows, "table");
#pragma omp parallel for schedule(static) if (n_idx * row > bitscale::kParallelGrain)
  for (int64_t i = 0; i < n_idx; i++) std::memcpy(out + i * row, table + idx[i] * row, row * sizeof(float));
}

// scatterAdd(src, idx, out, nIdx, rowSize): out[idx[i], :] += src[i, :]. Threads split the columns, so
// repeated indices never race.
BITSCALE_KERNEL(scatterAdd) {
  const int64_t n_idx = a.integer(3, "nIdx"), row = a.integer(4, "rowSize");
  const float* src = a.f32(0, "src", n_idx * row);
  const int32_t* idx = a.i32(1, "idx", n_idx);
  float* out = a.f32(2, "out");
  const int64_t rows = row == 0 ? 0 : static_cast<int64_t>(a.view(2).length) / row;
  check_indices(idx, n_idx, rows, "out");
#pragma omp parallel if (n_idx * row > bitscale::kParallelGrain && row >= 64)
  {
#ifdef _OPENMP
    const int64_t team = omp_get_num_threads(), me = omp_get_thread_num();
#else
    const int64_t team = 1, me = 0;
#endif
    const int64_t c0 = row * me / team, c1 = row * (me + 1) / team;
    for (int64_t i = 0; i < n_idx; i++) {
      const float* s = src + i * row;
      float* o = out + static_cast<int64_t>(idx[i]) * row;
      for (int64_t c = c0; c < c1; c++) o[c] += s[c];
    }
  }
}
