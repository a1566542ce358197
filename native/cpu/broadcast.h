// Iteration over a dense output `shape` with up to three operands read through broadcasting strides.
// Dims that are contiguous for every operand are merged, so the innermost run is as long as it can be, and
// the run's stride pattern (1 or 0 per operand) picks a loop the compiler vectorizes: dense-same-shape,
// scalar operand and row broadcast all land on a fast inner loop; anything else takes the strided one.
#pragma once
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "kernel.h"

namespace bitscale {

template <int K>
struct Broadcast {
  std::vector<int64_t> shape;                  // collapsed, outermost first
  std::array<std::vector<int64_t>, K> strides;  // per operand, collapsed
  int64_t total = 1;

  Broadcast(const std::vector<int64_t>& full_shape, const std::array<std::vector<int64_t>, K>& full_strides) {
    for (int k = 0; k < K; k++) {
      if (full_strides[k].size() != full_shape.size()) {
        throw std::runtime_error("operand " + std::to_string(k) + " has " + std::to_string(full_strides[k].size()) +
                                 " strides for a shape of rank " + std::to_string(full_shape.size()));
      }
    }
    for (size_t d = 0; d < full_shape.size(); d++) {
      const int64_t n = full_shape[d];
      if (n < 0) throw std::runtime_error("negative dimension in shape");
      total *= n;
      if (n == 1) continue;
      bool merge = !shape.empty();
      for (int k = 0; k < K && merge; k++) merge = strides[k].back() == full_strides[k][d] * n;
      if (merge) {
        shape.back() *= n;
        for (int k = 0; k < K; k++) strides[k].back() = full_strides[k][d];
      } else {
        shape.push_back(n);
        for (int k = 0; k < K; k++) strides[k].push_back(full_strides[k][d]);
      }
    }
    if (shape.empty()) {
      shape.push_back(1);
      for (int k = 0; k < K; k++) strides[k].push_back(0);
    }
  }

  int64_t inner() const { return shape.back(); }
  int64_t stride(int k) const { return strides[k].back(); }
  // Largest element index operand k reads.
  int64_t extent(int k) const {
    int64_t hi = 0;
    for (size_t d = 0; d < shape.size(); d++) hi += (shape[d] - 1) * strides[k][d];
    return hi;
  }

  // Calls run(offsets, out_offset, length) for contiguous pieces of the output, split across threads.
  template <class Run>
  void for_each_run(Run run) const {
    if (total == 0) return;
    const int rank = static_cast<int>(shape.size());
    const int64_t n_inner = inner();
#pragma omp parallel if (total > kParallelGrain)
    {
#ifdef _OPENMP
      const int64_t team = omp_get_num_threads(), me = omp_get_thread_num();
#else
      const int64_t team = 1, me = 0;
#endif
      const int64_t begin = total * me / team, end = total * (me + 1) / team;
      int64_t pos = begin;
      while (pos < end) {
        const int64_t row = pos / n_inner, col = pos % n_inner;
        const int64_t len = std::min(n_inner - col, end - pos);
        std::array<int64_t, K> off{};
        int64_t rem = row;
        for (int d = rank - 2; d >= 0; d--) {
          const int64_t i = rem % shape[d];
          rem /= shape[d];
          for (int k = 0; k < K; k++) off[k] += i * strides[k][d];
        }
        for (int k = 0; k < K; k++) off[k] += col * strides[k][rank - 1];
        run(off, pos, len);
        pos += len;
      }
    }
  }
};

}  // namespace bitscale
