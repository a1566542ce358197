// Flash attention on the tensor cores (FlashAttention-2's schedule, mma.sync m16n8k16 bf16 or f16 -> fp32), for
// the bf16/tf32 matmul modes (bf16 operands) and the fp16 mode (half operands). The score matrix is never
// written to memory: each block keeps a 64-row tile of queries (or keys) in registers and streams the other
// operand through shared memory.
//
// out and the gradients are fp32 (B, T, nh, hs) like the rest of the engine; q, k, v and gOut come as their
// storages' 16-bit copies (bc::half_copy: bf16, or half where past 65504 becomes inf) in the same layout, kept on
// the storages so that the backward reads the forward's copies of q, k and v. The kernels stage rows of one head
// (hs contiguous values, nh hs apart) in shared memory, products accumulate in fp32, and the softmax runs in fp32.
// lse (B, nh, T) is natural-log, in units of scale * q·k, as the other attention kernels write it.
//
// forward   block = 64 queries (4 warps x 16 rows); online softmax over 64-key tiles.
// backward  two kernels, so no atomics and deterministic gradients: one owns 64 keys and accumulates
//           dK, dV over query tiles; the other owns 64 queries and accumulates dQ over key tiles (it recomputes
//           S and dP, 3 products more than FlashAttention-2's atomic dQ, which the tensor cores absorb).
//
// Fragment layouts (PTX ISA, mma.m16n8k16, g = lane / 4, c = 2 (lane % 4)):
//   A 16x16 row-major: a0 (g, c..c+1), a1 (g+8, c..c+1), a2 (g, c+8..c+9), a3 (g+8, c+8..c+9)
//   B 16x8 "col":      b0 (k = c..c+1, n = g), b1 (k = c+8..c+9, n = g)
//   C 16x8 fp32:       c0, c1 (g, c..c+1), c2, c3 (g+8, c..c+1)
// Two neighbouring C tiles of scores are exactly the A fragment of the next product, so P and dS never leave
// registers. B operands are read as 32-bit pairs along k, hence some tiles are staged transposed. Rows are
// padded by 8 bf16 so that the 8 x 4 fragment reads of a warp hit 32 different banks.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "common.cuh"
#include "flash_attention.cuh"

namespace {

using bf16 = __nv_bfloat16;
using half = __half;
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kOwn = kWarps * 16;  // rows a block owns: 16 per warp
constexpr float kLog2e = 1.4426950408889634f;

// Blocks per SM each kernel is compiled for (__launch_bounds__): as many as an H100/H200's shared memory allows at
// hs <= 64, which caps registers at 128 (forward) and 168 (backward); a few dozen bytes spill (forward at hs 64,
// the backward kernels at hs 32 and 64), and three backward blocks still measured faster than two. At hs 128
// shared memory allows two.
template <int HS>
struct Blocks {
  static constexpr int forward = HS > 64 ? 2 : 4;
  static constexpr int backward = HS > 64 ? 2 : 3;
};

struct Head {
  int B, T, nh, hs;
  float scale;
  bool causal;
  __device__ long long row(int b, int t, int h) const { return ((static_cast<long long>(b) * T + t) * nh + h) * hs; }
  __device__ int stride() const { return nh * hs; }  // between one head's consecutive rows
  __device__ long long stat(int b, int h, int t) const { return (static_cast<long long>(b) * nh + h) * T + t; }
};

// T is the element type of the staged tiles and of the products' operands: bf16, or half in the fp16 matmul mode
// (same fragment layouts and instruction shape; only the mma's type and the rounding differ).
template <class T>
__device__ inline void mma(float (&acc)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, half>)
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats rounded to T (nearest even), as one 32-bit register. In half, magnitudes past 65504 become inf.
template <class T>
__device__ inline uint32_t pack(float lo, float hi) {
  if constexpr (std::is_same_v<T, half>) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  }
}

// ---- layout helpers and staging ---------------------------------------------------------------------------

