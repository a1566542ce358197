// columnStats: the statistics of a linear layer's input in one pass (src/nn/outliers.ts): max |x|, mean, second
// and fourth central moments, and per column the fraction of rows with |x| >= threshold. Queued like any kernel:
// no host synchronization; the caller reads the small result with everything else.
//
// Two levels: each block takes a range of rows and writes its partials (max |x| and the power sums of
// d = x - K in double) and adds its per-column hit counts (kept in shared memory) to one global counter per column;
// one finishing block combines the partials in block order (deterministic; integer counts are exact in any order)
// and turns the sums into central moments. K is the mean of the first few elements, so the shifted sums cancel
// little when they become central moments (the error grows with ((mean - K) / σ)^4); the same scheme as the cpu
// addon (native/cpu/stats.cc); the js backend is the two-pass reference.
#include <algorithm>

#include "block_reduce.cuh"
#include "common.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;
// Hit counters kept in a block's shared memory (32 KiB of the 48 KiB a block gets without opting in); wider
// inputs count straight into global memory.
constexpr long long kSharedCols = 8 * 1024;
constexpr int kPartial = 5;  // max |x|, s1, s2, s3, s4 per block

// K: the mean of the first min(n, 32) elements. Called by one full warp; every lane gets the same value.
__device__ double warp_shift(const float* x, long long n) {
  const int lane = threadIdx.x & 31;
  const long long few = n < 32 ? n : 32;
  return warp_sum(lane < few ? static_cast<double>(x[lane]) : 0.0) / static_cast<double>(few);
}

// Block b: rows [b * rows_per_block, ...). Writes partial[5 b .. 5 b + 5) and adds to hits[cols]; block 0 also writes
// K at partial[5 * gridDim.x].
__global__ void column_stats_partial(const float* __restrict__ x, long long rows, long long cols,
                                     long long rows_per_block, float limit, bool shared_hits, double* partial,
                                     unsigned* hits) {
  extern __shared__ unsigned block_hits[];
  __shared__ double shift;
  const long long n = rows * cols;
  if (threadIdx.x < 32) {
    const double k = warp_shift(x, n);
    if (threadIdx.x == 0) shift = k;
  }
  if (shared_hits)
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) block_hits[c] = 0;
  __syncthreads();
  const double k = shift;
  unsigned* counts = shared_hits ? block_hits : hits;

  const long long r0 = static_cast<long long>(blockIdx.x) * rows_per_block;
  const long long end = min(rows, r0 + rows_per_block) * cols;
  const long long step = kThreads % cols;  // how far a thread's column moves per element it takes
  long long c = threadIdx.x % cols;        // each block's range starts at column 0
  float max_abs = 0;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  auto take = [&](float v) {
    const float av = fabsf(v);
    max_abs = fmaxf(max_abs, av);
    if (av >= limit) atomicAdd(&counts[c], 1u);  // rare: outliers
    const double d = static_cast<double>(v) - k, d2 = d * d;
    s1 += d;
    s2 += d2;
    s3 += d2 * d;
    s4 += d2 * d2;
    c += step;
    if (c >= cols) c -= cols;
  };
  long long i = r0 * cols + threadIdx.x;
  for (; i + (kUnroll - 1) * kThreads < end; i += kUnroll * kThreads) {
    float v[kUnroll];  // loads first, so that several are in flight
#pragma unroll
    for (int u = 0; u < kUnroll; u++) v[u] = x[i + u * kThreads];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) take(v[u]);
  }
  for (; i < end; i += kThreads) take(x[i]);

  max_abs = block_max(max_abs, 0.0f);
  s1 = block_sum(s1);
  s2 = block_sum(s2);
  s3 = block_sum(s3);
  s4 = block_sum(s4);
  if (threadIdx.x == 0) {
    double* p = partial + kPartial * blockIdx.x;
    p[0] = max_abs;
    p[1] = s1;
    p[2] = s2;
    p[3] = s3;
    p[4] = s4;
    if (blockIdx.x == 0) partial[kPartial * gridDim.x] = k;
  }
  if (shared_hits) {
    __syncthreads();  // every thread's counts are in
    for (long long cc = threadIdx.x; cc < cols; cc += blockDim.x)
      if (block_hits[cc] != 0) atomicAdd(&hits[cc], block_hits[cc]);
  }
}

