// Packed GEMV / small-batch GEMM for OneBit (sign1) and BitNet b1.58 (ternary2) weights:
//   y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ), S (rows, cols) packed as src/onebit/packed.ts lays it out (row-major,
//   each row padded to whole bytes, codes least significant bit first; sign1: bit 1 = +1, bit 0 = -1;
//   ternary2: 0 -> 0, 1 -> +1, 2 -> -1, 3 (never written) -> 0).
// The codes live in an i32 storage (the bytes, four to an element; the addon's storages are 4-byte typed).
// Two kernels:
//   mma:    rows of a multiple of 4 bytes (every shape a model has). The weights are too few bytes to be the
//           bottleneck (8192² sign1 is 8 MB, ~2.5 µs of HBM), so the kernel is built for instructions per
//           weight: x ⊙ g staged once per block in shared memory, the bits turned into ±1 bf16 pairs by two
//           integer instructions per pair and summed on the tensor cores (see the section's comment).
//   simple: any row length, and whenever BITSCALE_ONEBIT_KERNEL=simple (a bypass, should the fast one fail):
//           one warp per row, each lane walks the row's code words (4 bytes when rows are 4-byte aligned, else
//           single bytes), turns each code into -1/0/+1 and accumulates w * x[c] * g[c] in fp32 for up to 8
//           batch vectors at once; a warp shuffle sums the lanes. x and g are re-read for every row, which is
//           what keeps it from memory speed (1.5% of memcpy at 8192², bench/onebit-gemv-cuda.ts).
#include <cuda_bf16.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common.cuh"

namespace {

constexpr int kMaxBatch = 8;  // vectors per launch; larger batches are launched in chunks

template <bool kTernary>
__device__ __forceinline__ float weight_of(unsigned code) {
  if (kTernary) return code == 1u ? 1.0f : code == 2u ? -1.0f : 0.0f;
  return code ? 1.0f : -1.0f;
}

// Unit: uint8_t (any row length) or uint32_t (rows of a multiple of 4 bytes, so every word is aligned).
template <bool kTernary, typename Unit>
__global__ void packed_gemv_kernel(const uint8_t* __restrict__ codes, const float* __restrict__ g,
                                   const float* __restrict__ h, const float* __restrict__ x, float* __restrict__ y,
                                   long long rows, long long cols, long long row_bytes, int batch) {
  constexpr int kBits = kTernary ? 2 : 1;
  constexpr int kPerUnit = 8 * static_cast<int>(sizeof(Unit)) / kBits;  // weights per unit
  constexpr unsigned kMask = (1u << kBits) - 1u;
  const int lane = threadIdx.x & 31;
  const long long row = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) >> 5;
  if (row >= rows) return;
  const Unit* units = reinterpret_cast<const Unit*>(codes + row * row_bytes);
  const long long n_units = row_bytes / static_cast<long long>(sizeof(Unit));
  float acc[kMaxBatch];
#pragma unroll
  for (int b = 0; b < kMaxBatch; b++) acc[b] = 0.0f;
  for (long long u = lane; u < n_units; u += 32) {
    const unsigned bits = static_cast<unsigned>(units[u]);
    const long long c0 = u * kPerUnit;
#pragma unroll 8
    for (int i = 0; i < kPerUnit; i++) {
      const long long c = c0 + i;
      if (c >= cols) break;  // padding bits of the row's last byte
      const float w = weight_of<kTernary>((bits >> (kBits * i)) & kMask);
      const float gc = g[c];
#pragma unroll
      for (int b = 0; b < kMaxBatch; b++)
        if (b < batch) acc[b] += w * (x[b * cols + c] * gc);
    }
  }
#pragma unroll
  for (int b = 0; b < kMaxBatch; b++) {
    float s = acc[b];
    for (int offset = 16; offset > 0; offset >>= 1) s += __shfl_down_sync(0xffffffffu, s, offset);
    if (lane == 0 && b < batch) y[b * rows + row] = h[row] * s;
  }
}