// x (B, T, nh, hs) f32 -> y (B, nh, T, hs) T, for attention.cu's cuBLASLt path; 4 elements a thread (hs is a
// multiple of 4).
template <class T>
__global__ void to_heads(const float* x, T* y, Head d) {
  const long long n4 = static_cast<long long>(d.B) * d.T * d.nh * d.hs / 4;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n4; e += (long long)gridDim.x * blockDim.x) {
    const long long flat = e * 4;
    const int i = flat % d.hs;
    const long long row = flat / d.hs;  // (b, t, h)
    const int h = row % d.nh, t = (row / d.nh) % d.T;
    const long long b = row / (static_cast<long long>(d.nh) * d.T);
    const float4 f = *reinterpret_cast<const float4*>(x + flat);
    *reinterpret_cast<uint2*>(y + (((b * d.nh + h) * d.T) + t) * d.hs + i) = uint2{pack<T>(f.x, f.y), pack<T>(f.z, f.w)};
  }
}

// delta (B, nh, T) = rowsum(gOut * out): a warp per (b, t, h) row.
__global__ void row_dots(const float* out, const float* g_out, float* delta, Head d) {
  const long long rows = static_cast<long long>(d.B) * d.T * d.nh;
  const int lane = threadIdx.x % 32;
  for (long long r = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32; r < rows; r += (long long)gridDim.x * blockDim.x / 32) {
    float acc = 0;
    for (int i = lane; i < d.hs; i += 32) acc += out[r * d.hs + i] * g_out[r * d.hs + i];
    for (int o = 16; o > 0; o /= 2) acc += __shfl_xor_sync(0xffffffff, acc, o);
    const int h = r % d.nh, t = (r / d.nh) % d.T;
    const long long b = r / (static_cast<long long>(d.nh) * d.T);
    if (lane == 0) delta[(b * d.nh + h) * d.T + t] = acc;
  }
}

__device__ inline void cp_async16(void* dst, const void* src) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(src));
}
__device__ inline void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ inline void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// Queues rows [r0, r0 + ROWS) of one head (x: its row 0, rows `stride` apart) into tile [ROWS][HS + 8] with
// 16-byte cp.async copies, to land while the previous tile is being multiplied; rows past T become zeros.
template <int HS, int ROWS, class E>
__device__ inline void stage(const E* x, int stride, int T, int r0, E* tile) {
  for (int e = threadIdx.x; e < ROWS * (HS / 8); e += kThreads) {
    const int r = e / (HS / 8), i = (e % (HS / 8)) * 8;
    E* dst = tile + r * (HS + 8) + i;
    if (r0 + r < T) cp_async16(dst, x + static_cast<long long>(r0 + r) * stride + i);
    else *reinterpret_cast<uint4*>(dst) = uint4{0, 0, 0, 0};
  }
}

// ---- warp-level products ----------------------------------------------------------------------------------

// Fragments come from shared memory by ldmatrix: one instruction moves four 8 x 8 blocks, where 32-bit loads
// would take four (the kernels are bound by issued instructions, not by the tensor cores).
__device__ inline void ldmatrix_x4(const void* p, uint32_t (&r)[4]) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ inline void ldmatrix_x4_trans(const void* p, uint32_t (&r)[4]) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// 2^x by the special-function unit alone (exp2f adds a denormal fix-up; results that small are 0 here anyway).
__device__ inline float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// A fragments of this warp's 16 rows of a row-major [..][HS + 8] tile. Lane l addresses row l % 8 (+ 8 for the
// second and fourth block) at column 8 (l / 16): the blocks land as a0, a1, a2, a3.
template <int HS, class T>
__device__ inline void a_fragments(const T* tile, uint32_t (&a)[HS / 16][4]) {
  const int lane = threadIdx.x % 32;
  const T* row = tile + ((threadIdx.x / 32) * 16 + lane % 8 + ((lane / 8) % 2) * 8) * (HS + 8) + (lane / 16) * 8;
#pragma unroll
  for (int kc = 0; kc < HS / 16; kc++) ldmatrix_x4(row + kc * 16, a[kc]);
}

