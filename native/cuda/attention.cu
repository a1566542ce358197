// Causal (or full) softmax attention, forward and backward, flash-style: scores are never stored. q, k, v,
// out: (B, T, nh, hs); lse: (B, nh, T). The fp32 kernels run on the CUDA cores:
//
// forward   one thread per query; key/value tiles staged in shared memory; online softmax (running max and
//           sum) so each key is read once per query tile.
// backward  FlashAttention-2's split: D = rowsum(gOut * out) (bc::attention_row_dots); one kernel owns key
//           rows and accumulates gk, gv over query tiles; another owns query rows and accumulates gq over key
//           tiles. No atomics, so the gradients are deterministic.
// With bf16/tf32 matmuls (the training setting) the products run on the tensor cores instead: the flash kernels
// of flash_attention.cu at head sizes 32, 64 and 128, and a cuBLASLt path (below) at other sizes. The fp16 mode
// takes the same two paths with half operands in place of bf16 (scores and softmax stay fp32). Where a bf16 or
// fp16 mode falls back to the fp32 kernels (other head sizes), q, k and v are rounded to the mode's type first,
// so attention in those modes always computes on rounded operands (the model relies on it: productsRound).
// Head sizes up to 128; registers hold HS-wide rows (HS = hs rounded up to 16, 32, 64 or 128, zero padded).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <initializer_list>
#include <optional>
#include <type_traits>

#include "block_reduce.cuh"
#include "common.cuh"
#include "flash_attention.cuh"
#include "round_half.cuh"