// One block: the partials in block order, then out = [max |x|, mean, m2, m4, hits / rows].
__global__ void column_stats_finish(const double* partial, int blocks, const unsigned* hits, long long rows,
                                    long long cols, float* out) {
  float max_abs = 0;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  for (int b = threadIdx.x; b < blocks; b += blockDim.x) {
    const double* p = partial + kPartial * b;
    max_abs = fmaxf(max_abs, static_cast<float>(p[0]));
    s1 += p[1];
    s2 += p[2];
    s3 += p[3];
    s4 += p[4];
  }
  max_abs = block_max(max_abs, 0.0f);
  s1 = block_sum(s1);
  s2 = block_sum(s2);
  s3 = block_sum(s3);
  s4 = block_sum(s4);
  if (threadIdx.x == 0) {
    const double k = partial[kPartial * blocks];
    const double inv = 1.0 / static_cast<double>(rows * cols);
    const double a1 = s1 * inv, e2 = s2 * inv, e3 = s3 * inv, e4 = s4 * inv;
    const double m2 = e2 - a1 * a1;
    const double m4 = e4 - 4 * a1 * e3 + 6 * a1 * a1 * e2 - 3 * a1 * a1 * a1 * a1;
    out[0] = max_abs;
    out[1] = static_cast<float>(k + a1);
    out[2] = static_cast<float>(m2 < 0 ? 0 : m2);  // rounding can leave -tiny; NaN stays NaN
    out[3] = static_cast<float>(m4 < 0 ? 0 : m4);
  }
  for (long long c = threadIdx.x; c < cols; c += blockDim.x)
    out[4 + c] = static_cast<float>(static_cast<double>(hits[c]) / static_cast<double>(rows));
}

}  // namespace

// columnStats(x, out, rows, cols, threshold): out (4 + cols) = [maxAbs, mean, m2, m4, hit fraction of each column]
BC_KERNEL(columnStats) {
  const long long rows = a.integer(2, "rows"), cols = a.integer(3, "cols");
  const double threshold = a.num(4, "threshold");
  const long long n = rows * cols;
  // f32_input keeps a matmul input's bf16 copy: the statistics read a linear's input just before the linear does.
  const float* x = static_cast<const float*>(a.f32_input(0, "x", n).ptr);
  float* out = a.out_f32(1, "out", 4 + cols);
  bc::op_context() = "columnStats(rows=" + std::to_string(rows) + ", cols=" + std::to_string(cols) + ")";
  if (n == 0) {
    bc::check(cudaMemsetAsync(out, 0, (4 + cols) * sizeof(float)), "cudaMemsetAsync");
    return nullptr;
  }
  // Enough blocks to keep every SM busy, each with at least a few elements per thread, whole rows per block.
  const long long want = std::max(1LL, std::min(8LL * bc::sm_count(), (n + kThreads * 8 - 1) / (kThreads * 8)));
  const long long rows_per_block = (rows + want - 1) / want;
  const int blocks = static_cast<int>((rows + rows_per_block - 1) / rows_per_block);
  const bool shared_hits = cols <= kSharedCols;
  bc::Scratch partial((kPartial * static_cast<size_t>(blocks) + 1) * sizeof(double));
  bc::Scratch hits(cols * sizeof(unsigned));  // cols >= 1 here
  bc::check(cudaMemsetAsync(hits.ptr, 0, cols * sizeof(unsigned)), "cudaMemsetAsync");
  const size_t shared_bytes = shared_hits ? cols * sizeof(unsigned) : 0;
  column_stats_partial<<<blocks, kThreads, shared_bytes>>>(x, rows, cols, rows_per_block, static_cast<float>(threshold),
                                                            shared_hits, partial.as<double>(), hits.as<unsigned>());
  bc::check_launch("column_stats_partial");
  column_stats_finish<<<1, kThreads>>>(partial.as<double>(), blocks, hits.as<unsigned>(), rows, cols, out);
  bc::check_launch("column_stats_finish");
  return nullptr;
}