// acc[n] (16 x N) = A (16 x HS, fragments) · tileᵀ, tile row-major [N][HS + 8]: the "rows · other rowsᵀ" product.
// One ldmatrix gives the B fragments of two k-steps: lane l addresses row l % 8 of the n-tile at column 8 (l / 8).
template <int HS, int N, class T>
__device__ inline void rows_times_rows_t(const uint32_t (&a)[HS / 16][4], const T* tile, float (&acc)[N / 8][4]) {
  const int lane = threadIdx.x % 32;
  const T* row = tile + (lane % 8) * (HS + 8) + (lane / 8) * 8;
#pragma unroll
  for (int nt = 0; nt < N / 8; nt++) {
    acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0;
#pragma unroll
    for (int kc = 0; kc < HS / 16; kc += 2) {
      uint32_t b[4];
      ldmatrix_x4(row + nt * 8 * (HS + 8) + kc * 16, b);
      mma<T>(acc[nt], a[kc], b[0], b[1]);
      mma<T>(acc[nt], a[kc + 1], b[2], b[3]);
    }
  }
}

// acc (16 x HS) += P (16 x K, as C fragments) · X, X row-major [K][HS + 8]: its B fragments (pairs along K)
// come from ldmatrix.trans, two 8 x 8 transposed blocks per n-tile, two n-tiles per instruction (lanes 16-31
// address the second).
template <int HS, int K, class T>
__device__ inline void scores_times(const float (&p)[K / 8][4], const T* x, float (&acc)[HS / 8][4]) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int kc = 0; kc < K / 16; kc++) {
    const uint32_t a[4] = {pack<T>(p[2 * kc][0], p[2 * kc][1]), pack<T>(p[2 * kc][2], p[2 * kc][3]),
                           pack<T>(p[2 * kc + 1][0], p[2 * kc + 1][1]), pack<T>(p[2 * kc + 1][2], p[2 * kc + 1][3])};
    const T* rows = x + (kc * 16 + lane % 16) * (HS + 8) + (lane / 16) * 8;
#pragma unroll
    for (int nt = 0; nt < HS / 8; nt += 2) {
      uint32_t b[4];
      ldmatrix_x4_trans(rows + nt * 8, b);
      mma<T>(acc[nt], a, b[0], b[1]);
      mma<T>(acc[nt + 1], a, b[2], b[3]);
    }
  }
}

// Writes this warp's 16 x HS accumulator rows [r0 + 16 warp, ...) to x (fp32, (B, T, nh, hs)), times mul0 for
// the thread's first row and mul1 for its second; rows past T skipped.
template <int HS>
__device__ inline void store_rows(const float (&acc)[HS / 8][4], float* x, const Head& d, int b, int h, int r0, float mul0, float mul1) {
  const int lane = threadIdx.x % 32, g = lane / 4, c = (lane % 4) * 2;
  const int t = r0 + (threadIdx.x / 32) * 16 + g;
#pragma unroll
  for (int nt = 0; nt < HS / 8; nt++) {
    if (t < d.T) *reinterpret_cast<float2*>(x + d.row(b, t, h) + nt * 8 + c) = make_float2(acc[nt][0] * mul0, acc[nt][1] * mul0);
    if (t + 8 < d.T) *reinterpret_cast<float2*>(x + d.row(b, t + 8, h) + nt * 8 + c) = make_float2(acc[nt][2] * mul1, acc[nt][3] * mul1);
  }
}

// ---- kernels ----------------------------------------------------------------------------------------------
// q, k, v, g_out below are the T (bf16 or half) copies; out, lse, delta and the gradients are fp32.

template <int HS>
constexpr size_t tile_bytes(int rows) {
  return static_cast<size_t>(rows) * (HS + 8) * 2;  // bf16 and half alike
}