// ---- the tensor-core kernel ---------------------------------------------------------------------------
// Each row is read as a stream of bits (row_bytes * 8, padding included), every bit a ±1 (bit 1 = +1):
//   sign1:    bit q is column q, and B[q] = (x ⊙ g)[q];
//   ternary2: bits 2c and 2c+1 are column c's code (b0, b1), B[2c] = +½ (x ⊙ g)[c], B[2c+1] = -½ (x ⊙ g)[c],
//             so the pair adds ½ xg ((2 b0 - 1) - (2 b1 - 1)) = (b0 - b1) xg: +1, -1, and 0 for codes 0 and 3;
//   padding:  B = 0, whatever the bits.
// So one kernel serves both formats: bits -> ±1 bf16 pairs (a shift and a lop3 per pair), multiplied by B on
// the tensor cores (mma m16n8k16, fp32 accumulate). B is x ⊙ g split into bf16 hi + lo (hi = bf16(v),
// lo = bf16(v - hi), |v - hi - lo| <= 2^-17 |v|), in the mma's n columns 2b (hi) and 2b+1 (lo) of batch
// vector b, so up to 4 vectors per launch.
//
// The mma's k index is any bijection of the word's 32 bit positions, as long as A and B agree. Lane (grp, t)
// (grp = lane / 4, t = lane % 4) takes, for register m = 0..3 of a 32-bit word, the bit pair (4m + t, 4m + t + 16):
// shifting the word left by 3 - t puts them at 4m + 3 and 4m + 19, and a second shift by 12 - 4m at 15 and 31,
// the sign bits of a bf16 pair. Registers 0, 1 are the A fragment's k = (2t, 2t+1) and (2t+8, 2t+9) of the
// word's first k16 step, registers 2, 3 those of its second; B is staged in the same order (stage_b).
constexpr int kMmaWarps = 16;       // warps per block; each walks every 16th code unit of a row group
constexpr int kMmaRows = 32;        // rows per group: two m16 tiles, the same for every warp
constexpr int kMmaMaxBatch = 4;     // vectors per launch (hi and lo of each take two of the 8 n columns)

__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 p = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&p);
}

// Register m's ±1 bf16 pair from a word already shifted left by 3 - t (see above): its bits 4m + 3 and 4m + 19.
template <int m>
__device__ __forceinline__ uint32_t signs_bf16x2(uint32_t shifted) {
  // bit 1 clears the sign of -1.0 (0xBF80): +1.0 (0x3F80).
  return ((shifted << (12 - 4 * m)) & 0x80008000u) ^ 0xBF80BF80u;
}