namespace {

constexpr int kRows = 64;   // queries (forward, gq) or keys (gk/gv) owned by one block: one per thread
constexpr int kTile = 32;   // rows of the other operand staged per step

struct Dims {
  int B, T, nh, hs;
  float scale;
  bool causal;
  __device__ long long row(int b, int t, int h) const { return ((static_cast<long long>(b) * T + t) * nh + h) * hs; }
  __device__ long long stat(int b, int h, int t) const { return (static_cast<long long>(b) * nh + h) * T + t; }
};

// Loads rows [r0, r0 + count) of head (b, h) of x into tile[count][stride] (zero padded past hs or T).
template <int HS>
__device__ inline void load_tile(const float* x, const Dims& d, int b, int h, int r0, int count, float* tile, int stride) {
  for (int e = threadIdx.x; e < count * HS; e += blockDim.x) {
    const int r = e / HS, i = e % HS, t = r0 + r;
    tile[r * stride + i] = (t < d.T && i < d.hs) ? x[d.row(b, t, h) + i] : 0.0f;
  }
}

template <int HS>
__global__ void attention_forward(const float* q, const float* k, const float* v, float* out, float* lse, Dims d) {
  extern __shared__ float smem[];
  float* ks = smem;               // [kTile][HS]
  float* vs = smem + kTile * HS;  // [kTile][HS]
  const int b = blockIdx.y / d.nh, h = blockIdx.y % d.nh;
  const int t0 = blockIdx.x * kRows, t = t0 + threadIdx.x;
  const bool valid = t < d.T;
  float qr[HS], acc[HS];
#pragma unroll
  for (int i = 0; i < HS; i++) {
    qr[i] = valid && i < d.hs ? q[d.row(b, t, h) + i] * d.scale : 0.0f;
    acc[i] = 0;
  }
  float m = -INFINITY, l = 0;
  const int end = d.causal ? min(d.T, t0 + kRows) : d.T;
  for (int s0 = 0; s0 < end; s0 += kTile) {
    __syncthreads();
    load_tile<HS>(k, d, b, h, s0, kTile, ks, HS);
    load_tile<HS>(v, d, b, h, s0, kTile, vs, HS);
    __syncthreads();
    if (!valid) continue;
    const int last = min(kTile, (d.causal ? t + 1 : d.T) - s0);
    for (int j = 0; j < last; j++) {
      float x = 0;
#pragma unroll
      for (int i = 0; i < HS; i++) x += qr[i] * ks[j * HS + i];
      if (x > m) {
        const float r = expf(m - x);  // 0 on the first key (m = -inf)
        l *= r;
#pragma unroll
        for (int i = 0; i < HS; i++) acc[i] *= r;
        m = x;
      }
      const float p = expf(x - m);
      l += p;
#pragma unroll
      for (int i = 0; i < HS; i++) acc[i] += p * vs[j * HS + i];
    }
  }
  if (!valid) return;
  const float inv = 1.0f / l;
#pragma unroll
  for (int i = 0; i < HS; i++)
    if (i < d.hs) out[d.row(b, t, h) + i] = acc[i] * inv;
  lse[d.stat(b, h, t)] = m + logf(l);
}

// One thread per key s: gk[s] = scale Σ_t ds_ts q_t, gv[s] = Σ_t p_ts gOut_t.
template <int HS>
__global__ void attention_backward_kv(const float* q, const float* k, const float* v, const float* lse, const float* delta,
                                      const float* g_out, float* gk, float* gv, Dims d) {
  extern __shared__ float smem[];
  constexpr int kPad = HS + 1;        // own-row reads by every thread: pad to dodge bank conflicts
  float* kown = smem;                 // [kRows][kPad]
  float* vown = kown + kRows * kPad;  // [kRows][kPad]
  float* qs = vown + kRows * kPad;    // [kTile][HS]
  float* gos = qs + kTile * HS;       // [kTile][HS]
  float* lses = gos + kTile * HS;     // [kTile]
  float* ds_ = lses + kTile;          // [kTile]
  const int b = blockIdx.y / d.nh, h = blockIdx.y % d.nh;
  const int s0 = blockIdx.x * kRows, s = s0 + threadIdx.x;
  const bool valid = s < d.T;
  load_tile<HS>(k, d, b, h, s0, kRows, kown, kPad);
  load_tile<HS>(v, d, b, h, s0, kRows, vown, kPad);
  float gkr[HS], gvr[HS];
#pragma unroll
  for (int i = 0; i < HS; i++) gkr[i] = gvr[i] = 0;
  const float* kr = kown + threadIdx.x * kPad;
  const float* vr = vown + threadIdx.x * kPad;
  const int first = d.causal ? (s0 / kTile) * kTile : 0;
  for (int t0 = first; t0 < d.T; t0 += kTile) {
    __syncthreads();
    load_tile<HS>(q, d, b, h, t0, kTile, qs, HS);
    load_tile<HS>(g_out, d, b, h, t0, kTile, gos, HS);
    for (int j = threadIdx.x; j < kTile; j += blockDim.x) {
      const int t = t0 + j;
      lses[j] = t < d.T ? lse[d.stat(b, h, t)] : INFINITY;  // exp(x - inf) = 0 for padding rows
      ds_[j] = t < d.T ? delta[d.stat(b, h, t)] : 0.0f;
    }
    __syncthreads();
    if (!valid) continue;
    for (int j = 0; j < kTile; j++) {
      const int t = t0 + j;
      if (d.causal && t < s) continue;
      float x = 0, dp = 0;
#pragma unroll
      for (int i = 0; i < HS; i++) {
        x += qs[j * HS + i] * kr[i];
        dp += gos[j * HS + i] * vr[i];
      }
      const float p = expf(x * d.scale - lses[j]);
      const float dsc = p * (dp - ds_[j]) * d.scale;
#pragma unroll
      for (int i = 0; i < HS; i++) {
        gvr[i] += p * gos[j * HS + i];
        gkr[i] += dsc * qs[j * HS + i];
      }
    }
  }
  if (!valid) return;
#pragma unroll
  for (int i = 0; i < HS; i++) {
    if (i >= d.hs) continue;
    gk[d.row(b, s, h) + i] = gkr[i];
    gv[d.row(b, s, h) + i] = gvr[i];
  }
}

// One thread per query t: gq[t] = scale Σ_s ds_ts k_s.
template <int HS>
__global__ void attention_backward_q(const float* q, const float* k, const float* v, const float* lse, const float* delta,
                                     const float* g_out, float* gq, Dims d) {
  extern __shared__ float smem[];
  constexpr int kPad = HS + 1;
  float* goown = smem;                 // [kRows][kPad]
  float* ks = goown + kRows * kPad;    // [kTile][HS]
  float* vs = ks + kTile * HS;         // [kTile][HS]
  const int b = blockIdx.y / d.nh, h = blockIdx.y % d.nh;
  const int t0 = blockIdx.x * kRows, t = t0 + threadIdx.x;
  const bool valid = t < d.T;
  load_tile<HS>(g_out, d, b, h, t0, kRows, goown, kPad);
  float qr[HS], gqr[HS];
#pragma unroll
  for (int i = 0; i < HS; i++) {
    qr[i] = valid && i < d.hs ? q[d.row(b, t, h) + i] : 0.0f;
    gqr[i] = 0;
  }
  const float l = valid ? lse[d.stat(b, h, t)] : 0.0f;
  const float D = valid ? delta[d.stat(b, h, t)] : 0.0f;
  const float* gor = goown + threadIdx.x * kPad;
  const int end = d.causal ? min(d.T, t0 + kRows) : d.T;
  for (int s0 = 0; s0 < end; s0 += kTile) {
    __syncthreads();
    load_tile<HS>(k, d, b, h, s0, kTile, ks, HS);
    load_tile<HS>(v, d, b, h, s0, kTile, vs, HS);
    __syncthreads();
    if (!valid) continue;
    const int last = min(kTile, (d.causal ? t + 1 : d.T) - s0);
    for (int j = 0; j < last; j++) {
      float x = 0, dp = 0;
#pragma unroll
      for (int i = 0; i < HS; i++) {
        x += qr[i] * ks[j * HS + i];
        dp += gor[i] * vs[j * HS + i];
      }
      const float p = expf(x * d.scale - l);
      const float dsc = p * (dp - D) * d.scale;
#pragma unroll
      for (int i = 0; i < HS; i++) gqr[i] += dsc * ks[j * HS + i];
    }
  }
  if (!valid) return;
#pragma unroll
  for (int i = 0; i < HS; i++)
    if (i < d.hs) gq[d.row(b, t, h) + i] = gqr[i];
}

template <class Kernel>
void allow_shared(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024) bc::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), "cudaFuncSetAttribute");
}