template <int HS>
constexpr size_t forward_shared() {
  return 5 * tile_bytes<HS>(kOwn);  // Q, and K and V twice
}

// Every key tile a block visits has at least one unmasked key for each of its rows (its first key, s0 <= t0 <=
// row and s0 < T), so the running maximum is finite after the first tile and no row needs an empty-row case.
// Only the diagonal tile (causal) and a tile past the last key have masked scores; the others skip the mask.
template <int HS, class T>
__global__ void __launch_bounds__(kThreads, Blocks<HS>::forward) flash_forward(const T* q, const T* k, const T* v, float* out, float* lse, Head d) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  constexpr int kTile = kOwn * (HS + 8);
  T* qs = reinterpret_cast<T*>(smem_raw);  // [64][HS + 8]
  T* ks = qs + kTile;                        // 2 x [64][HS + 8]
  T* vs = ks + 2 * kTile;                    // 2 x [64][HS + 8]
  // The longest blocks (last queries, under causal masking) first, so that the short ones fill the tail.
  const int b = blockIdx.y / d.nh, h = blockIdx.y % d.nh, t0 = (gridDim.x - 1 - blockIdx.x) * kOwn;
  const long long head = d.row(b, 0, h);
  const int stride = d.stride();
  const int lane = threadIdx.x % 32, c = (lane % 4) * 2;
  const int row0 = t0 + (threadIdx.x / 32) * 16 + lane / 4;  // this thread's rows: row0 and row0 + 8
  const int end = d.causal ? min(d.T, t0 + kOwn) : d.T;
  stage<HS, kOwn>(q + head, stride, d.T, t0, qs);
  stage<HS, kOwn>(k + head, stride, d.T, 0, ks);
  stage<HS, kOwn>(v + head, stride, d.T, 0, vs);
  cp_async_commit();
  uint32_t qa[HS / 16][4];
  const float mul = d.scale * kLog2e;  // scores in log2 units: 2^x is one instruction
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0, 0}, o[HS / 8][4] = {};
  for (int s0 = 0, buf = 0; s0 < end; s0 += kOwn, buf ^= 1) {
    if (s0 + kOwn < end) {  // queue the next tile, then wait for this one
      stage<HS, kOwn>(k + head, stride, d.T, s0 + kOwn, ks + (buf ^ 1) * kTile);
      stage<HS, kOwn>(v + head, stride, d.T, s0 + kOwn, vs + (buf ^ 1) * kTile);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (s0 == 0) a_fragments<HS>(qs, qa);
    float s[kOwn / 8][4];
    rows_times_rows_t<HS, kOwn>(qa, ks + buf * kTile, s);
#pragma unroll
    for (int nt = 0; nt < kOwn / 8; nt++)
#pragma unroll
      for (int j = 0; j < 4; j++) s[nt][j] *= mul;
    if (s0 + kOwn > d.T || (d.causal && s0 + kOwn > t0)) {
#pragma unroll
      for (int nt = 0; nt < kOwn / 8; nt++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const int key = s0 + nt * 8 + c + (j & 1), row = row0 + (j >> 1) * 8;
          if (key >= d.T || (d.causal && key > row)) s[nt][j] = -INFINITY;
        }
    }
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < kOwn / 8; nt++)
#pragma unroll
      for (int j = 0; j < 4; j++) mx[j >> 1] = fmaxf(mx[j >> 1], s[nt][j]);
    float corr[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 2));
      const float mnew = fmaxf(m[r], mx[r]);
      corr[r] = ex2(m[r] - mnew);  // 0 on the first tile (m = -inf)
      m[r] = mnew;
      l[r] *= corr[r];
    }
#pragma unroll
    for (int nt = 0; nt < kOwn / 8; nt++)
#pragma unroll
      for (int j = 0; j < 4; j++) {
        s[nt][j] = ex2(s[nt][j] - m[j >> 1]);
        l[j >> 1] += s[nt][j];
      }
