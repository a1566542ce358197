// Packed GEMV by table lookup (T-MAC / bitnet.cpp style), for sign1 and ternary2 codes alike: each 4-bit
// nibble of the codes is a group of weights (4 signs, or 2 ternary codes), and for each group the 16 possible
// partial sums of v = x ⊙ g are tabulated once per input vector. A row's product is then one table lookup per
// nibble; pshufb does 32 lookups (32 rows, one group) per AVX2 instruction, 64 with AVX-512 (used when the CPU
// has it, chosen at run time inside the AVX2 build; with VBMI, vpermb, which needs no nibble mask:
// BITSCALE_LUT_NO_VBMI=1 keeps pshufb, for the tests), so instructions per weight are few.
//
// Tables are int8: per block of kBlock code bytes (columns), scale s = max |table entry| / 127, entries
// round(T / s). Sums stay exact in integers within a block and are scaled into fp32 per block, so the result
// differs from the exact product by at most |h| * Σ_blocks s * (groups in block) / 2 (tests check this bound).
// Every path (portable, AVX2, AVX-512) does the same integer sums and the same fp32 operations in the same order:
// bit-identical output.
//
// Codes layout (tileCodes in src/onebit/gemv.ts): rows in tiles of 64; tile t, code byte j holds byte j of
// rows 64t .. 64t + 63, 64 bytes contiguous; rows past the end are zero. The AVX-512 paths walk four tiles at
// once, one in each quarter of the matrix (four read streams, each in order, prefetched ahead).
//
// A batch is taken kBatch vectors at a time: their tables are built, then each code load serves every one of
// them (the AVX-512 paths; the others run the vectors in turn over a tile that stays in cache). Each vector's
// sums and fp32 operations are those of a call with it alone: the same result, bit for bit.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernel.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace {

constexpr int kTile = 64;   // rows per tile: one AVX-512 pshufb's 64 lanes, two AVX2 ones
constexpr int kBlock = 32;  // code bytes per scale block: 32 * 2 * 127 fits the int16 sums
constexpr int kGroup = 4;         // tiles per pass of the AVX-512 paths
constexpr int kPrefetch = 2048;  // bytes ahead in each read stream that the AVX-512 paths prefetch
// Vectors per pass over the codes, and tiles per pass of the AVX-512 paths then: at 4096² batch 8 on one thread
// (Zen 4, VBMI), 4 vectors x 2 tiles took 0.26 ms, 8 x 1 0.28, 4 x 1 0.28, 2 x 4 0.30, 8 x 2 0.34, 4 x 4 0.33
// (8 GEMVs: 0.36); the lookups, not the reads, bound it, from cache and from DRAM alike. Tried and dropped: two
// code bytes per vpermb with vpdpbusd sums (indices by unpack_epi32 + vpmultishiftqb), 5% faster in cache, 20%
// slower from DRAM (one tile per pass: its 16 int32 accumulators per 4 vectors leave no registers for a second).
constexpr int kBatch = 4;
constexpr int kBatchGroup = 2;

// Value of a 2-bit ternary code: 0 -> 0, 1 -> +1, 2 -> -1, 3 (never written) -> 0.
constexpr float kTernary[4] = {0.0f, 1.0f, -1.0f, 0.0f};

// Coefficient of v[i] in table entry n of a group: sign1 bit i of n (1 -> +1, 0 -> -1); ternary2 the code of
// weight i (n & 3, n >> 2). Entries are ((c0 v0 + c1 v1) + c2 v2) + c3 v3: every product exact (c is 0 or ±1),
// so the AVX2 build (contracted or not) rounds exactly as the portable one.
inline float coefficient(bool ternary, int n, int i) {
  if (ternary) return kTernary[(n >> (2 * i)) & 3];
  return (n >> i) & 1 ? 1.0f : -1.0f;
}

