// Reductions: reduce(op, x viewed as (outer, mid, inner)), sumSquares and sumSquaresMany. They split a long
// `mid` over several blocks that write partial results, then combine the partials in a fixed order:
// deterministic, and fast when outer * inner is small (a sum over everything, a bias gradient over B*T rows).
#include <cmath>
#include <vector>

#include "block_reduce.cuh"
#include "common.cuh"

namespace {

constexpr int kThreads = 256;

__device__ inline float combine(bool is_max, float a, float b) { return is_max ? fmaxf(a, b) : a + b; }

// inner == 1: block (o, chunk) reduces x[o, chunk's slice of mid].
__global__ void reduce_rows(bool is_max, const float* x, float* partial, long long mid, long long chunk_len, int chunks) {
  const long long o = blockIdx.y;
  const int c = blockIdx.x;
  const long long start = c * chunk_len, end = min(mid, start + chunk_len);
  const float id = is_max ? -INFINITY : 0.0f;
  float acc = id;
  for (long long m = start + threadIdx.x; m < end; m += blockDim.x) acc = combine(is_max, acc, x[o * mid + m]);
  acc = is_max ? block_max(acc, id) : block_sum(acc);
  if (threadIdx.x == 0) partial[o * chunks + c] = acc;
}

// inner > 1: block (inner tile of 32, o, chunk), 8 lanes of mid per column, coalesced along inner.
__global__ void reduce_cols(bool is_max, const float* x, float* partial, long long mid, long long inner, long long chunk_len,
                            int chunks) {
  __shared__ float tile[8][33];
  const long long i = blockIdx.x * 32LL + threadIdx.x;
  const long long o = blockIdx.y;
  const int c = blockIdx.z;
  const long long start = c * chunk_len, end = min(mid, start + chunk_len);
  const float id = is_max ? -INFINITY : 0.0f;
  float acc = id;
  if (i < inner)
    for (long long m = start + threadIdx.y; m < end; m += 8) acc = combine(is_max, acc, x[(o * mid + m) * inner + i]);
  tile[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && i < inner) {
    for (int k = 1; k < 8; k++) acc = combine(is_max, acc, tile[k][threadIdx.x]);
    partial[(o * chunks + c) * inner + i] = acc;
  }
}

// out[o, i] = combine over chunks of partial[o, chunk, i], in chunk order.
__global__ void combine_chunks(bool is_max, const float* partial, float* out, long long outer, long long inner, int chunks) {
  for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < outer * inner; k += (long long)gridDim.x * blockDim.x) {
    const long long o = k / inner, i = k % inner;
    float acc = partial[(o * chunks) * inner + i];
    for (int c = 1; c < chunks; c++) acc = combine(is_max, acc, partial[(o * chunks + c) * inner + i]);
    out[k] = acc;
  }
}

__global__ void sum_squares_partial(const float* x, long long n, double* partial) {
  double acc = 0;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const double v = x[i];
    acc += v * v;
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}
__global__ void sum_partials(const double* partial, int count, double* out) {
  double acc = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) *out = acc;
}

// How many chunks to split mid into: enough blocks to fill the GPU, each chunk at least `min_len` long.
int chunk_count(long long blocks_without_split, long long mid, long long min_len) {
  const long long want = (4LL * bc::sm_count() + blocks_without_split - 1) / blocks_without_split;
  const long long most = (mid + min_len - 1) / min_len;
  long long c = want < most ? want : most;
  if (c < 1) c = 1;
  return static_cast<int>(c < 4096 ? c : 4096);
}

}  // namespace