#pragma unroll
    for (int nt = 0; nt < HS / 8; nt++) {
      o[nt][0] *= corr[0];
      o[nt][1] *= corr[0];
      o[nt][2] *= corr[1];
      o[nt][3] *= corr[1];
    }
    scores_times<HS, kOwn>(s, vs + buf * kTile, o);
    __syncthreads();  // the buffer is refilled next iteration
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[r] += __shfl_xor_sync(0xffffffff, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffff, l[r], 2);
  }
  store_rows<HS>(o, out, d, b, h, t0, 1.0f / l[0], 1.0f / l[1]);
  if (c == 0) {
    constexpr float kLn2 = 0.6931471805599453f;
    if (row0 < d.T) lse[d.stat(b, h, row0)] = (m[0] + log2f(l[0])) * kLn2;
    if (row0 + 8 < d.T) lse[d.stat(b, h, row0 + 8)] = (m[1] + log2f(l[1])) * kLn2;
  }
}

// Rows of the streamed operand per step in the backward kernels: 64, or 32 at hs 128 to stay in registers.
template <int HS>
struct Stream {
  static constexpr int rows = HS > 64 ? 32 : 64;
};

template <int HS>
constexpr size_t backward_kv_shared() {
  constexpr int Q = Stream<HS>::rows;
  return 2 * tile_bytes<HS>(kOwn) + 4 * tile_bytes<HS>(Q) + 4 * Q * sizeof(float);
}