template <int HS>
void forward(const float* q, const float* k, const float* v, float* out, float* lse, const Dims& d) {
  const dim3 grid((d.T + kRows - 1) / kRows, d.B * d.nh);
  const size_t shared = 2 * kTile * HS * sizeof(float);
  allow_shared(attention_forward<HS>, shared);
  attention_forward<HS><<<grid, kRows, shared>>>(q, k, v, out, lse, d);
  bc::check_launch("attention_forward");
}

template <int HS>
void backward(const float* q, const float* k, const float* v, const float* lse, const float* delta, const float* g_out, float* gq,
              float* gk, float* gv, const Dims& d) {
  const dim3 grid((d.T + kRows - 1) / kRows, d.B * d.nh);
  const size_t kv_shared = (2 * kRows * (HS + 1) + 2 * kTile * HS + 2 * kTile) * sizeof(float);
  allow_shared(attention_backward_kv<HS>, kv_shared);
  attention_backward_kv<HS><<<grid, kRows, kv_shared>>>(q, k, v, lse, delta, g_out, gk, gv, d);
  bc::check_launch("attention_backward_kv");
  const size_t q_shared = (kRows * (HS + 1) + 2 * kTile * HS) * sizeof(float);
  allow_shared(attention_backward_q<HS>, q_shared);
  attention_backward_q<HS><<<grid, kRows, q_shared>>>(q, k, v, lse, delta, g_out, gq, d);
  bc::check_launch("attention_backward_q");
}