// The tables of code bytes [j0, j1) (one scale block): for code byte j, 16 int8 for its low nibble's group then
// 16 for its high nibble's, and the block's scale. v holds x ⊙ g (zero past cols), per weights per nibble.
void build_block(const float* v, int64_t j0, int64_t j1, bool ternary, int8_t* tables, float* scale) {
  const int per = ternary ? 2 : 4;  // weights per nibble
  const int64_t groups = 2 * (j1 - j0);
  float t[2 * kBlock * 16];  // entries of the block's groups, 16 per group
  const float* vb = v + 2 * j0 * per;
  float m = 0.0f;
#ifdef __AVX2__
  __m256 c[4][2];
  for (int i = 0; i < per; i++)
    for (int half = 0; half < 2; half++) {
      alignas(32) float lane[8];
      for (int n = 0; n < 8; n++) lane[n] = coefficient(ternary, 8 * half + n, i);
      c[i][half] = _mm256_load_ps(lane);
    }
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 vmax = _mm256_setzero_ps();
  for (int64_t k = 0; k < groups; k++) {
    for (int half = 0; half < 2; half++) {
      __m256 e = _mm256_mul_ps(c[0][half], _mm256_set1_ps(vb[k * per]));
      for (int i = 1; i < per; i++) e = _mm256_add_ps(e, _mm256_mul_ps(c[i][half], _mm256_set1_ps(vb[k * per + i])));
      _mm256_storeu_ps(t + 16 * k + 8 * half, e);
      vmax = _mm256_max_ps(vmax, _mm256_and_ps(e, abs_mask));
    }
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  for (float l : lanes) m = std::max(m, l);
#else
  for (int64_t k = 0; k < groups; k++)
    for (int n = 0; n < 16; n++) {
      float e = coefficient(ternary, n, 0) * vb[k * per];
      for (int i = 1; i < per; i++) e = e + coefficient(ternary, n, i) * vb[k * per + i];
      t[16 * k + n] = e;
      m = std::max(m, std::fabs(e));
    }
#endif
  const float s = m > 0.0f ? m / 127.0f : 1.0f;
  const float inv = 1.0f / s;  // a multiply per entry, not a division (|t * inv| may round to 127.00001)
  *scale = s;
  int8_t* out = tables + 32 * j0;
  for (int64_t i = 0; i < 16 * groups; i++)
    out[i] = static_cast<int8_t>(std::max(-127.0f, std::min(127.0f, std::nearbyint(t[i] * inv))));
}

// One tile's 32 sums, scalar: acc[i] for row 32t + i.
void tile_scalar(const uint8_t* codes, int64_t bytes, const int8_t* tables, const float* scales, float* acc) {
  for (int i = 0; i < kTile; i++) acc[i] = 0.0f;
  for (int64_t b0 = 0, blk = 0; b0 < bytes; b0 += kBlock, blk++) {
    const int64_t b1 = std::min(bytes, b0 + kBlock);
    int32_t sums[kTile] = {0};
    for (int64_t j = b0; j < b1; j++) {
      const uint8_t* c = codes + j * kTile;
      const int8_t* lo = tables + j * 32;
      const int8_t* hi = lo + 16;
      for (int i = 0; i < kTile; i++) sums[i] += lo[c[i] & 15] + hi[c[i] >> 4];
    }
    for (int i = 0; i < kTile; i++) acc[i] = std::fma(scales[blk], static_cast<float>(sums[i]), acc[i]);
  }
}

#ifdef __AVX2__
// The same sums, a 64-row tile as two 32-byte halves. unpacklo/hi put row r's two lookups side by side so that
// maddubs (× 1) adds them into int16: in half k, s0 holds rows 0-7 | 16-23, s1 rows 8-15 | 24-31 (+ 32k).
void tile_avx2(const uint8_t* codes, int64_t bytes, const int8_t* tables, const float* scales, float* acc) {
  const __m256i low4 = _mm256_set1_epi8(15);
  const __m256i ones = _mm256_set1_epi8(1);
  __m256 f[2][4];
  for (int k = 0; k < 2; k++)
    for (int q = 0; q < 4; q++) f[k][q] = _mm256_setzero_ps();
  for (int64_t b0 = 0, blk = 0; b0 < bytes; b0 += kBlock, blk++) {
    const int64_t b1 = std::min(bytes, b0 + kBlock);
    __m256i s0[2], s1[2];
    for (int k = 0; k < 2; k++) s0[k] = s1[k] = _mm256_setzero_si256();
    for (int64_t j = b0; j < b1; j++) {
      const __m256i lo_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32)));
      const __m256i hi_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32 + 16)));
      for (int k = 0; k < 2; k++) {
        const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + j * kTile + 32 * k));
        const __m256i a = _mm256_shuffle_epi8(lo_t, _mm256_and_si256(c, low4));
        const __m256i b = _mm256_shuffle_epi8(hi_t, _mm256_and_si256(_mm256_srli_epi16(c, 4), low4));
        s0[k] = _mm256_add_epi16(s0[k], _mm256_maddubs_epi16(ones, _mm256_unpacklo_epi8(a, b)));
        s1[k] = _mm256_add_epi16(s1[k], _mm256_maddubs_epi16(ones, _mm256_unpackhi_epi8(a, b)));
      }
    }
    const __m256 s = _mm256_set1_ps(scales[blk]);
    for (int k = 0; k < 2; k++) {
      const __m256i parts[4] = {_mm256_cvtepi16_epi32(_mm256_castsi256_si128(s0[k])),       // rows 0-7
                                _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s1[k])),       // rows 8-15
                                _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s0[k], 1)),  // rows 16-23
                                _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s1[k], 1))}; // rows 24-31
      for (int q = 0; q < 4; q++) f[k][q] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(parts[q]), f[k][q]);
    }
  }
  for (int k = 0; k < 2; k++)
    for (int q = 0; q < 4; q++) _mm256_storeu_ps(acc + 32 * k + 8 * q, f[k][q]);
}