__device__ __forceinline__ void mma_bf16(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// B value of bit position q for batch vector b (see the top of this section). Indices fit an int: the staged
// B of a row fits shared memory.
template <bool kTernary>
__device__ __forceinline__ float b_value(const float* __restrict__ g, const float* __restrict__ x, int cols, int b,
                                         int q) {
  const int c = kTernary ? q >> 1 : q;
  if (c >= cols) return 0.0f;
  const float v = x[b * cols + c] * g[c];
  if (!kTernary) return v;
  return (q & 1) ? -0.5f * v : 0.5f * v;
}

// bf16 hi and lo of (v0, v1) as two bf16x2 registers.
__device__ __forceinline__ void split_bf16x2(float v0, float v1, uint32_t& hi, uint32_t& lo) {
  hi = pack_bf16x2(v0, v1);
  lo = pack_bf16x2(v0 - __uint_as_float(hi << 16), v1 - __uint_as_float(hi & 0xFFFF0000u));
}

// Stages B for every word of the row in shared memory, in fragment order: for word w and lane (grp, t) with
// grp < 2 * batch, the uint4 at [w * 8 * batch + lane] holds registers m = 0..3, register m the bf16 pair of
// bit positions (32w + 4m + t, 32w + 4m + t + 16) of n column grp (vector grp / 2, hi when grp is even).
// Lanes of n columns past 2 * batch read no B (their columns are unused).
template <bool kTernary>
__device__ void stage_b(uint32_t* __restrict__ bs, const float* __restrict__ g, const float* __restrict__ x, int cols,
                        int n_words, int batch) {
  // Entry (w, m, t) of vector b goes to lanes 8b + t (hi) and 8b + 4 + t (lo), register m.
  const auto store = [&](int b, int w, int m, int t, uint32_t hi, uint32_t lo) {
    bs[(w * 8 * batch + 8 * b + t) * 4 + m] = hi;
    bs[(w * 8 * batch + 8 * b + 4 + t) * 4 + m] = lo;
  };
  for (int b = 0; b < batch; b++) {
    if (kTernary) {
      // Lanes t = 2s and 2s + 1 hold the two bits of the same columns: +½ xg and its negation (bf16 rounding is
      // symmetric, so the hi and lo of -v are those of v with the sign flipped), computed once.
      for (int e = threadIdx.x; e < n_words * 8; e += blockDim.x) {
        const int m = e & 3, s = (e >> 2) & 1, w = e >> 3;
        const int q = 32 * w + 4 * m + 2 * s;  // even: bit 0 of column q / 2
        const float v0 = b_value<true>(g, x, cols, b, q), v1 = b_value<true>(g, x, cols, b, q + 16);
        uint32_t hi, lo;
        split_bf16x2(v0, v1, hi, lo);
        store(b, w, m, 2 * s, hi, lo);
        store(b, w, m, 2 * s + 1, hi ^ 0x80008000u, lo ^ 0x80008000u);
      }
    } else {
      for (int e = threadIdx.x; e < n_words * 16; e += blockDim.x) {
        const int m = e & 3, t = (e >> 2) & 3, w = e >> 4;
        const int q = 32 * w + 4 * m + t;
        uint32_t hi, lo;
        split_bf16x2(b_value<false>(g, x, cols, b, q), b_value<false>(g, x, cols, b, q + 16), hi, lo);
        store(b, w, m, t, hi, lo);
      }
    }
  }
}

template <typename Unit>
__device__ __forceinline__ uint32_t word_of(const Unit& u, int i);
template <>
__device__ __forceinline__ uint32_t word_of<uint32_t>(const uint32_t& u, int) { return u; }
template <>
__device__ __forceinline__ uint32_t word_of<uint4>(const uint4& u, int i) {
  return i == 0 ? u.x : i == 1 ? u.y : i == 2 ? u.z : u.w;
}

template <typename Unit>
__device__ __forceinline__ void load_rows(Unit (&c)[4], const Unit* const (&rowp)[4], int u) {
#pragma unroll
  for (int i = 0; i < 4; i++) c[i] = __ldg(rowp[i] + u);
}

// The four rows lane (grp, t) reads of a 32-row group: grp and grp + 8 (tile 0), grp + 16 and grp + 24 (tile 1).
// Rows past the end (and groups past the last) read the last row, whose sums are never written.
template <typename Unit>
__device__ __forceinline__ void rows_of(const Unit* (&rowp)[4], const uint8_t* codes, long long group, long long rows,
                                        long long row_bytes, int grp) {
#pragma unroll
  for (int i = 0; i < 4; i++) {
    long long r = group * kMmaRows + grp + 8 * i;
    if (r >= rows) r = rows - 1;
    rowp[i] = reinterpret_cast<const Unit*>(codes + r * row_bytes);
  }
}

// Unit: uint4 (rows of a multiple of 16 bytes) or uint32_t (a multiple of 4). batch <= kMmaMaxBatch.
// A block stages B once, then takes groups of 32 rows (blockIdx.x, + gridDim.x, ...); its warps split each
// group's code units (warp w takes units w, w + kMmaWarps, ...) and their partial sums meet in shared memory.
// Every load of codes is issued one step ahead (the first before the staging, the next group's first during
// this group's last step), so the warps seldom wait on memory.
template <bool kTernary, typename Unit>
__global__ void __launch_bounds__(kMmaWarps * 32)
    packed_gemv_mma_kernel(const uint8_t* __restrict__ codes, const float* __restrict__ g,
                           const float* __restrict__ h, const float* __restrict__ x, float* __restrict__ y,
                           long long rows, long long cols, long long row_bytes, int batch) {
  constexpr int kWords = static_cast<int>(sizeof(Unit) / 4);
  extern __shared__ uint4 bs[];  // [n_words][8 * batch] (stage_b)
  __shared__ float4 partial[kMmaWarps][32];
  // Word and unit counts fit an int: the staged B of a row fits shared memory (mma_batch).
  const int n_words = static_cast<int>(row_bytes / 4), n_units = n_words / kWords, b_stride = 8 * batch;
  const long long n_groups = (rows + kMmaRows - 1) / kMmaRows;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, grp = lane >> 2, t = lane & 3;
  const bool has_b = grp < 2 * batch;
  const int pre = 3 - t;

  const Unit* rowp[4];
  rows_of(rowp, codes, blockIdx.x, rows, row_bytes, grp);
  Unit c[4] = {};
  if (warp < n_units) load_rows(c, rowp, warp);
  stage_b<kTernary>(reinterpret_cast<uint32_t*>(bs), g, x, static_cast<int>(cols), n_words, batch);
  __syncthreads();

  for (long long group = blockIdx.x; group < n_groups; group += gridDim.x) {
    const bool more = group + gridDim.x < n_groups;
    const Unit* rowp_next[4];
    rows_of(rowp_next, codes, group + gridDim.x, rows, row_bytes, grp);
    float acc[2][4] = {};
    // Unrolled by two so that c and next alternate registers instead of being copied at every step.
#pragma unroll 2
    for (int u = warp; u < n_units; u += kMmaWarps) {
      Unit next[4] = {c[0], c[1], c[2], c[3]};
      if (u + kMmaWarps < n_units)
        load_rows(next, rowp, u + kMmaWarps);
      else if (more)
        load_rows(next, rowp_next, warp);
#pragma unroll
      for (int k = 0; k < kWords; k++) {
        const uint4 b = has_b ? bs[(u * kWords + k) * b_stride + lane] : make_uint4(0, 0, 0, 0);
#pragma unroll
        for (int tile = 0; tile < 2; tile++) {
          const uint32_t lo = word_of(c[2 * tile], k) << pre, hi = word_of(c[2 * tile + 1], k) << pre;
          mma_bf16(acc[tile], signs_bf16x2<0>(lo), signs_bf16x2<0>(hi), signs_bf16x2<1>(lo), signs_bf16x2<1>(hi),
                   b.x, b.y);
          mma_bf16(acc[tile], signs_bf16x2<2>(lo), signs_bf16x2<2>(hi), signs_bf16x2<3>(lo), signs_bf16x2<3>(hi),
                   b.z, b.w);
        }
      }
#pragma unroll
      for (int i = 0; i < 4; i++) c[i] = next[i];
    }
    // acc[tile] = C[grp][2t], C[grp][2t+1], C[grp+8][2t], C[grp+8][2t+1]: vector t's hi and lo parts.
    partial[warp][lane] = make_float4(acc[0][0] + acc[0][1], acc[0][2] + acc[0][3], acc[1][0] + acc[1][1],
                                      acc[1][2] + acc[1][3]);
    __syncthreads();
    if (threadIdx.x < 128) {
      const int l = threadIdx.x & 31, i = threadIdx.x >> 5;  // lane l's row grp + 8i, vector t
      float s = 0.0f;
#pragma unroll
      for (int v = 0; v < kMmaWarps; v++) {
        const float4 p = partial[v][l];
        s += i == 0 ? p.x : i == 1 ? p.y : i == 2 ? p.z : p.w;
      }
      const long long row = group * kMmaRows + (l >> 2) + 8 * i;
      const int b = l & 3;
      if (row < rows && b < batch) y[b * rows + row] = h[row] * s;
    }
    __syncthreads();  // partial is written again by the next group
#pragma unroll
    for (int i = 0; i < 4; i++) rowp[i] = rowp_next[i];
  }
}

template <bool kTernary>
void launch_simple(const uint8_t* codes, const float* g, const float* h, const float* x, float* y, long long rows,
                   long long cols, long long row_bytes, int batch) {
  constexpr int kThreads = 256;  // 8 rows per block
  const unsigned blocks = static_cast<unsigned>((rows * 32 + kThreads - 1) / kThreads);
  if (row_bytes % 4 == 0)
    packed_gemv_kernel<kTernary, uint32_t><<<blocks, kThreads>>>(codes, g, h, x, y, rows, cols, row_bytes, batch);
  else
    packed_gemv_kernel<kTernary, uint8_t><<<blocks, kThreads>>>(codes, g, h, x, y, rows, cols, row_bytes, batch);
}

// Dynamic shared memory a block may have beyond its static partial sums.
int mma_shared_limit() {
  static const int limit = [] {
    int device = 0, optin = 0;
    bc::check(cudaGetDevice(&device), "cudaGetDevice");
    bc::check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
              "cudaDeviceGetAttribute(shared memory per block)");
    return optin - static_cast<int>(sizeof(float4) * kMmaWarps * 32) - 1024;  // 1 KiB of slack
  }();
  return limit;
}