// The bf16/tf32/fp16 modes take the tensor-core flash kernels (flash_attention.cu) at the head sizes they cover;
// the fp16 mode's operands are half.
bool flash_path(const Dims& d) { return !bc::matmul_uses_fp32() && bc::flash_attention_supports(d.hs); }
bc::AttentionDims flash_dims(const Dims& d) {
  return bc::AttentionDims{d.B, d.T, d.nh, d.hs, d.scale, d.causal, bc::matmul_uses_fp16()};
}

// ---- cuBLASLt tensor-core path (bf16/tf32/fp16 matmul modes, head sizes without a flash kernel) ------------
// Scores materialized per (b, h) and multiplied on the tensor cores through cuBLASLt in bf16 (fp16 mode: half,
// type E below) with fp32 accumulation: S = Q Kᵀ (fp32), P = softmax(scale S) (E), O = P V; backward recomputes S, takes
// dP = dO Vᵀ, dS = P (dP − D) scale, and dQ = dS K, dK = dSᵀ Q, dV = Pᵀ dO. The causal half is computed and
// masked (the tensor cores are fast enough that the bytes of S, not its FLOPs, set the time).

// y (B, nh, T, hs) f32 -> x (B, T, nh, hs) f32
__global__ void from_heads(const float* y, float* x, Dims d) {
  const long long n = static_cast<long long>(d.B) * d.T * d.nh * d.hs;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int i = e % d.hs;
    const long long row = e / d.hs;
    const int h = row % d.nh, t = (row / d.nh) % d.T;
    const long long b = row / (static_cast<long long>(d.nh) * d.T);
    x[e] = y[(((b * d.nh + h) * d.T) + t) * d.hs + i];
  }
}

__device__ inline void round_to(float x, __nv_bfloat16* y) { *y = __float2bfloat16_rn(x); }
__device__ inline void round_to(float x, __half* y) { *y = __float2half_rn(x); }

// One block per score row r = (b h, t): P = exp(scale S - lse) (0 past t when causal), lse saved.
template <class E>
__global__ void scores_softmax(const float* S, E* P, float* lse, Dims d) {
  const long long r = blockIdx.x;
  const int t = r % d.T;
  const int last = d.causal ? t : d.T - 1;
  const float* s = S + r * d.T;
  float m = -INFINITY;
  for (int c = threadIdx.x; c <= last; c += blockDim.x) m = fmaxf(m, s[c] * d.scale);
  m = block_max(m, -INFINITY);
  float sum = 0;
  for (int c = threadIdx.x; c <= last; c += blockDim.x) sum += expf(s[c] * d.scale - m);
  sum = block_sum(sum);
  const float l = m + logf(sum);
  for (int c = threadIdx.x; c < d.T; c += blockDim.x) round_to(c <= last ? expf(s[c] * d.scale - l) : 0.0f, P + r * d.T + c);
  if (threadIdx.x == 0) lse[r] = l;  // r = (b nh + h) T + t: the (B, nh, T) layout
}

// One block per score row: P from S and lse, dS = P (dP − D) scale; both E for the next products.
template <class E>
__global__ void scores_backward(const float* S, const float* dP, const float* lse, const float* delta, E* P, E* dS, Dims d) {
  const long long r = blockIdx.x;
  const int t = r % d.T;
  const int last = d.causal ? t : d.T - 1;
  const float l = lse[r], D = delta[r];
  for (int c = threadIdx.x; c < d.T; c += blockDim.x) {
    const float p = c <= last ? expf(S[r * d.T + c] * d.scale - l) : 0.0f;
    round_to(p, P + r * d.T + c);
    round_to(p * (dP[r * d.T + c] - D) * d.scale, dS + r * d.T + c);
  }
}

bool tensor_core_path(const Dims& d) {
  const double score_bytes = static_cast<double>(d.B) * d.nh * d.T * d.T * 12;  // S + dP (fp32) + P + dS (16-bit)
  // cuBLASLt wants 16-byte aligned 16-bit rows (hs a multiple of 8); S must fit in a sane scratch budget.
  return !bc::matmul_uses_fp32() && d.hs % 8 == 0 && score_bytes <= 12.0 * (1 << 30);
}

