// Packed GEMV / small-batch GEMM for OneBit (sign1) and BitNet b1.58 (ternary2) weights:
//   y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ), S (rows, cols) packed as src/onebit/packed.ts lays it out (row-major,
//   each row padded to whole bytes, codes least significant bit first; sign1: bit 1 = +1, bit 0 = -1;
//   ternary2: 0 -> 0, 1 -> +1, 2 -> -1, 3 (never written) -> 0).
// The codes live in an i32 storage (the bytes, four to an element; the addon's storages are 4-byte typed).
// Two kernels:
//   mma:    rows of a multiple of 16 bytes (every shape a model has): the bits summed against x ⊙ g in fixed point
//           on the int8 tensor cores, two instructions per four weights (see the section's comment).
//   simple: any row length, and whenever BITSCALE_ONEBIT_KERNEL=simple (a bypass, should the fast one fail):
//           one warp per row, each lane walks the row's code words (4 bytes when rows are 4-byte aligned, else
//           single bytes), turns each code into -1/0/+1 and accumulates w * x[c] * g[c] in fp32 for up to 8
//           batch vectors at once; a warp shuffle sums the lanes. x and g are re-read for every row, which is
//           what keeps it from memory speed (1.5% of memcpy at 8192², bench/onebit-gemv-cuda.ts).
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "block_reduce.cuh"
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
// Rows of a multiple of 16 bytes (every shape a model has). 8192² sign1 is 8 MB, ~2 µs of HBM: one block per
// SM has all its codes in flight from the start, and each bit costs a quarter of an instruction.
//
// Every bit of a row is a weight of 0 or 1 against an integer B (mma m16n8k32, u8 x s8 -> s32):
//   sign1:    bit q is column q with B = V[q]; the row's sum is 2 Σ bit·V − Σ V (so ±1 weights);
//   ternary2: bits 2c and 2c+1 are column c's code (b0, b1), with B = +V[c] and −V[c]: b0 − b1 is +1 for code 1,
//             −1 for code 2, 0 for codes 0 and 3;
//   padding:  V = 0.
// V is x ⊙ g in fixed point per chunk (64 code bytes of the row): V = rint(v · 2^22 / max |v|). A lane's A register
// is one bit position s of four code bytes, masked in place (word & 0x01010101 << s: one instruction, values 0 or
// 2^s), so B for bit s is V · 2^(7 − s), and every product is bit · V · 2^7. Its four balanced base-256 digits are
// four n columns of the mma: vector b takes columns 4b .. 4b + 3, a launch two vectors. Integer sums are exact;
// a chunk's sum leaves as fp32 through its scale max |v| / 2^29, so the result is within about 2^-23 max |v| per
// column of the exact product (an fp32 kernel: 2^-24 per add).
//
// B depends on x alone, so packed_gemv_stage computes it once per launch (a block per chunk) into a scratch
// buffer in fragment order; the product kernel starts as a programmatic dependent launch, issues its code loads,
// and waits for the staging only before it reads B. (One kernel whose first blocks stage for the others, a
// cooperative launch with ready flags, measured slower: its staging blocks then have a whole block's products
// after their staging. So did two blocks per SM of 2 tiles a warp at 64 registers, B read per mma pair: 8.2 against
// 7.6 µs at 8192² sign1 on an H200.)
//
// A lane (grp, t) holds, for each of its 16-row tiles, 16 code bytes (t's quarter of the chunk) of rows grp and
// grp + 8. For mma (q, s) (q = 0, 1 its word pair, s = 0 .. 7 a bit position) its A registers are bits s of the
// bytes of words 2q (k = 4t .. 4t + 3) and 2q + 1 (k = 16 + 4t ..).
constexpr int kMmaWarps = 16;
constexpr int kMmaThreads = kMmaWarps * 32;
constexpr int kChunkBytes = 64;                   // 4 lanes × 16 bytes of a row
constexpr int kChunkMmas = 8 * kChunkBytes / 32;  // m16n8k32 steps per chunk
constexpr int kDigits = 4;                        // base-256 digits of V · 2^(7 - s)
constexpr int kMmaMaxBatch = 8 / kDigits;         // vectors per launch
constexpr float kFixedRange = 4194304.0f;         // 2^22: |V| <= 2^22 + 1, |V · 2^7| < 2^30, top digit within ±33