// The same sums, the whole 64-row tile per instruction, kTiles tiles side by side (`stride` bytes apart), for
// kVecs input vectors at once (vector w's tables at tables + w * table_stride, its scales at scales + w * blocks,
// its sums to acc + w * kTiles * 64): each code load feeds every vector's lookups, so a small batch reads the
// codes once, and each table broadcast feeds kTiles tiles. kTiles read streams keep more cache lines in flight
// from DRAM (dev/lut_variants.cc: 4 tiles beat 1, 2, 3 and 8, hot and cold), the more so with a software
// prefetch kPrefetch bytes ahead in each (from DRAM 5-15% faster than none at 4096² and 8192², 1024 bytes ahead
// a little less; in cache 0-5% slower). Lane L (of four 16-byte lanes)
// holds rows 16L .. 16L + 15; unpacklo/hi take each lane's first and last 8 rows. With AVX-512 VBMI the lookups
// are vpermb over the 16-byte table broadcast to all four lanes, i.e. entry i of a 64-entry table is entry
// i mod 16: vpermb reads an index's low 6 bits, so the bits above the nibble need no mask (two instructions of
// eleven fewer per code byte), and the sums are the same. Each vector's integer sums and fp32 operations are
// those of a call with that vector alone.
template <bool kVbmi, int kTiles, int kVecs>
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void tile_avx512(const uint8_t* codes, int64_t stride,
                                                                        int64_t bytes, const int8_t* tables,
                                                                        int64_t table_stride, const float* scales,
                                                                        float* acc) {
  const __m512i low4 = _mm512_set1_epi8(15);
  const __m512i ones = _mm512_set1_epi8(1);
  const int64_t blocks = (bytes + kBlock - 1) / kBlock;
  __m512 f[kVecs][kTiles][4];
  for (int w = 0; w < kVecs; w++)
    for (int u = 0; u < kTiles; u++)
      for (int q = 0; q < 4; q++) f[w][u][q] = _mm512_setzero_ps();
  for (int64_t b0 = 0, blk = 0; b0 < bytes; b0 += kBlock, blk++) {
    const int64_t b1 = std::min(bytes, b0 + kBlock);
    __m512i s0[kVecs][kTiles], s1[kVecs][kTiles];
    for (int w = 0; w < kVecs; w++)
      for (int u = 0; u < kTiles; u++) s0[w][u] = s1[w][u] = _mm512_setzero_si512();
    for (int64_t j = b0; j < b1; j++) {
      __m512i lo_t[kVecs], hi_t[kVecs];
      for (int w = 0; w < kVecs; w++) {
        const int8_t* t = tables + w * table_stride + j * 32;
        lo_t[w] = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
        hi_t[w] = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + 16)));
      }
      for (int u = 0; u < kTiles; u++) {
        const __m512i c = _mm512_loadu_si512(codes + u * stride + j * kTile);
        _mm_prefetch(reinterpret_cast<const char*>(codes + u * stride + j * kTile + kPrefetch), _MM_HINT_T0);
        for (int w = 0; w < kVecs; w++) {
          __m512i a, b;
          if (kVbmi) {
            a = _mm512_permutexvar_epi8(c, lo_t[w]);
            b = _mm512_permutexvar_epi8(_mm512_srli_epi16(c, 4), hi_t[w]);
          } else {
            a = _mm512_shuffle_epi8(lo_t[w], _mm512_and_si512(c, low4));
            b = _mm512_shuffle_epi8(hi_t[w], _mm512_and_si512(_mm512_srli_epi16(c, 4), low4));
          }
          s0[w][u] = _mm512_add_epi16(s0[w][u], _mm512_maddubs_epi16(ones, _mm512_unpacklo_epi8(a, b)));
          s1[w][u] = _mm512_add_epi16(s1[w][u], _mm512_maddubs_epi16(ones, _mm512_unpackhi_epi8(a, b)));
        }
      }
    }
    for (int w = 0; w < kVecs; w++) {
      const __m512 s = _mm512_set1_ps(scales[w * blocks + blk]);
      for (int u = 0; u < kTiles; u++) {
        const __m512i parts[4] = {_mm512_cvtepi16_epi32(_mm512_castsi512_si256(s0[w][u])),       // rows 0-7, 16-23
                                  _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s1[w][u])),       // rows 8-15, 24-31
                                  _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s0[w][u], 1)),  // rows 32-39, 48-55
                                  _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s1[w][u], 1))}; // rows 40-47, 56-63
        for (int q = 0; q < 4; q++) f[w][u][q] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(parts[q]), f[w][u][q]);
      }
    }
  }
  const int base[4] = {0, 8, 32, 40};
  for (int w = 0; w < kVecs; w++)
    for (int u = 0; u < kTiles; u++) {
      alignas(64) float out[4][16];
      for (int q = 0; q < 4; q++) _mm512_store_ps(out[q], f[w][u][q]);
      float* a = acc + (w * kTiles + u) * kTile;
      for (int q = 0; q < 4; q++)
        for (int i = 0; i < 16; i++) a[base[q] + (i < 8 ? i : 8 + i)] = out[q][i];
    }
}