// Owns 64 keys: dV = Σ_t Pᵀ dO, dK = scale Σ_t dSᵀ Q over query tiles, working with Sᵀ = K Qᵀ so that
// every product has this warp's keys as its rows.
template <int HS, class T>
__global__ void __launch_bounds__(kThreads, Blocks<HS>::backward) flash_backward_kv(const T* q, const T* k, const T* v, const float* lse,
                                                              const float* delta, const T* g_out, float* gk, float* gv, Head d) {
  constexpr int Q = Stream<HS>::rows, kTile = Q * (HS + 8);
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* ks = reinterpret_cast<T*>(smem_raw);  // [64][HS + 8] owned keys
  T* vs = ks + kOwn * (HS + 8);              // [64][HS + 8] owned values
  T* qs = vs + kOwn * (HS + 8);              // 2 x [Q][HS + 8]
  T* gos = qs + 2 * kTile;                   // 2 x [Q][HS + 8]
  float* lses = reinterpret_cast<float*>(gos + 2 * kTile);  // 2 x [Q], log2 units
  float* deltas = lses + 2 * Q;                              // 2 x [Q]
  const int b = blockIdx.y / d.nh, h = blockIdx.y % d.nh, s0 = blockIdx.x * kOwn;
  const long long head = d.row(b, 0, h);
  const int stride = d.stride();
  const int lane = threadIdx.x % 32, c = (lane % 4) * 2;
  const int key0 = s0 + (threadIdx.x / 32) * 16 + lane / 4;  // this thread's keys: key0 and key0 + 8
  auto stage_queries = [&](int t0, int buf) {
    stage<HS, Q>(q + head, stride, d.T, t0, qs + buf * kTile);
    stage<HS, Q>(g_out + head, stride, d.T, t0, gos + buf * kTile);
    for (int j = threadIdx.x; j < Q; j += kThreads) {
      const int t = t0 + j;
      lses[buf * Q + j] = t < d.T ? lse[d.stat(b, h, t)] * kLog2e : INFINITY;  // padding queries: P = 0
      deltas[buf * Q + j] = t < d.T ? delta[d.stat(b, h, t)] : 0.0f;
    }
  };
  const int first = d.causal ? (s0 / Q) * Q : 0;
  stage<HS, kOwn>(k + head, stride, d.T, s0, ks);
  stage<HS, kOwn>(v + head, stride, d.T, s0, vs);
  stage_queries(first, 0);
  cp_async_commit();
  const float mul = d.scale * kLog2e;
  float dk[HS / 8][4] = {}, dv[HS / 8][4] = {};
  for (int t0 = first, buf = 0; t0 < d.T; t0 += Q, buf ^= 1) {
    if (t0 + Q < d.T) {
      stage_queries(t0 + Q, buf ^ 1);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    // The owned keys' and values' fragments are read again each tile (a few ldmatrix) rather than held: the
    // 32 registers they would take cost this kernel a block per SM.
    float p[Q / 8][4], dp[Q / 8][4];
    {
      uint32_t ka[HS / 16][4];
      a_fragments<HS>(ks, ka);
      rows_times_rows_t<HS, Q>(ka, qs + buf * kTile, p);  // Sᵀ (keys x queries)
    }
    {
      uint32_t va[HS / 16][4];
      a_fragments<HS>(vs, va);
      rows_times_rows_t<HS, Q>(va, gos + buf * kTile, dp);  // dPᵀ = V dOᵀ
    }
#pragma unroll
    for (int nt = 0; nt < Q / 8; nt++)
#pragma unroll
      for (int j = 0; j < 4; j++) p[nt][j] = p[nt][j] * mul - lses[buf * Q + nt * 8 + c + (j & 1)];
    if (d.causal && t0 < s0 + kOwn) {  // only query tiles that reach below the diagonal see masked keys
#pragma unroll
      for (int nt = 0; nt < Q / 8; nt++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const int query = t0 + nt * 8 + c + (j & 1), key = key0 + (j >> 1) * 8;
          if (query < key) p[nt][j] = -INFINITY;
        }
    }
#pragma unroll
    for (int nt = 0; nt < Q / 8; nt++)
#pragma unroll
      for (int j = 0; j < 4; j++) {
        p[nt][j] = ex2(p[nt][j]);
        dp[nt][j] = p[nt][j] * (dp[nt][j] - deltas[buf * Q + nt * 8 + c + (j & 1)]);  // dSᵀ / scale
      }
    scores_times<HS, Q>(p, gos + buf * kTile, dv);
    scores_times<HS, Q>(dp, qs + buf * kTile, dk);
    __syncthreads();
  }
  store_rows<HS>(dv, gv, d, b, h, s0, 1.0f, 1.0f);
  store_rows<HS>(dk, gk, d, b, h, s0, d.scale, d.scale);
}

template <int HS>
constexpr size_t backward_q_shared() {
  constexpr int K = Stream<HS>::rows;
  return 2 * tile_bytes<HS>(kOwn) + 4 * tile_bytes<HS>(K);
}

// Owns 64 queries: dQ = scale Σ_s dS K over key tiles.
template <int HS, class T>
__global__ void __launch_bounds__(kThreads, Blocks<HS>::backward) flash_backward_q(const T* q, const T* k, const T* v, const float* lse,
                                                             const float* delta, const T* g_out, float* gq, Head d) {
  constexpr int K = Stream<HS>::rows, kTile = K * (HS + 8);
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* qs = reinterpret_cast<T*>(smem_raw);  // [64][HS + 8] owned queries
  T* gos = qs + kOwn * (HS + 8);             // [64][HS + 8] their output gradients
  T* ks = gos + kOwn * (HS + 8);             // 2 x [K][HS + 8]
  T* vs = ks + 2 * kTile;                    // 2 x [K][HS + 8]
  const int b = blockIdx.y / d.nh, h = blockIdx.y % d.nh, t0 = (gridDim.x - 1 - blockIdx.x) * kOwn;  // longest first
  const long long head = d.row(b, 0, h);
  const int stride = d.stride();
  const int lane = threadIdx.x % 32, c = (lane % 4) * 2;
  const int row0 = t0 + (threadIdx.x / 32) * 16 + lane / 4;
  const int end = d.causal ? min(d.T, t0 + kOwn) : d.T;
  stage<HS, kOwn>(q + head, stride, d.T, t0, qs);
  stage<HS, kOwn>(g_out + head, stride, d.T, t0, gos);
  stage<HS, K>(k + head, stride, d.T, 0, ks);
  stage<HS, K>(v + head, stride, d.T, 0, vs);
  cp_async_commit();
  float l2[2], dl[2];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int t = row0 + r * 8;
    l2[r] = t < d.T ? lse[d.stat(b, h, t)] * kLog2e : INFINITY;
    dl[r] = t < d.T ? delta[d.stat(b, h, t)] : 0.0f;
  }
  uint32_t qa[HS / 16][4], goa[HS / 16][4];
  const float mul = d.scale * kLog2e;
  float dq[HS / 8][4] = {};
  for (int s0 = 0, buf = 0; s0 < end; s0 += K, buf ^= 1) {
    if (s0 + K < end) {
      stage<HS, K>(k + head, stride, d.T, s0 + K, ks + (buf ^ 1) * kTile);
      stage<HS, K>(v + head, stride, d.T, s0 + K, vs + (buf ^ 1) * kTile);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (s0 == 0) {
      a_fragments<HS>(qs, qa);
      a_fragments<HS>(gos, goa);
    }
    float p[K / 8][4], dp[K / 8][4];
    rows_times_rows_t<HS, K>(qa, ks + buf * kTile, p);
    rows_times_rows_t<HS, K>(goa, vs + buf * kTile, dp);
#pragma unroll
    for (int nt = 0; nt < K / 8; nt++)
#pragma unroll
      for (int j = 0; j < 4; j++) p[nt][j] = p[nt][j] * mul - l2[j >> 1];
    if (s0 + K > d.T || (d.causal && s0 + K > t0)) {  // the diagonal tile, or keys past the last
#pragma unroll
      for (int nt = 0; nt < K / 8; nt++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const int key = s0 + nt * 8 + c + (j & 1), row = row0 + (j >> 1) * 8;
          if (key >= d.T || (d.causal && key > row)) p[nt][j] = -INFINITY;
        }
    }
#pragma unroll
    for (int nt = 0; nt < K / 8; nt++)
#pragma unroll
      for (int j = 0; j < 4; j++) dp[nt][j] = ex2(p[nt][j]) * (dp[nt][j] - dl[j >> 1]);  // dS / scale
    scores_times<HS, K>(dp, ks + buf * kTile, dq);
    __syncthreads();
  }
  store_rows<HS>(dq, gq, d, b, h, t0, d.scale, d.scale);
}

template <class Kernel>
void launch_setup(Kernel kernel, size_t shared) {
  bc::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)),
            "cudaFuncSetAttribute(flash attention shared memory)");
}