template <bool kTernary, typename Unit>
void launch_mma_as(const uint8_t* codes, const float* g, const float* h, const float* x, float* y, long long rows,
                   long long cols, long long row_bytes, int batch) {
  auto kernel = packed_gemv_mma_kernel<kTernary, Unit>;
  static const bool sized = [&] {
    bc::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, mma_shared_limit()),
              "cudaFuncSetAttribute(packed gemv shared memory)");
    return true;
  }();
  (void)sized;
  const size_t shared = static_cast<size_t>(row_bytes / 4) * 8 * batch * sizeof(uint4);
  // One block per SM at most: each stages B once and walks its share of the row groups.
  const long long groups = (rows + kMmaRows - 1) / kMmaRows, sms = bc::sm_count();
  const unsigned blocks = static_cast<unsigned>(groups < sms ? groups : sms);
  kernel<<<blocks, kMmaWarps * 32, shared>>>(codes, g, h, x, y, rows, cols, row_bytes, batch);
}

template <bool kTernary>
void launch_mma(const uint8_t* codes, const float* g, const float* h, const float* x, float* y, long long rows,
                long long cols, long long row_bytes, int batch) {
  if (row_bytes % 16 == 0)
    launch_mma_as<kTernary, uint4>(codes, g, h, x, y, rows, cols, row_bytes, batch);
  else
    launch_mma_as<kTernary, uint32_t>(codes, g, h, x, y, rows, cols, row_bytes, batch);
}