// tile_avx512 for several vectors with VBMI: the unpack moves to the indices, which all vectors share. Row r's
// two lookups, side by side, are entries lo(r) and 16 + hi(r) of the code byte's 32 table bytes; one vpermb per
// half of the tile and vector gives what unpacklo/hi(a, b) give (index bits above bit 4 are ignored: the table is
// broadcast to both 32-byte halves, and vpermb reads 6 bits), so the sums are the same.
template <int kTiles, int kVecs>
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void tile_avx512_paired(const uint8_t* codes, int64_t stride,
                                                                               int64_t bytes, const int8_t* tables,
                                                                               int64_t table_stride,
                                                                               const float* scales, float* acc) {
  const __m512i low4 = _mm512_set1_epi8(15);
  const __m512i sixteen = _mm512_set1_epi8(16);
  const __m512i ones = _mm512_set1_epi8(1);
  const int64_t blocks = (bytes + kBlock - 1) / kBlock;
  alignas(64) float f[kVecs][kTiles][4][16] = {};
  for (int64_t b0 = 0, blk = 0; b0 < bytes; b0 += kBlock, blk++) {
    const int64_t b1 = std::min(bytes, b0 + kBlock);
    __m512i s0[kVecs][kTiles], s1[kVecs][kTiles];
    for (int w = 0; w < kVecs; w++)
      for (int u = 0; u < kTiles; u++) s0[w][u] = s1[w][u] = _mm512_setzero_si512();
    for (int64_t j = b0; j < b1; j++) {
      __m512i i0[kTiles], i1[kTiles];
      for (int u = 0; u < kTiles; u++) {
        const __m512i c = _mm512_loadu_si512(codes + u * stride + j * kTile);
        _mm_prefetch(reinterpret_cast<const char*>(codes + u * stride + j * kTile + kPrefetch), _MM_HINT_T0);
        const __m512i lo = _mm512_and_si512(c, low4);
        const __m512i hi = _mm512_or_si512(_mm512_srli_epi16(c, 4), sixteen);
        i0[u] = _mm512_unpacklo_epi8(lo, hi);
        i1[u] = _mm512_unpackhi_epi8(lo, hi);
      }
      const int8_t* t = tables + j * 32;
      for (int w = 0; w < kVecs; w++, t += table_stride) {
        const __m512i tw = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t)));
        for (int u = 0; u < kTiles; u++) {
          s0[w][u] = _mm512_add_epi16(s0[w][u], _mm512_maddubs_epi16(ones, _mm512_permutexvar_epi8(i0[u], tw)));
          s1[w][u] = _mm512_add_epi16(s1[w][u], _mm512_maddubs_epi16(ones, _mm512_permutexvar_epi8(i1[u], tw)));
        }
      }
    }
    for (int w = 0; w < kVecs; w++) {
      const __m512 s = _mm512_set1_ps(scales[w * blocks + blk]);
      for (int u = 0; u < kTiles; u++) {
        const __m512i parts[4] = {_mm512_cvtepi16_epi32(_mm512_castsi512_si256(s0[w][u])),
                                  _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s1[w][u])),
                                  _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s0[w][u], 1)),
                                  _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s1[w][u], 1))};
        for (int q = 0; q < 4; q++)
          _mm512_store_ps(f[w][u][q], _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(parts[q]), _mm512_load_ps(f[w][u][q])));
      }
    }
  }
  const int base[4] = {0, 8, 32, 40};
  for (int w = 0; w < kVecs; w++)
    for (int u = 0; u < kTiles; u++) {
      float* a = acc + (w * kTiles + u) * kTile;
      for (int q = 0; q < 4; q++)
        for (int i = 0; i < 16; i++) a[base[q] + (i < 8 ? i : 8 + i)] = f[w][u][q][i];
    }
}