Head head(const bc::AttentionDims& a) { return Head{a.B, a.T, a.nh, a.hs, a.scale, a.causal}; }

template <class T>
void launch_to_heads(const float* x, T* y, const Head& d) {
  const long long n = static_cast<long long>(d.B) * d.T * d.nh * d.hs;
  to_heads<T><<<bc::blocks_for(n / 4, 256), 256>>>(x, y, d);
  bc::check_launch("attention to_heads");
}

void launch_row_dots(const float* out, const float* g_out, float* delta, const Head& d) {
  const long long rows = static_cast<long long>(d.B) * d.T * d.nh;
  row_dots<<<bc::blocks_for(rows * 32, 256), 256>>>(out, g_out, delta, d);
  bc::check_launch("attention row_dots");
}

template <int HS, class T>
void forward(const void* q, const void* k, const void* v, float* out, float* lse, const Head& d) {
  const dim3 grid((d.T + kOwn - 1) / kOwn, d.B * d.nh);
  launch_setup(flash_forward<HS, T>, forward_shared<HS>());
  flash_forward<HS, T><<<grid, kThreads, forward_shared<HS>()>>>(static_cast<const T*>(q), static_cast<const T*>(k),
                                                                 static_cast<const T*>(v), out, lse, d);
  bc::check_launch("flash_forward");
}