// The products of the cuBLASLt path in the mode's 16-bit type E.
template <class E>
void gemm16(const void* a, const void* b, float* c, int batch, long long m, long long n, long long k, bool trans_a, bool trans_b,
            long long a_stride, long long b_stride) {
  if constexpr (std::is_same_v<E, __half>) bc::gemm_f16(a, b, c, batch, m, n, k, trans_a, trans_b, a_stride, b_stride, 1.0f, 0.0f);
  else bc::gemm_bf16(a, b, c, batch, m, n, k, trans_a, trans_b, a_stride, b_stride, 1.0f, 0.0f);
}

template <class E>
void forward_tc(const float* q, const float* k, const float* v, float* out, float* lse, const Dims& d) {
  const long long n = static_cast<long long>(d.B) * d.T * d.nh * d.hs, bh = static_cast<long long>(d.B) * d.nh;
  const long long hd = static_cast<long long>(d.T) * d.hs, tt = static_cast<long long>(d.T) * d.T;
  bc::Scratch q16(n * 2), k16(n * 2), v16(n * 2), S(bh * tt * 4), P(bh * tt * 2), O(n * 4);
  const unsigned g = bc::blocks_for(n, 256);
  bc::attention_to_heads(q, q16.ptr, flash_dims(d));
  bc::attention_to_heads(k, k16.ptr, flash_dims(d));
  bc::attention_to_heads(v, v16.ptr, flash_dims(d));
  gemm16<E>(q16.ptr, k16.ptr, S.as<float>(), bh, d.T, d.T, d.hs, false, true, hd, hd);
  scores_softmax<E><<<static_cast<unsigned>(bh * d.T), 256>>>(S.as<float>(), P.as<E>(), lse, d);
  bc::check_launch("attention scores_softmax");
  gemm16<E>(P.ptr, v16.ptr, O.as<float>(), bh, d.T, d.hs, d.T, false, false, tt, hd);
  from_heads<<<g, 256>>>(O.as<float>(), out, d);
  bc::check_launch("attention from_heads");
}

template <class E>
void backward_tc(const float* q, const float* k, const float* v, const float* lse, const float* delta, const float* g_out, float* gq,
                 float* gk, float* gv, const Dims& d) {
  const long long n = static_cast<long long>(d.B) * d.T * d.nh * d.hs, bh = static_cast<long long>(d.B) * d.nh;
  const long long hd = static_cast<long long>(d.T) * d.hs, tt = static_cast<long long>(d.T) * d.T;
  bc::Scratch q16(n * 2), k16(n * 2), v16(n * 2), go16(n * 2), S(bh * tt * 4), dP(bh * tt * 4), P(bh * tt * 2), dS(bh * tt * 2), G(n * 4);
  const unsigned g = bc::blocks_for(n, 256);
  bc::attention_to_heads(q, q16.ptr, flash_dims(d));
  bc::attention_to_heads(k, k16.ptr, flash_dims(d));
  bc::attention_to_heads(v, v16.ptr, flash_dims(d));
  bc::attention_to_heads(g_out, go16.ptr, flash_dims(d));
  gemm16<E>(q16.ptr, k16.ptr, S.as<float>(), bh, d.T, d.T, d.hs, false, true, hd, hd);    // S = Q Kᵀ
  gemm16<E>(go16.ptr, v16.ptr, dP.as<float>(), bh, d.T, d.T, d.hs, false, true, hd, hd);  // dP = dO Vᵀ
  scores_backward<E><<<static_cast<unsigned>(bh * d.T), 256>>>(S.as<float>(), dP.as<float>(), lse, delta, P.as<E>(), dS.as<E>(), d);
  bc::check_launch("attentionGrad scores_backward");
  gemm16<E>(P.ptr, go16.ptr, G.as<float>(), bh, d.T, d.hs, d.T, true, false, tt, hd);  // dV = Pᵀ dO
  from_heads<<<g, 256>>>(G.as<float>(), gv, d);
  gemm16<E>(dS.ptr, k16.ptr, G.as<float>(), bh, d.T, d.hs, d.T, false, false, tt, hd);  // dQ = dS K
  from_heads<<<g, 256>>>(G.as<float>(), gq, d);
  gemm16<E>(dS.ptr, q16.ptr, G.as<float>(), bh, d.T, d.hs, d.T, true, false, tt, hd);  // dK = dSᵀ Q
  from_heads<<<g, 256>>>(G.as<float>(), gk, d);
  bc::check_launch("attentionGrad from_heads");
}