// The staged B of one chunk: fragments [mma pair][lane] (mma 2i's b0, b1 then mma 2i + 1's: a warp loads a pair
// as 512 contiguous bytes), then the scale and sign1's digit sums per vector.
struct StagedChunk {
  uint4 b[kChunkMmas / 2][32];
  float scale[kMmaMaxBatch];          // max |v| / 2^29
  int offset[kMmaMaxBatch][kDigits];  // sign1: Σ digit of V · 2^7 (ternary2: 0)
  int pad[6];
};
static_assert(sizeof(StagedChunk) % 16 == 0, "chunks stay 16-byte aligned");

__device__ __forceinline__ void mma_u8s8(int (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// The four balanced base-256 digits of v (|v| < 2^30) as int8 bytes: u = v + 0x808080 has bytes 0 .. 2 equal to
// d_p + 128 (d_p in [-128, 127]) and top part d_3, so digit p's byte is byte p of u with its top bit flipped
// (p < 3) or byte 3 of u.
__device__ __forceinline__ uint32_t digit_bytes(int v) { return static_cast<uint32_t>(v + 0x808080) ^ 0x808080u; }
__device__ __forceinline__ int digit_value(uint32_t bytes, int p) {
  return static_cast<int>(static_cast<int8_t>((bytes >> (8 * p)) & 0xFFu));
}

// Staging, block c: a thread per column of the chunk for V (the block's max, the fixed point, sign1's digit sums),
// then a thread per fragment entry (lane (grp, t), mma (q, s)): digit grp % 4 of vector grp / 4 for bit s of chunk
// bytes 16t + 8q + i, i = 0 .. 7 (b0: i < 4, b1: i >= 4); zeros for n columns past 4 nb.
constexpr int kStageThreads = 8 * kChunkBytes;  // a thread per sign1 column of a chunk

template <bool kTernary>
__global__ void __launch_bounds__(kStageThreads) packed_gemv_stage(const float* __restrict__ g,
                                                                   const float* __restrict__ x, int cols, int nb,
                                                                   StagedChunk* __restrict__ staged) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");  // the product kernel may start its code loads
#endif
  constexpr int kChunkCols = kTernary ? 4 * kChunkBytes : 8 * kChunkBytes;
  constexpr int kWarps = kStageThreads / 32;
  __shared__ struct {
    int fixed[kMmaMaxBatch][kChunkCols];
    float maxima[kWarps];
    int sums[kWarps][kDigits];
  } sh;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, i = threadIdx.x, c = blockIdx.x;
  StagedChunk& out = staged[c];
  for (int b = 0; b < nb; b++) {
    const int col = c * kChunkCols + i;
    const float v = i < kChunkCols && col < cols ? x[b * cols + col] * g[col] : 0.0f;
    float m = warp_max(fabsf(v));
    if (lane == 0) sh.maxima[warp] = m;
    // Fixed point cannot carry inf or NaN (fmaxf even skips NaN): such a chunk's scale is NaN, so the vector's
    // outputs are NaN, as the fp32 product's would be non-finite.
    const bool finite = !__syncthreads_or(!isfinite(v));
    m = warp_max(lane < kWarps ? sh.maxima[lane] : 0.0f);
    const int f = finite ? __float2int_rn(v * (m > 0.0f ? kFixedRange / m : 0.0f)) : 0;
    if (i < kChunkCols) sh.fixed[b][i] = f;
    if (!kTernary) {
      const uint32_t d = digit_bytes(f * 128);
#pragma unroll
      for (int p = 0; p < kDigits; p++) {
        const int s = warp_sum(digit_value(d, p));
        if (lane == 0) sh.sums[warp][p] = s;
      }
    }
    __syncthreads();
    if (warp == 0) {
#pragma unroll
      for (int p = 0; p < kDigits; p++) {
        const int s = warp_sum(kTernary || lane >= kWarps ? 0 : sh.sums[lane][p]);
        if (lane == 0) out.offset[b][p] = s;
      }
      if (lane == 0) out.scale[b] = finite ? m / (kFixedRange * 128.0f) : __int_as_float(0x7fc00000);
    }
    __syncthreads();  // maxima and sums are written again for the next vector
  }
  for (int e = threadIdx.x; e < 32 * kChunkMmas; e += kStageThreads) {
    const int l = e % 32, mi = e / 32;
    const int grp = l >> 2, t = l & 3, b = grp / kDigits, p = grp % kDigits;
    const int q = mi >> 3, bit = mi & 7;
    uint32_t r[2] = {0u, 0u};
    if (b < nb)
#pragma unroll
      for (int k = 0; k < 8; k++) {
        const int byte = 16 * t + 8 * q + k;
        int f = sh.fixed[b][kTernary ? 4 * byte + (bit >> 1) : 8 * byte + bit];
        if (kTernary && (bit & 1)) f = -f;
        r[k >> 2] |= ((digit_bytes(f * (1 << (7 - bit))) >> (8 * p)) & 0xFFu) << (8 * (k & 3));
      }
    reinterpret_cast<uint2*>(&out.b[mi >> 1][l])[mi & 1] = make_uint2(r[0], r[1]);
  }
}

// Block layout: kw warps split a group's chunks (warp slot kc takes chunks kc, kc + kw, ...), rw = 16 / kw warps
// split its rows, kTiles 16-row tiles each; a group is 16 kTiles rw rows and blocks take groups blockIdx.x,
// + gridDim.x, ... Every warp loads its next tiles' codes before it computes the current ones (the first before
// it waits for the staging).
template <bool kTernary, int kTiles>
__global__ void __launch_bounds__(kMmaThreads, 1)
    packed_gemv_mma_kernel(const uint8_t* __restrict__ codes, const StagedChunk* __restrict__ staged,
                           const float* __restrict__ h, float* __restrict__ y, int rows, int row_bytes, int nb,
                           int kw) {
  __shared__ float partial[kMmaWarps * 16 * kTiles * 2];  // [kc][row of group][vector]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, grp = lane >> 2, t = lane & 3;
  const int rw = kMmaWarps / kw, kc = warp % kw, rs = warp / kw;
  const int n_chunks = (row_bytes + kChunkBytes - 1) / kChunkBytes;
  const int group_rows = 16 * kTiles * rw, n_groups = (rows + group_rows - 1) / group_rows;

  // Lane's 16 bytes of rows grp and grp + 8 of each tile: zeros past the row's end, the last row for rows past it.
  const auto load = [&](uint4 (&dst)[kTiles][2], int group, int c) {
    const int offset = c * kChunkBytes + 16 * t;
#pragma unroll
    for (int tile = 0; tile < kTiles; tile++)
#pragma unroll
      for (int half = 0; half < 2; half++) {
        const int row = min(group * group_rows + (rs * kTiles + tile) * 16 + grp + 8 * half, rows - 1);
        dst[tile][half] =
            offset < row_bytes
                ? __ldg(reinterpret_cast<const uint4*>(codes + static_cast<long long>(row) * row_bytes + offset))
                : make_uint4(0, 0, 0, 0);
      }
  };
  const bool has_b = grp < kDigits * nb;
  const int vec = t >> 1, p0 = 2 * (t & 1);  // the lane's n columns 2t, 2t + 1: digits p0, p0 + 1 of vector vec
  const bool live = vec < nb;
  // B of chunk c and its scale and offsets (sign1's sum is 2 Σ bit·V − Σ V).
  uint4 bq[kChunkMmas / 2];
  float scale;
  int off0, off1;
  // (Loads through L2: the staging wrote it moments ago, from other SMs.)
  const auto load_b = [&](int c) {
#pragma unroll
    for (int i = 0; i < kChunkMmas / 2; i++) bq[i] = has_b ? __ldcg(&staged[c].b[i][lane]) : make_uint4(0, 0, 0, 0);
    scale = live ? __ldcg(&staged[c].scale[vec]) : 0.0f;
    off0 = live && !kTernary ? __ldcg(&staged[c].offset[vec][p0]) : 0;
    off1 = live && !kTernary ? __ldcg(&staged[c].offset[vec][p0 + 1]) : 0;
  };
  const int f = kTernary ? 1 : 2;
  const float w0 = p0 == 0 ? 1.0f : 65536.0f, w1 = p0 == 0 ? 256.0f : 16777216.0f;  // 256^digit

  uint4 cur[kTiles][2];
  if (blockIdx.x < n_groups) load(cur, blockIdx.x, kc);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");  // the staging has finished and its writes are visible
#endif
  if (blockIdx.x < n_groups) load_b(kc);

  for (int group = blockIdx.x; group < n_groups; group += gridDim.x) {
    // h of the row this thread writes at the end (one row for the shapes of a model), loaded now.
    const int h_row = min(group * group_rows + static_cast<int>(threadIdx.x) / nb, rows - 1);
    const float h_early = __ldg(h + h_row);
    float sum[kTiles][2] = {};  // lanes t = 0 and 2: vectors 0 and 1 of rows grp and grp + 8
    for (int c = kc; c < n_chunks; c += kw) {
      int acc[kTiles][4] = {};
#pragma unroll
      for (int q = 0; q < 2; q++)
#pragma unroll
        for (int bit = 0; bit < 8; bit++) {
          const int mi = q * 8 + bit;
          const uint32_t b0 = (mi & 1) ? bq[mi >> 1].z : bq[mi >> 1].x, b1 = (mi & 1) ? bq[mi >> 1].w : bq[mi >> 1].y;
          const uint32_t mask = 0x01010101u << bit;
#pragma unroll
          for (int tile = 0; tile < kTiles; tile++) {
            const uint32_t* r0 = reinterpret_cast<const uint32_t*>(&cur[tile][0]);
            const uint32_t* r1 = reinterpret_cast<const uint32_t*>(&cur[tile][1]);
            mma_u8s8(acc[tile], r0[2 * q] & mask, r1[2 * q] & mask, r0[2 * q + 1] & mask, r1[2 * q + 1] & mask, b0,
                     b1);
          }
        }
      // The codes and B are spent: the warp's next item (the group's next chunk, else its first chunk of the next
      // group) loads into them while the sums below are formed.
      const float chunk_scale = scale;
      const int chunk_off0 = off0, chunk_off1 = off1;
      int next_c = c + kw, next_group = group;
      if (next_c >= n_chunks) next_c = kc, next_group = group + gridDim.x;
      if (next_group < n_groups) {
        load(cur, next_group, next_c);
        if (next_c != c) load_b(next_c);
      }
      // The chunk's integer sums to fp32: column n's f·acc − offset times 256^digit, a vector's four digits
      // added across the lane pair (t, t ^ 1), then the chunk's scale.
#pragma unroll
      for (int tile = 0; tile < kTiles; tile++)
#pragma unroll
        for (int half = 0; half < 2; half++) {
          float u = static_cast<float>(f * acc[tile][2 * half] - chunk_off0) * w0 +
                    static_cast<float>(f * acc[tile][2 * half + 1] - chunk_off1) * w1;
          // Digits 0, 1 at even t, 2, 3 at odd t: added in that order on both lanes.
          const float other = __shfl_xor_sync(0xffffffffu, u, 1);
          u = (t & 1) ? other + u : u + other;
          sum[tile][half] = fmaf(u, chunk_scale, sum[tile][half]);
        }
    }
    // Chunk slots meet in shared memory, added in a fixed order.
    if ((t & 1) == 0 && vec < nb)
#pragma unroll
      for (int tile = 0; tile < kTiles; tile++)
#pragma unroll
        for (int half = 0; half < 2; half++)
          partial[(kc * group_rows + (rs * kTiles + tile) * 16 + grp + 8 * half) * 2 + vec] = sum[tile][half];
    __syncthreads();
    for (int i = threadIdx.x; i < group_rows * nb; i += kMmaThreads) {
      const int r = i / nb, b = i % nb, row = group * group_rows + r;
      float s = 0.0f;
      for (int k = 0; k < kw; k++) s += partial[(k * group_rows + r) * 2 + b];
      if (row < rows) y[static_cast<long long>(b) * rows + row] = (row == h_row ? h_early : h[row]) * s;
    }
    __syncthreads();  // partial is written again by the next group
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

template <bool kTernary, int kTiles>
void launch_mma_tiles(const uint8_t* codes, const StagedChunk* staged, const float* h, float* y, int rows,
                      int row_bytes, int nb, int kw) {
  const int group_rows = 16 * kTiles * (kMmaWarps / kw), groups = (rows + group_rows - 1) / group_rows;
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(static_cast<unsigned>(groups < bc::sm_count() ? groups : bc::sm_count()));
  config.blockDim = dim3(kMmaThreads);
  cudaLaunchAttribute early;  // starts while the staging runs (griddepcontrol.wait guards B)
  early.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  early.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = &early;
  config.numAttrs = 1;
  bc::check(cudaLaunchKernelEx(&config, packed_gemv_mma_kernel<kTernary, kTiles>, codes, staged, h, y, rows,
                               row_bytes, nb, kw),
            "cudaLaunchKernelEx(packed gemv)");
}

// Stages B, then the product. // Chunk slots kw: a power of two up to 16 and the row's chunk count. Tiles per warp: the fewest tiles a block
// must walk, one block per SM (ties to more tiles: each B fragment then feeds more products).
template <bool kTernary>
void launch_mma(const uint8_t* codes, const float* g, const float* h, const float* x, float* y, int rows, int cols,
                int row_bytes, int nb, StagedChunk* staged) {
  const int n_chunks = (row_bytes + kChunkBytes - 1) / kChunkBytes;
  packed_gemv_stage<kTernary><<<n_chunks, kStageThreads>>>(g, x, cols, nb, staged);
  bc::check_launch("packedGemm (staging)");
  int kw = 1;
  while (kw * 2 <= kMmaWarps && kw * 2 <= n_chunks) kw *= 2;
  const long long tiles = (rows + 15) / 16, sms = bc::sm_count();
  int best = 4;
  long long best_walk = -1;
  for (int k : {4, 2, 1}) {
    const long long per_group = static_cast<long long>(k) * (kMmaWarps / kw);
    const long long walk = (tiles + per_group * sms - 1) / (per_group * sms) * per_group;
    if (best_walk < 0 || walk < best_walk) best = k, best_walk = walk;
  }
  if (best == 4)
    launch_mma_tiles<kTernary, 4>(codes, staged, h, y, rows, row_bytes, nb, kw);
  else if (best == 2)
    launch_mma_tiles<kTernary, 2>(codes, staged, h, y, rows, row_bytes, nb, kw);
  else
    launch_mma_tiles<kTernary, 1>(codes, staged, h, y, rows, row_bytes, nb, kw);
}

// Whether the mma kernel takes this shape: rows of a multiple of 16 bytes (and not BITSCALE_ONEBIT_KERNEL=simple).
bool use_mma(long long row_bytes) {
  const char* choice = std::getenv("BITSCALE_ONEBIT_KERNEL");
  if (choice && std::strcmp(choice, "simple") == 0) return false;
  return row_bytes % 16 == 0 && row_bytes <= (1LL << 24);
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
  const bool mma = use_mma(row_bytes);
  const int chunk = mma ? kMmaMaxBatch : kMaxBatch;
  // The staged B of a launch, in the allocator's cache (stream-ordered: the next launch's staging waits for this
  // launch's product).
  StagedChunk* staged = nullptr;
  if (mma)
    staged = static_cast<StagedChunk*>(bc::cache_alloc(sizeof(StagedChunk) * ((row_bytes + kChunkBytes - 1) / kChunkBytes)));
  for (long long b0 = 0; b0 < batch; b0 += chunk) {
    const int nb = static_cast<int>(batch - b0 < chunk ? batch - b0 : chunk);
    const float* xb = x + b0 * cols;
    float* yb = y + b0 * rows;
    const int r = static_cast<int>(rows), c = static_cast<int>(cols), rb = static_cast<int>(row_bytes);
    if (mma && ternary)
      launch_mma<true>(codes, g, h, xb, yb, r, c, rb, nb, staged);
    else if (mma)
      launch_mma<false>(codes, g, h, xb, yb, r, c, rb, nb, staged);
    else if (ternary)
      launch_simple<true>(codes, g, h, xb, yb, rows, cols, row_bytes, nb);
    else
      launch_simple<false>(codes, g, h, xb, yb, rows, cols, row_bytes, nb);
    bc::check_launch("packedGemm");
  }
  if (staged) bc::cache_free(staged);
  return nullptr;
}