template <int HS, class T>
void backward(const void* q, const void* k, const void* v, const float* out, const float* lse, const float* g_out,
              const void* g_out16, float* gq, float* gk, float* gv, const Head& d) {
  const T *q16 = static_cast<const T*>(q), *k16 = static_cast<const T*>(k), *v16 = static_cast<const T*>(v),
          *go16 = static_cast<const T*>(g_out16);
  const long long rows = static_cast<long long>(d.B) * d.T * d.nh;
  bc::Scratch delta(rows * sizeof(float));
  launch_row_dots(out, g_out, delta.as<float>(), d);
  const dim3 grid((d.T + kOwn - 1) / kOwn, d.B * d.nh);
  launch_setup(flash_backward_kv<HS, T>, backward_kv_shared<HS>());
  flash_backward_kv<HS, T><<<grid, kThreads, backward_kv_shared<HS>()>>>(q16, k16, v16, lse, delta.as<float>(), go16, gk, gv, d);
  bc::check_launch("flash_backward_kv");
  launch_setup(flash_backward_q<HS, T>, backward_q_shared<HS>());
  flash_backward_q<HS, T><<<grid, kThreads, backward_q_shared<HS>()>>>(q16, k16, v16, lse, delta.as<float>(), go16, gq, d);
  bc::check_launch("flash_backward_q");
}

}  // namespace

namespace bc {

bool flash_attention_supports(int hs) { return hs == 32 || hs == 64 || hs == 128; }

void attention_to_heads(const float* x, void* y, const AttentionDims& a) {
  if (a.fp16) launch_to_heads(x, static_cast<half*>(y), head(a));
  else launch_to_heads(x, static_cast<bf16*>(y), head(a));
}

void attention_row_dots(const float* out, const float* g_out, float* delta, const AttentionDims& a) {
  launch_row_dots(out, g_out, delta, head(a));
}

void flash_attention_forward(const FlashOperands& x, float* out, float* lse, const AttentionDims& a) {
  const Head d = head(a);
  if (a.fp16) {
    if (a.hs == 32) forward<32, half>(x.q, x.k, x.v, out, lse, d);
    else if (a.hs == 64) forward<64, half>(x.q, x.k, x.v, out, lse, d);
    else forward<128, half>(x.q, x.k, x.v, out, lse, d);
  } else {
    if (a.hs == 32) forward<32, bf16>(x.q, x.k, x.v, out, lse, d);
    else if (a.hs == 64) forward<64, bf16>(x.q, x.k, x.v, out, lse, d);
    else forward<128, bf16>(x.q, x.k, x.v, out, lse, d);
  }
}

void flash_attention_backward(const FlashOperands& x, const float* out, const float* lse, const float* g_out, const void* g_out16,
                              float* gq, float* gk, float* gv, const AttentionDims& a) {
  const Head d = head(a);
  if (a.fp16) {
    if (a.hs == 32) backward<32, half>(x.q, x.k, x.v, out, lse, g_out, g_out16, gq, gk, gv, d);
    else if (a.hs == 64) backward<64, half>(x.q, x.k, x.v, out, lse, g_out, g_out16, gq, gk, gv, d);
    else backward<128, half>(x.q, x.k, x.v, out, lse, g_out, g_out16, gq, gk, gv, d);
  } else {
    if (a.hs == 32) backward<32, bf16>(x.q, x.k, x.v, out, lse, g_out, g_out16, gq, gk, gv, d);
    else if (a.hs == 64) backward<64, bf16>(x.q, x.k, x.v, out, lse, g_out, g_out16, gq, gk, gv, d);
    else backward<128, bf16>(x.q, x.k, x.v, out, lse, g_out, g_out16, gq, gk, gv, d);
  }
}

}  // namespace bc