// tile_avx512 for `vecs` (1 .. kVecs) vectors: the instance for exactly that many.
template <bool kVbmi, int kTiles, int kVecs>
void tile_avx512_vecs(int vecs, const uint8_t* codes, int64_t stride, int64_t bytes, const int8_t* tables,
                      int64_t table_stride, const float* scales, float* acc) {
  if constexpr (kVecs > 1)
    if (vecs < kVecs)
      return tile_avx512_vecs<kVbmi, kTiles, kVecs - 1>(vecs, codes, stride, bytes, tables, table_stride, scales, acc);
  if constexpr (kVbmi && kVecs > 1)
    tile_avx512_paired<kTiles, kVecs>(codes, stride, bytes, tables, table_stride, scales, acc);
  else
    tile_avx512<kVbmi, kTiles, kVecs>(codes, stride, bytes, tables, table_stride, scales, acc);
}

// k tiles (kGroup with one vector, kBatchGroup or 1 with several) for n vectors.
template <bool kVbmi>
void tiles_avx512(int k, int n, const uint8_t* codes, int64_t stride, int64_t bytes, const int8_t* tables,
                  int64_t table_stride, const float* scales, float* acc) {
  if (k == kGroup)
    tile_avx512<kVbmi, kGroup, 1>(codes, stride, bytes, tables, table_stride, scales, acc);
  else if (k == kBatchGroup)
    tile_avx512_vecs<kVbmi, kBatchGroup, kBatch>(n, codes, stride, bytes, tables, table_stride, scales, acc);
  else
    tile_avx512_vecs<kVbmi, 1, kBatch>(n, codes, stride, bytes, tables, table_stride, scales, acc);
}