Dims dims(const bc::Args& a, size_t first) {
  Dims d{};
  const long long B = a.integer(first, "B"), T = a.integer(first + 1, "T"), nh = a.integer(first + 2, "nh"), hs = a.integer(first + 3, "hs");
  if (hs < 1 || hs > 128) throw std::runtime_error("hs = " + std::to_string(hs) + " is not allowed; the cuda attention supports 1..128");
  if (B * nh > 65535) throw std::runtime_error("B * nh = " + std::to_string(B * nh) + " is not allowed; at most 65535");
  d.B = static_cast<int>(B);
  d.T = static_cast<int>(T);
  d.nh = static_cast<int>(nh);
  d.hs = static_cast<int>(hs);
  d.scale = static_cast<float>(a.num(first + 4, "scale"));
  d.causal = a.flag(first + 5, "causal");
  bc::op_context() = "attention(B=" + std::to_string(B) + ", T=" + std::to_string(T) + ", nh=" + std::to_string(nh) +
                     ", hs=" + std::to_string(hs) + (d.causal ? ", causal)" : ", full)");
  return d;
}

// The fp32 kernels' q, k, v in a bf16 / fp16 mode: copies rounded to the mode's type in `keep` (3n floats), as the
// tensor-core paths cast them; in the fp32 and tf32 modes, left as they are.
void round_operands(const float*& q, const float*& k, const float*& v, long long n, std::optional<bc::Scratch>& keep) {
  const int to = bc::matmul_uses_bf16() ? bc::kBF16 : bc::matmul_uses_fp16() ? bc::kF16 : bc::kF32;
  if (to == bc::kF32) return;
  keep.emplace(static_cast<size_t>(3 * n) * sizeof(float));
  float* copies = keep->as<float>();
  const float* src[3] = {q, k, v};
  for (int i = 0; i < 3; i++) round_copy(src[i], copies + i * n, n, to);
  bc::check_launch("attention round_operands");
  q = copies;
  k = copies + n;
  v = copies + 2 * n;
}

// An input storage's f32 values (the fp32 and cuBLASLt paths read these, the flash kernels its 16-bit copy).
const float* floats_of(const bc::Storage& s) { return static_cast<const float*>(s.ptr); }

// q, k or v: for the flash kernels, which read the 16-bit copy, its f32 values may stay pending.
bc::Storage& input_of(const bc::Args& a, size_t i, const char* name, long long n, bool flash) {
  return flash ? a.half_input(i, name, n) : a.f32_input(i, name, n);
}

// The flash kernels' 16-bit q, k, v: each storage's kept copy (bc::half_copy), made here where it has none. The
// forward's copies stay on the storages, so the backward finds them (the autograd keeps q, k, v unchanged).
bc::FlashOperands flash_operands(bc::Storage& q, bc::Storage& k, bc::Storage& v, long long n) {
  const bool fp16 = bc::matmul_uses_fp16();
  return {bc::half_copy(q, n, fp16, "attention q copy"), bc::half_copy(k, n, fp16, "attention k copy"),
          bc::half_copy(v, n, fp16, "attention v copy")};
}

// An output that is also an input got that input's 16-bit copy above, which its new values make stale.
void drop_outputs_copies(const bc::Args& a, std::initializer_list<size_t> outputs) {
  for (size_t i : outputs) bc::drop_shadow(a.lookup(i, "output"));
}