// reduce(op: 'sum' | 'max', x, out, outer, mid, inner)
BC_KERNEL(reduce) {
  const std::string op = a.str(0, "op");
  if (op != "sum" && op != "max") throw std::runtime_error("op '" + op + "' is not one of sum, max");
  const bool is_max = op == "max";
  const long long outer = a.integer(3, "outer"), mid = a.integer(4, "mid"), inner = a.integer(5, "inner");
  const float* x = a.f32(1, "x", outer * mid * inner);
  float* out = a.out_f32(2, "out", outer * inner);
  if (outer * inner == 0) return nullptr;
  bc::op_context() = "reduce(" + op + ", outer=" + std::to_string(outer) + ", mid=" + std::to_string(mid) + ", inner=" + std::to_string(inner) + ")";
  if (outer > 65535) throw std::runtime_error("outer = " + std::to_string(outer) + " is not allowed; at most 65535");
  if (mid == 0) {
    const float id = is_max ? -INFINITY : 0.0f;
    std::vector<float> host(outer * inner, id);
    bc::check(cudaMemcpy(out, host.data(), host.size() * 4, cudaMemcpyHostToDevice), "cudaMemcpy");
    return nullptr;
  }
  if (inner == 1) {
    const int chunks = chunk_count(outer, mid, 4096);
    const long long len = (mid + chunks - 1) / chunks;
    bc::Scratch partial(outer * chunks * 4);
    reduce_rows<<<dim3(chunks, outer), kThreads>>>(is_max, x, partial.as<float>(), mid, len, chunks);
    bc::check_launch("reduce_rows");
    combine_chunks<<<bc::blocks_for(outer, 256), 256>>>(is_max, partial.as<float>(), out, outer, 1, chunks);
  } else {
    const long long tiles = (inner + 31) / 32;
    const int chunks = chunk_count(outer * tiles, mid, 64);
    const long long len = (mid + chunks - 1) / chunks;
    bc::Scratch partial(outer * chunks * inner * 4);
    reduce_cols<<<dim3(tiles, outer, chunks), dim3(32, 8)>>>(is_max, x, partial.as<float>(), mid, inner, len, chunks);
    bc::check_launch("reduce_cols");
    combine_chunks<<<bc::blocks_for(outer * inner, 256), 256>>>(is_max, partial.as<float>(), out, outer, inner, chunks);
  }
  bc::check_launch("combine_chunks");
  return nullptr;
}

// sumSquares(x, n) -> number (synchronizes)
BC_KERNEL(sumSquares) {
  const long long n = a.integer(1, "n");
  const float* x = a.f32(0, "x", n);
  bc::op_context() = "sumSquares(n=" + std::to_string(n) + ")";
  if (n == 0) return bc::number(a.env, 0);
  const int blocks = static_cast<int>(bc::blocks_for(n, kThreads, 4LL * bc::sm_count()));
  bc::Scratch partial((blocks + 1) * sizeof(double));
  double* p = partial.as<double>();
  sum_squares_partial<<<blocks, kThreads>>>(x, n, p);
  bc::check_launch("sum_squares_partial");
  sum_partials<<<1, kThreads>>>(p, blocks, p + blocks);
  bc::check_launch("sum_partials");
  double result = 0;
  bc::check(cudaMemcpy(&result, p + blocks, sizeof result, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  bc::raise_deferred();
  return bc::number(a.env, result);
}

// sumSquaresMany(xs[], ns[]) -> number: Σ_k Σ_i xs[k][i]^2 with one synchronization (the global gradient norm
// of a training step). Each tensor's blocks write their partials into one shared buffer, in tensor order, without
// waiting; one sum_partials combines them all in a fixed order, and one device -> host copy returns the result.
BC_KERNEL(sumSquaresMany) {
  const auto ns = a.ints(1, "ns");
  bool is_array = false;
  uint32_t length = 0;
  if (!a.argv.empty()) napi_is_array(a.env, a.argv[0], &is_array);
  if (is_array) napi_get_array_length(a.env, a.argv[0], &length);
  if (!is_array || length != ns.size())
    throw std::runtime_error("argument 0 (xs) must be an array of " + std::to_string(ns.size()) + " storages, one per size");
  struct Item {
    const float* x;
    long long n;
    int blocks;
  };
  std::vector<Item> items;
  long long total_blocks = 0, total_n = 0;
  for (size_t k = 0; k < ns.size(); k++) {
    napi_value x;
    napi_get_element(a.env, a.argv[0], static_cast<uint32_t>(k), &x);
    bc::Args item = a;
    item.argv.assign(1, x);
    const long long n = ns[k];
    const float* p = item.f32(0, "xs[k]", n);
    if (n == 0) continue;
    const int blocks = static_cast<int>(bc::blocks_for(n, kThreads, 4LL * bc::sm_count()));
    items.push_back({p, n, blocks});
    total_blocks += blocks;
    total_n += n;
  }
  bc::op_context() = "sumSquaresMany(" + std::to_string(ns.size()) + " tensors, " + std::to_string(total_n) + " elements)";
  if (total_blocks == 0) return bc::number(a.env, 0);
  if (total_blocks > 0x7fffffffLL) throw std::runtime_error("too many partial sums: " + std::to_string(total_blocks));
  bc::Scratch partial((total_blocks + 1) * sizeof(double));
  double* p = partial.as<double>();
  long long offset = 0;
  for (const Item& it : items) {
    sum_squares_partial<<<it.blocks, kThreads>>>(it.x, it.n, p + offset);
    bc::check_launch("sum_squares_partial");
    offset += it.blocks;
  }
  sum_partials<<<1, kThreads>>>(p, static_cast<int>(total_blocks), p + total_blocks);
  bc::check_launch("sum_partials");
  double result = 0;
  bc::check(cudaMemcpy(&result, p + total_blocks, sizeof result, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  bc::raise_deferred();
  return bc::number(a.env, result);
}