// build_block with one group's 16 entries per instruction (AVX-512): the same fp32 operations (products by 0 or
// ±1 are exact, so an FMA rounds as the multiply-then-add), the same max, the same rounding (cvtps2dq rounds to
// nearest even, as nearbyint does): the same tables. It was a third of a 4096-column call's fixed cost.
__attribute__((target("avx512f,avx512bw"))) void build_block_avx512(const float* v, int64_t j0, int64_t j1,
                                                                     bool ternary, int8_t* tables, float* scale) {
  const int per = ternary ? 2 : 4;
  const int64_t groups = 2 * (j1 - j0);
  alignas(64) float t[2 * kBlock * 16];
  const float* vb = v + 2 * j0 * per;
  __m512 c[4];
  for (int i = 0; i < per; i++) {
    alignas(64) float lane[16];
    for (int n = 0; n < 16; n++) lane[n] = coefficient(ternary, n, i);
    c[i] = _mm512_load_ps(lane);
  }
  __m512 vmax = _mm512_setzero_ps();
  for (int64_t k = 0; k < groups; k++) {
    __m512 e = _mm512_mul_ps(c[0], _mm512_set1_ps(vb[k * per]));
    for (int i = 1; i < per; i++) e = _mm512_fmadd_ps(c[i], _mm512_set1_ps(vb[k * per + i]), e);
    _mm512_store_ps(t + 16 * k, e);
    vmax = _mm512_max_ps(vmax, _mm512_abs_ps(e));
  }
  const float m = _mm512_reduce_max_ps(vmax);
  const float s = m > 0.0f ? m / 127.0f : 1.0f;
  *scale = s;
  const __m512 inv = _mm512_set1_ps(1.0f / s), hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
  int8_t* out = tables + 32 * j0;
  for (int64_t k = 0; k < groups; k++) {
    const __m512 q = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_mul_ps(_mm512_load_ps(t + 16 * k), inv)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * k), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(q)));
  }
}

bool has_avx512vbmi() {
  static const bool yes = __builtin_cpu_supports("avx512vbmi");
  return yes;
}

bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return yes;
}
#endif

// f(0), .., f(n - 1), across the team when there is one; with one thread, no OpenMP region at all (entering one,
// even with if(false), cost a 4096-column GEMV a quarter of its fixed time here: team set-up, malloc, futexes).
template <class F>
void for_each(int64_t n, int team, const F& f) {
  if (team > 1) {
#pragma omp parallel for schedule(static) num_threads(team)
    for (int64_t i = 0; i < n; i++) f(i);
  } else {
    for (int64_t i = 0; i < n; i++) f(i);
  }
}

}  // namespace