#define DISPATCH_HS(hs, F, ...)                     \
  do {                                              \
    if ((hs) <= 16) F<16>(__VA_ARGS__);             \
    else if ((hs) <= 32) F<32>(__VA_ARGS__);        \
    else if ((hs) <= 64) F<64>(__VA_ARGS__);        \
    else F<128>(__VA_ARGS__);                       \
  } while (0)

}  // namespace

// attention(q, k, v, out, lse, B, T, nh, hs, scale, causal)
BC_KERNEL(attention) {
  const Dims d = dims(a, 5);
  const long long n = static_cast<long long>(d.B) * d.T * d.nh * d.hs;
  float* out = a.out_f32(3, "out", n);
  float* lse = a.out_f32(4, "lse", static_cast<long long>(d.B) * d.nh * d.T);
  const bool flash = flash_path(d);
  bc::Storage &sq = input_of(a, 0, "q", n, flash), &sk = input_of(a, 1, "k", n, flash), &sv = input_of(a, 2, "v", n, flash);
  const float *q = floats_of(sq), *k = floats_of(sk), *v = floats_of(sv);
  if (n == 0) return nullptr;
  if (flash) {
    bc::flash_attention_forward(flash_operands(sq, sk, sv, n), out, lse, flash_dims(d));
    drop_outputs_copies(a, {3, 4});
  } else if (tensor_core_path(d) && bc::matmul_uses_fp16()) forward_tc<__half>(q, k, v, out, lse, d);
  else if (tensor_core_path(d)) forward_tc<__nv_bfloat16>(q, k, v, out, lse, d);
  else {
    std::optional<bc::Scratch> rounded;
    round_operands(q, k, v, n, rounded);
    DISPATCH_HS(d.hs, forward, q, k, v, out, lse, d);
  }
  return nullptr;
}

// attentionGrad(q, k, v, out, lse, gOut, gq, gk, gv, B, T, nh, hs, scale, causal)
BC_KERNEL(attentionGrad) {
  const Dims d = dims(a, 9);
  const long long n = static_cast<long long>(d.B) * d.T * d.nh * d.hs, stats = static_cast<long long>(d.B) * d.nh * d.T;
  float* gq = a.out_f32(6, "gq", n);
  float* gk = a.out_f32(7, "gk", n);
  float* gv = a.out_f32(8, "gv", n);
  const bool flash = flash_path(d);
  bc::Storage &sq = input_of(a, 0, "q", n, flash), &sk = input_of(a, 1, "k", n, flash), &sv = input_of(a, 2, "v", n, flash);
  bc::Storage& sg = a.f32_input(5, "gOut", n);  // the flash backward reads its f32 values as well as its copy
  const float *q = floats_of(sq), *k = floats_of(sk), *v = floats_of(sv), *g_out = floats_of(sg);
  const float* out = a.f32(3, "out", n);  // read, not written
  const float* lse = a.f32(4, "lse", stats);
  if (n == 0) return nullptr;
  if (flash) {
    const void* g_out16 = bc::half_copy(sg, n, bc::matmul_uses_fp16(), "attentionGrad gOut copy");
    bc::flash_attention_backward(flash_operands(sq, sk, sv, n), out, lse, g_out, g_out16, gq, gk, gv, flash_dims(d));
    drop_outputs_copies(a, {6, 7, 8});
    return nullptr;
  }
  bc::Scratch delta(stats * sizeof(float));
  bc::attention_row_dots(out, g_out, delta.as<float>(), flash_dims(d));
  if (tensor_core_path(d) && bc::matmul_uses_fp16()) backward_tc<__half>(q, k, v, lse, delta.as<float>(), g_out, gq, gk, gv, d);
  else if (tensor_core_path(d)) backward_tc<__nv_bfloat16>(q, k, v, lse, delta.as<float>(), g_out, gq, gk, gv, d);
  else {
    std::optional<bc::Scratch> rounded;
    round_operands(q, k, v, n, rounded);
    DISPATCH_HS(d.hs, backward, q, k, v, lse, delta.as<float>(), g_out, gq, gk, gv, d);
  }
  return nullptr;
}