// Vectors per launch of the mma kernel for this row length: up to 4, as many as the staged B leaves room for
// (16 bytes per 32 bits of row and vector); 0 when it cannot run (rows not whole words, or too long).
int mma_batch(long long row_bytes) {
  const char* choice = std::getenv("BITSCALE_ONEBIT_KERNEL");
  if (choice && std::strcmp(choice, "simple") == 0) return 0;
  if (row_bytes % 4 != 0) return 0;
  const long long per_vector = row_bytes / 4 * 8 * static_cast<long long>(sizeof(uint4));
  if (per_vector == 0) return kMmaMaxBatch;
  const long long fit = mma_shared_limit() / per_vector;
  return static_cast<int>(fit < kMmaMaxBatch ? fit : kMmaMaxBatch);
}

}  // namespace

// packedGemm(codes: i32 storage holding the packed bytes, g, h, x, y, rows, cols, batch, ternary)
// BITSCALE_ONEBIT_KERNEL=simple selects the simple kernel for every shape (read at each call).
BC_KERNEL(packedGemm) {
  const long long rows = a.integer(5, "rows"), cols = a.integer(6, "cols"), batch = a.integer(7, "batch");
  const bool ternary = a.flag(8, "ternary");
  const long long row_bytes = (cols + (ternary ? 3 : 7)) / (ternary ? 4 : 8);
  const auto* codes = reinterpret_cast<const uint8_t*>(a.i32(0, "codes", (rows * row_bytes + 3) / 4));
  const float* g = a.f32(1, "g", cols);
  const float* h = a.f32(2, "h", rows);
  const float* x = a.f32(3, "x", batch * cols);
  float* y = a.out_f32(4, "y", batch * rows);
  if (rows == 0 || batch == 0) return nullptr;
  if (rows > (1LL << 26)) throw std::runtime_error("rows = " + std::to_string(rows) + " is too large (at most 2^26)");
  bc::op_context() = std::string("packedGemm(") + (ternary ? "ternary2" : "sign1") + ", rows=" + std::to_string(rows) +
                     ", cols=" + std::to_string(cols) + ", batch=" + std::to_string(batch) + ")";
  const int mma = mma_batch(row_bytes);
  const int chunk = mma > 0 ? mma : kMaxBatch;
  for (long long b0 = 0; b0 < batch; b0 += chunk) {
    const int nb = static_cast<int>(batch - b0 < chunk ? batch - b0 : chunk);
    const float* xb = x + b0 * cols;
    float* yb = y + b0 * rows;
    if (mma > 0 && ternary)
      launch_mma<true>(codes, g, h, xb, yb, rows, cols, row_bytes, nb);
    else if (mma > 0)
      launch_mma<false>(codes, g, h, xb, yb, rows, cols, row_bytes, nb);
    else if (ternary)
      launch_simple<true>(codes, g, h, xb, yb, rows, cols, row_bytes, nb);
    else
      launch_simple<false>(codes, g, h, xb, yb, rows, cols, row_bytes, nb);
    bc::check_launch("packedGemm");
  }
  return nullptr;
}

// Bench only: copyDevice(src, dst, n) copies n 4-byte elements device to device (cudaMemcpyAsync), the
// bandwidth peer of bench/onebit-gemv-cuda.ts.
BC_KERNEL(copyDevice) {
  const long long n = a.integer(2, "n");
  const int32_t* src = a.i32(0, "src", n);
  int32_t* dst = a.i32(1, "dst", n);
  if (n == 0) return nullptr;
  bc::check(cudaMemcpyAsync(dst, src, n * 4, cudaMemcpyDeviceToDevice), "cudaMemcpyAsync(copyDevice)");
  return nullptr;
}