// packedLutGemm(tiled, g, h, x, y, rows, cols, batch, ternary[, noAvx512]): y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ)
// with S packed sign1 (ternary false) or ternary2 (true), its codes in the tile layout above
// (ceil(rows / 64) * 64 * bytesPerRow bytes), by int8 table lookup. noAvx512 (tests) keeps the AVX2 path.
BITSCALE_KERNEL(packedLutGemm) {
  const int64_t rows = a.integer(5, "rows"), cols = a.integer(6, "cols"), batch = a.integer(7, "batch");
  const bool ternary = a.flag(8, "ternary");
  const int per_byte = ternary ? 4 : 8;
  const int64_t bytes = (cols + per_byte - 1) / per_byte;
  const int64_t tiles = (rows + kTile - 1) / kTile;
  const bitscale::View codes = a.view(0, "tiled");
  if (codes.type != napi_uint8_array) throw std::runtime_error("argument 0 (tiled): expected a Uint8Array");
  if (static_cast<int64_t>(codes.length) < tiles * kTile * bytes)
    throw std::runtime_error("argument 0 (tiled): " + std::to_string(codes.length) + " bytes, ceil(rows / 64) * 64 * " +
                             std::to_string(bytes) + " = " + std::to_string(tiles * kTile * bytes) + " needed");
  const float* g = a.f32(1, "g", cols);
  const float* h = a.f32(2, "h", rows);
  const float* x = a.f32(3, "x", batch * cols);
  float* y = a.f32(4, "y", batch * rows);
#ifdef __AVX2__
  const bool wide = has_avx512() && !(a.size() > 9 && a.flag(9, "noAvx512"));
  const bool vbmi = wide && has_avx512vbmi() && !std::getenv("BITSCALE_LUT_NO_VBMI");
#endif
  if (rows == 0 || batch == 0) return;
  const auto* bits = static_cast<const uint8_t*>(codes.data);
  const int64_t blocks = (bytes + kBlock - 1) / kBlock;
  const int64_t padded = bytes * per_byte;  // v's length per vector: whole code bytes, zero past cols
  // Scratch kept per calling thread across calls (a GEMV per layer per token: no allocation, no fresh pages each
  // time); plain references, so that the OpenMP workers below see the caller's buffers, not their own.
  thread_local std::vector<float> v_scratch, scales_scratch;
  thread_local std::vector<int8_t> tables_scratch;
  std::vector<float>& v = v_scratch;
  std::vector<float>& scales = scales_scratch;
  std::vector<int8_t>& tables = tables_scratch;
  const int chunk = static_cast<int>(std::min<int64_t>(batch, kBatch));
  v.assign(chunk * padded, 0.0f);
  tables.resize(chunk * bytes * 32);
  scales.resize(chunk * blocks);
  const int team = rows * cols >= bitscale::kParallelGrain ? bitscale::threads() : 1;
  const int64_t stride = kTile * bytes;
  for (int64_t b = 0; b < batch;) {
    // The next (up to) `chunk` vectors whose x ⊙ g is finite, into v's slots. int8 tables cannot carry inf or NaN
    // (they would come out as finite numbers): a vector that has one gets NaN outputs, and no slot.
    int64_t which[kBatch];
    int n = 0;
    for (; b < batch && n < chunk; b++) {
      float* vn = v.data() + n * padded;
      bool finite = true;
      for (int64_t c = 0; c < cols; c++) {
        vn[c] = x[b * cols + c] * g[c];
        finite = finite && std::isfinite(vn[c]);
      }
      if (finite)
        which[n++] = b;
      else
        std::fill(y + b * rows, y + (b + 1) * rows, std::nanf(""));
    }
    if (n == 0) break;
    for_each(n * blocks, team, [&](int64_t i) {
      const int64_t w = i / blocks, blk = i % blocks;
      const int64_t j0 = blk * kBlock, j1 = std::min(bytes, (blk + 1) * kBlock);
      const float* vw = v.data() + w * padded;
      int8_t* tw = tables.data() + w * bytes * 32;
#ifdef __AVX2__
      if (wide) {
        build_block_avx512(vw, j0, j1, ternary, tw, &scales[w * blocks + blk]);
        return;
      }
#endif
      build_block(vw, j0, j1, ternary, tw, &scales[w * blocks + blk]);
    });
    // The AVX-512 paths take `group` tiles at a time, one from each of `group` parts of the matrix (tiles i,
    // i + P, .. for P = tiles / group), so that each of their read streams runs through its part in order, and
    // all n vectors' lookups per code load; the tiles past group * P go one at a time. The other paths take one
    // tile at a time and each vector in turn (the tile's codes stay in L1/L2 between them).
#ifdef __AVX2__
    const int group = n == 1 ? kGroup : kBatchGroup;
    const int64_t part = wide ? tiles / group : 0;
#else
    const int group = 1;
    const int64_t part = 0;
#endif
    for_each(tiles - (group - 1) * part, team, [&](int64_t i) {
      const bool grouped = i < part;
      const int64_t first = grouped ? i : i + (group - 1) * part, step = grouped ? part : 1;
      const int k = grouped ? group : 1;
      const uint8_t* tile = bits + first * stride;
      float acc[kBatch * kGroup * kTile];
#ifdef __AVX2__
      if (wide) {
        if (vbmi)
          tiles_avx512<true>(k, n, tile, step * stride, bytes, tables.data(), bytes * 32, scales.data(), acc);
        else
          tiles_avx512<false>(k, n, tile, step * stride, bytes, tables.data(), bytes * 32, scales.data(), acc);
      } else {
        for (int w = 0; w < n; w++)
          tile_avx2(tile, bytes, tables.data() + w * bytes * 32, scales.data() + w * blocks, acc + w * kTile);
      }
#else
      for (int w = 0; w < n; w++)
        tile_scalar(tile, bytes, tables.data() + w * bytes * 32, scales.data() + w * blocks, acc + w * kTile);
#endif
      for (int w = 0; w < n; w++)
        for (int u = 0; u < k; u++) {
          const int64_t r0 = (first + u * step) * kTile, r1 = std::min(rows, r0 + kTile);
          const float* a = acc + (w * k + u) * kTile - r0;
          float* yw = y + which[w] * rows;
          for (int64_t r = r0; r < r1; r++) yw[r] = h[r] * a[r];
        }
    });
  }
}
