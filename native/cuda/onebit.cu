// Packed GEMV / small-batch GEMM for OneBit (sign1) and BitNet b1.58 (ternary2) weights:
//   y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ), S (rows, cols) packed as src/onebit/packed.ts lays it out (row-major,
//   each row padded to whole bytes, codes least significant bit first; sign1: bit 1 = +1, bit 0 = -1;
//   ternary2: 0 -> 0, 1 -> +1, 2 -> -1, 3 (never written) -> 0).
// The codes live in an i32 storage (the bytes, four to an element; the addon's storages are 4-byte typed).
// Written to be obviously correct: one warp per row, each lane walks the row's code words (4 bytes when rows
// are 4-byte aligned, else single bytes), turns each code into -1/0/+1 and accumulates w * x[c] * g[c] in
// fp32 for up to 8 batch vectors at once; a warp shuffle sums the lanes. x and g are re-read from L1/L2 for
// every row, which is what keeps this kernel from HBM speed on 1-bit weights (bench/onebit-gemv-cuda.ts
// measures how far).
#include <cstdint>

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

template <bool kTernary>
void launch(const uint8_t* codes, const float* g, const float* h, const float* x, float* y, long long rows,
            long long cols, long long row_bytes, int batch) {
  constexpr int kThreads = 256;  // 8 rows per block
  const unsigned blocks = static_cast<unsigned>((rows * 32 + kThreads - 1) / kThreads);
  if (row_bytes % 4 == 0)
    packed_gemv_kernel<kTernary, uint32_t><<<blocks, kThreads>>>(codes, g, h, x, y, rows, cols, row_bytes, batch);
  else
    packed_gemv_kernel<kTernary, uint8_t><<<blocks, kThreads>>>(codes, g, h, x, y, rows, cols, row_bytes, batch);
}

}  // namespace

// packedGemm(codes: i32 storage holding the packed bytes, g, h, x, y, rows, cols, batch, ternary)
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
  for (long long b0 = 0; b0 < batch; b0 += kMaxBatch) {
    const int nb = static_cast<int>(batch - b0 < kMaxBatch ? batch - b0 : kMaxBatch);
    if (ternary)
      launch<true>(codes, g, h, x + b0 * cols, y + b0 * rows, rows, cols, row_bytes, nb);
    else
      launch<false>(codes, g, h, x + b0 * cols, y + b0 * rows, rows, cols, row_bytes, nb);
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
