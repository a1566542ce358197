// Sandbox: inner-loop variants of the table-lookup GEMV (onebit_lut.cc), on random codes and int8 tables, hot
// (one matrix again and again) and cold (a pool of copies past the last-level cache). Checks each variant's
// integer block sums against a scalar reference, then times it.
// Build: g++ -O3 -march=native lut_variants.cc -o /tmp/lut_variants && /tmp/lut_variants 8192
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
constexpr int kTile = 64, kBlock = 32;
static int64_t g_dist = 0;  // software prefetch distance in bytes (0: none)
template <bool kShuf>
inline __m512i look_(__m512i c, __m512i t, bool hi) {
  if (hi) c = _mm512_srli_epi16(c, 4);
  if (kShuf) return _mm512_shuffle_epi8(t, _mm512_and_si512(c, _mm512_set1_epi8(15)));
  return _mm512_permutexvar_epi8(c, t);
}
#define look look_<kShuf>

// V0: today's kernel (tile layout: tile t, byte j = 64 rows' byte j), tables ±127, 16 lo then 16 hi per byte.
template <bool kShuf>
__attribute__((noinline)) void v0(const uint8_t* codes, int64_t bytes, const int8_t* tables, const float* scales, float* acc) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512 f[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t b0 = 0, blk = 0; b0 < bytes; b0 += kBlock, blk++) {
    const int64_t b1 = std::min(bytes, b0 + kBlock);
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    for (int64_t j = b0; j < b1; j++) {
      const __m512i c = _mm512_loadu_si512(codes + j * kTile);
      if (g_dist) _mm_prefetch(reinterpret_cast<const char*>(codes + j * kTile + g_dist), _MM_HINT_T0);
      const __m512i lo_t = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32)));
      const __m512i hi_t = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32 + 16)));
      __m512i a = look(c, lo_t, false), b = look(c, hi_t, true);
      s0 = _mm512_add_epi16(s0, _mm512_maddubs_epi16(ones, _mm512_unpacklo_epi8(a, b)));
      s1 = _mm512_add_epi16(s1, _mm512_maddubs_epi16(ones, _mm512_unpackhi_epi8(a, b)));
    }
    const __m512 s = _mm512_set1_ps(scales[blk]);
    const __m512i parts[4] = {_mm512_cvtepi16_epi32(_mm512_castsi512_si256(s0)), _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s1)),
                              _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s0, 1)), _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s1, 1))};
    for (int q = 0; q < 4; q++) f[q] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(parts[q]), f[q]);
  }
  alignas(64) float out[4][16];
  for (int q = 0; q < 4; q++) _mm512_store_ps(out[q], f[q]);
  const int base[4] = {0, 8, 32, 40};
  for (int q = 0; q < 4; q++)
    for (int i = 0; i < 16; i++) acc[base[q] + (i < 8 ? i : 8 + i)] = out[q][i];
}

// P1: same layout, tables biased: entry + 64 with entries in ±63 (uint8 1..127), so a + b (+128) fits a byte;
// words W += x, O += x >> 8 (odd rows), even rows = W - 256 O.
template <bool kShuf>
__attribute__((noinline)) void p1(const uint8_t* codes, int64_t bytes, const int8_t* tables, const float* scales, float* acc) {
  __m512 f[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t b0 = 0, blk = 0; b0 < bytes; b0 += kBlock, blk++) {
    const int64_t b1 = std::min(bytes, b0 + kBlock);
    __m512i w = _mm512_setzero_si512(), o = _mm512_setzero_si512();
    __m512i w2 = _mm512_setzero_si512(), o2 = _mm512_setzero_si512();
    int64_t j = b0;
    for (; j + 1 < b1; j += 2) {
      const __m512i c = _mm512_loadu_si512(codes + j * kTile);
      const __m512i lo_t = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32)));
      const __m512i hi_t = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32 + 16)));
      const __m512i x = _mm512_add_epi8(look(c, lo_t, false), look(c, hi_t, true));
      w = _mm512_add_epi16(w, x);
      o = _mm512_add_epi16(o, _mm512_srli_epi16(x, 8));
      const __m512i c2 = _mm512_loadu_si512(codes + (j + 1) * kTile);
      const __m512i lo_t2 = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32 + 32)));
      const __m512i hi_t2 = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32 + 48)));
      const __m512i x2 = _mm512_add_epi8(look(c2, lo_t2, false), look(c2, hi_t2, true));
      w2 = _mm512_add_epi16(w2, x2);
      o2 = _mm512_add_epi16(o2, _mm512_srli_epi16(x2, 8));
    }
    for (; j < b1; j++) {
      const __m512i c = _mm512_loadu_si512(codes + j * kTile);
      const __m512i lo_t = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32)));
      const __m512i hi_t = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32 + 16)));
      const __m512i x = _mm512_add_epi8(look(c, lo_t, false), look(c, hi_t, true));
      w = _mm512_add_epi16(w, x);
      o = _mm512_add_epi16(o, _mm512_srli_epi16(x, 8));
    }
    w = _mm512_add_epi16(w, w2);
    o = _mm512_add_epi16(o, o2);
    const __m512i even = _mm512_sub_epi16(w, _mm512_slli_epi16(o, 8));  // rows 0, 2, .. 62
    const __m512i bias = _mm512_set1_epi32(128 * static_cast<int>(b1 - b0));
    const __m512 s = _mm512_set1_ps(scales[blk]);
    const __m512i parts[4] = {_mm512_cvtepu16_epi32(_mm512_castsi512_si256(even)), _mm512_cvtepu16_epi32(_mm512_castsi512_si256(o)),
                              _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(even, 1)), _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(o, 1))};
    for (int q = 0; q < 4; q++) f[q] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(_mm512_sub_epi32(parts[q], bias)), f[q]);
  }
  alignas(64) float out[4][16];
  for (int q = 0; q < 4; q++) _mm512_store_ps(out[q], f[q]);
  // part 0: rows 0,2,..,30; part 1: rows 1,3,..,31; part 2: 32,34..; part 3: 33,35..
  for (int q = 0; q < 4; q++)
    for (int i = 0; i < 16; i++) acc[32 * (q >> 1) + 2 * i + (q & 1)] = out[q][i];
}

// P2: quad layout: tile t (64 rows), quad Q (code bytes 4Q..4Q+3), group G (16 rows): 64 bytes, byte 4i + q =
// byte 4Q + q of row 64t + 16G + i. Tables per quad: 64 lo bytes (4 tables of 16) then 64 hi. vpermb index
// nibble + 16q; vpdpbusd with ones sums a row's 4 lookups into int32.
__attribute__((noinline)) void p2(const uint8_t* codes, int64_t bytes, const int8_t* tables, const float* scales, float* acc) {
  const __m512i ones = _mm512_set1_epi8(1), m = _mm512_set1_epi8(15);
  const __m512i qoff = _mm512_set1_epi32(0x30201000);
  __m512 f[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  const int64_t quads = bytes / 4;
  for (int64_t q0 = 0, blk = 0; q0 < quads; q0 += kBlock / 4, blk++) {
    const int64_t q1 = std::min(quads, q0 + kBlock / 4);
    __m512i sa[4], sb[4];
    for (int g = 0; g < 4; g++) sa[g] = sb[g] = _mm512_setzero_si512();
    for (int64_t q = q0; q < q1; q++) {
      const __m512i lo_t = _mm512_loadu_si512(tables + q * 128), hi_t = _mm512_loadu_si512(tables + q * 128 + 64);
      for (int g = 0; g < 4; g++) {
        const __m512i c = _mm512_loadu_si512(codes + (q * 4 + g) * 64);
        const __m512i il = _mm512_ternarylogic_epi32(c, m, qoff, 0xEA);  // (c & m) | qoff
        const __m512i ih = _mm512_ternarylogic_epi32(_mm512_srli_epi16(c, 4), m, qoff, 0xEA);
        sa[g] = _mm512_dpbusd_epi32(sa[g], ones, _mm512_permutexvar_epi8(il, lo_t));
        sb[g] = _mm512_dpbusd_epi32(sb[g], ones, _mm512_permutexvar_epi8(ih, hi_t));
      }
    }
    const __m512 s = _mm512_set1_ps(scales[blk]);
    for (int g = 0; g < 4; g++) f[g] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(_mm512_add_epi32(sa[g], sb[g])), f[g]);
  }
  for (int g = 0; g < 4; g++) _mm512_storeu_ps(acc + 16 * g, f[g]);
}

// Multi-tile: NT tiles side by side per code byte j, so each table broadcast feeds NT tiles (loads were the
// limit: one code load and two table loads per 64 code bytes). kP1: P1 sums (biased ±63 tables), else v0 sums.
static int g_floor = 0;  // 1: lookups only (xor-accumulated), to see what the combine costs
template <int NT, bool kP1, bool kWide = false>
__attribute__((noinline)) void multi(const uint8_t* codes, int64_t stride, int64_t bytes, const int8_t* tables, const float* scales, float* acc) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512 f[NT][4];
  for (int u = 0; u < NT; u++)
    for (int q = 0; q < 4; q++) f[u][q] = _mm512_setzero_ps();
  for (int64_t b0 = 0, blk = 0; b0 < bytes; b0 += kBlock, blk++) {
    const int64_t b1 = std::min(bytes, b0 + kBlock);
    __m512i s0[NT], s1[NT];
    for (int u = 0; u < NT; u++) s0[u] = s1[u] = _mm512_setzero_si512();
    for (int64_t j = b0; j < b1; j++) {
      const __m512i lo_t = kWide ? _mm512_loadu_si512(tables + j * 128) : _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32)));
      const __m512i hi_t = kWide ? _mm512_loadu_si512(tables + j * 128 + 64) : _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + j * 32 + 16)));
      for (int u = 0; u < NT; u++) {
        const __m512i c = _mm512_loadu_si512(codes + u * stride + j * kTile);
        const __m512i a = _mm512_permutexvar_epi8(c, lo_t), b = _mm512_permutexvar_epi8(_mm512_srli_epi16(c, 4), hi_t);
        if (g_floor) {
          s0[u] = _mm512_xor_si512(s0[u], a);
          s1[u] = _mm512_xor_si512(s1[u], b);
        } else if (kP1) {
          const __m512i x = _mm512_add_epi8(a, b);
          s0[u] = _mm512_add_epi16(s0[u], x);
          s1[u] = _mm512_add_epi16(s1[u], _mm512_srli_epi16(x, 8));
        } else {
          s0[u] = _mm512_add_epi16(s0[u], _mm512_maddubs_epi16(ones, _mm512_unpacklo_epi8(a, b)));
          s1[u] = _mm512_add_epi16(s1[u], _mm512_maddubs_epi16(ones, _mm512_unpackhi_epi8(a, b)));
        }
      }
    }
    const __m512 s = _mm512_set1_ps(scales[blk]);
    for (int u = 0; u < NT; u++) {
      if (kP1) {
        const __m512i even = _mm512_sub_epi16(s0[u], _mm512_slli_epi16(s1[u], 8));
        const __m512i bias = _mm512_set1_epi32(128 * static_cast<int>(b1 - b0));
        const __m512i parts[4] = {_mm512_cvtepu16_epi32(_mm512_castsi512_si256(even)), _mm512_cvtepu16_epi32(_mm512_castsi512_si256(s1[u])),
                                  _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(even, 1)), _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(s1[u], 1))};
        for (int q = 0; q < 4; q++) f[u][q] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(_mm512_sub_epi32(parts[q], bias)), f[u][q]);
      } else {
        const __m512i parts[4] = {_mm512_cvtepi16_epi32(_mm512_castsi512_si256(s0[u])), _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s1[u])),
                                  _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s0[u], 1)), _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s1[u], 1))};
        for (int q = 0; q < 4; q++) f[u][q] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(parts[q]), f[u][q]);
      }
    }
  }
  for (int u = 0; u < NT; u++) {
    alignas(64) float out[4][16];
    for (int q = 0; q < 4; q++) _mm512_store_ps(out[q], f[u][q]);
    float* a = acc + u * kTile;
    if (kP1) {
      for (int q = 0; q < 4; q++)
        for (int i = 0; i < 16; i++) a[32 * (q >> 1) + 2 * i + (q & 1)] = out[q][i];
    } else {
      const int base[4] = {0, 8, 32, 40};
      for (int q = 0; q < 4; q++)
        for (int i = 0; i < 16; i++) a[base[q] + (i < 8 ? i : 8 + i)] = out[q][i];
    }
  }
}

// W8: one lookup per code byte (8 signs / 4 ternary codes): a 256-entry table per byte, biased uint8 (entry +
// 128), by two vpermt2b (entries 0-127, 128-255) and a blend on bit 7; W += x, O += x >> 8 as in P1.
template <int NT>
__attribute__((noinline)) void w8(const uint8_t* codes, int64_t stride, int64_t bytes, const int8_t* tables, const float* scales, float* acc) {
  __m512 f[NT][4];
  for (int u = 0; u < NT; u++)
    for (int q = 0; q < 4; q++) f[u][q] = _mm512_setzero_ps();
  for (int64_t b0 = 0, blk = 0; b0 < bytes; b0 += kBlock, blk++) {
    const int64_t b1 = std::min(bytes, b0 + kBlock);
    __m512i s0[NT], s1[NT];
    for (int u = 0; u < NT; u++) s0[u] = s1[u] = _mm512_setzero_si512();
    for (int64_t j = b0; j < b1; j++) {
      const int8_t* t = tables + j * 256;
      const __m512i t0 = _mm512_loadu_si512(t), t1 = _mm512_loadu_si512(t + 64), t2 = _mm512_loadu_si512(t + 128), t3 = _mm512_loadu_si512(t + 192);
      for (int u = 0; u < NT; u++) {
        const __m512i c = _mm512_loadu_si512(codes + u * stride + j * kTile);
        const __m512i x = _mm512_mask_blend_epi8(_mm512_movepi8_mask(c), _mm512_permutex2var_epi8(t0, c, t1), _mm512_permutex2var_epi8(t2, c, t3));
        s0[u] = _mm512_add_epi16(s0[u], x);
        s1[u] = _mm512_add_epi16(s1[u], _mm512_srli_epi16(x, 8));
      }
    }
    const __m512 s = _mm512_set1_ps(scales[blk]);
    for (int u = 0; u < NT; u++) {
      const __m512i even = _mm512_sub_epi16(s0[u], _mm512_slli_epi16(s1[u], 8));
      const __m512i bias = _mm512_set1_epi32(128 * static_cast<int>(b1 - b0));
      const __m512i parts[4] = {_mm512_cvtepu16_epi32(_mm512_castsi512_si256(even)), _mm512_cvtepu16_epi32(_mm512_castsi512_si256(s1[u])),
                                _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(even, 1)), _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(s1[u], 1))};
      for (int q = 0; q < 4; q++) f[u][q] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(_mm512_sub_epi32(parts[q], bias)), f[u][q]);
    }
  }
  for (int u = 0; u < NT; u++) {
    alignas(64) float out[4][16];
    for (int q = 0; q < 4; q++) _mm512_store_ps(out[q], f[u][q]);
    for (int q = 0; q < 4; q++)
      for (int i = 0; i < 16; i++) acc[u * kTile + 32 * (q >> 1) + 2 * i + (q & 1)] = out[q][i];
  }
}

void ref8(const uint8_t* codes, int64_t bytes, const int8_t* tables, const float* scales, float* acc) {
  for (int i = 0; i < kTile; i++) acc[i] = 0.0f;
  for (int64_t b0 = 0, blk = 0; b0 < bytes; b0 += kBlock, blk++) {
    const int64_t b1 = std::min(bytes, b0 + kBlock);
    int32_t sums[kTile] = {0};
    for (int64_t j = b0; j < b1; j++)
      for (int i = 0; i < kTile; i++) sums[i] += static_cast<uint8_t>(tables[j * 256 + codes[j * kTile + i]]) - 128;
    for (int i = 0; i < kTile; i++) acc[i] = std::fma(scales[blk], static_cast<float>(sums[i]), acc[i]);
  }
}

// Scalar reference on the tile layout, tables ±127 (or biased ±63 with bias 64).
void ref(const uint8_t* codes, int64_t bytes, const int8_t* tables, const float* scales, float* acc, int bias) {
  for (int i = 0; i < kTile; i++) acc[i] = 0.0f;
  for (int64_t b0 = 0, blk = 0; b0 < bytes; b0 += kBlock, blk++) {
    const int64_t b1 = std::min(bytes, b0 + kBlock);
    int32_t sums[kTile] = {0};
    for (int64_t j = b0; j < b1; j++)
      for (int i = 0; i < kTile; i++) {
        const uint8_t c = codes[j * kTile + i];
        sums[i] += (tables[j * 32 + (c & 15)] - bias) + (tables[j * 32 + 16 + (c >> 4)] - bias);
      }
    for (int i = 0; i < kTile; i++) acc[i] = std::fma(scales[blk], static_cast<float>(sums[i]), acc[i]);
  }
}

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? atoll(argv[1]) : 8192;
  const int reps = argc > 2 ? atoi(argv[2]) : 40;
  const int64_t bytes = n / 8, tiles = n / kTile, size = n * bytes;
  std::mt19937 rng(1);
  std::vector<uint8_t> tiled(size), quad(size);
  for (auto& b : tiled) b = rng();
  // quad layout from the tile layout
  for (int64_t t = 0; t < tiles; t++)
    for (int64_t j = 0; j < bytes; j++)
      for (int r = 0; r < kTile; r++)
        quad[t * kTile * bytes + ((j / 4) * 4 + r / 16) * 64 + 4 * (r % 16) + j % 4] = tiled[t * kTile * bytes + j * kTile + r];
  std::vector<int8_t> t127(bytes * 32), t63(bytes * 32), tq(bytes * 32);
  for (auto& v : t127) v = static_cast<int8_t>(int(rng() % 255) - 127);
  for (size_t i = 0; i < t63.size(); i++) t63[i] = static_cast<int8_t>(t127[i] / 2 + 64);
  for (int64_t j = 0; j < bytes; j++)
    for (int e = 0; e < 16; e++) {
      tq[(j / 4) * 128 + 16 * (j % 4) + e] = t127[j * 32 + e];
      tq[(j / 4) * 128 + 64 + 16 * (j % 4) + e] = t127[j * 32 + 16 + e];
    }
  std::vector<float> scales(bytes / kBlock + 1, 0.01f), y(n), want(n);
  const int inner = argc > 3 ? atoi(argv[3]) : 1;  // passes per timed run (small n: L1-resident)
  auto run = [&](auto kernel, const uint8_t* codes, const int8_t* tables, float* out) {
    for (int k = 0; k < inner; k++)
    for (int64_t t = 0; t < tiles; t++) kernel(codes + t * kTile * bytes, bytes, tables, scales.data(), out + t * kTile);
  };
  auto runm = [&](auto kernel, int nt, const uint8_t* codes, const int8_t* tables, float* out) {
    for (int k = 0; k < inner; k++)
      for (int64_t t = 0; t < tiles; t += nt) kernel(codes + t * kTile * bytes, kTile * bytes, bytes, tables, scales.data(), out + t * kTile);
  };
  // correctness
  for (int64_t t = 0; t < tiles; t++) ref(tiled.data() + t * kTile * bytes, bytes, t127.data(), scales.data(), want.data() + t * kTile, 0);
  run(v0<false>, tiled.data(), t127.data(), y.data());
  printf("v0 %s\n", memcmp(y.data(), want.data(), 4 * n) ? "MISMATCH" : "ok");
  run(p2, quad.data(), tq.data(), y.data());
  printf("p2 %s\n", memcmp(y.data(), want.data(), 4 * n) ? "MISMATCH" : "ok");
  for (int64_t t = 0; t < tiles; t++) ref(tiled.data() + t * kTile * bytes, bytes, t63.data(), scales.data(), want.data() + t * kTile, 64);
  run(p1<false>, tiled.data(), t63.data(), y.data());
  printf("p1 %s\n", memcmp(y.data(), want.data(), 4 * n) ? "MISMATCH" : "ok");
  runm(multi<4, true>, 4, tiled.data(), t63.data(), y.data());
  printf("p1x4 %s\n", memcmp(y.data(), want.data(), 4 * n) ? "MISMATCH" : "ok");
  for (int64_t t = 0; t < tiles; t++) ref(tiled.data() + t * kTile * bytes, bytes, t127.data(), scales.data(), want.data() + t * kTile, 0);
  runm(multi<4, false>, 4, tiled.data(), t127.data(), y.data());
  std::vector<int8_t> t8(bytes * 256), t63w(bytes * 128);
  for (int64_t j = 0; j < bytes; j++)
    for (int e = 0; e < 64; e++) t63w[j * 128 + e] = t63[j * 32 + e % 16], t63w[j * 128 + 64 + e] = t63[j * 32 + 16 + e % 16];
  for (auto& v : t8) v = static_cast<int8_t>(rng() % 255 + 1);
  printf("v0x4 %s\n", memcmp(y.data(), want.data(), 4 * n) ? "MISMATCH" : "ok");
  for (int64_t t = 0; t < tiles; t++) ref8(tiled.data() + t * kTile * bytes, bytes, t8.data(), scales.data(), want.data() + t * kTile);
  runm(w8<4>, 4, tiled.data(), t8.data(), y.data());
  printf("v0x4 %s\n", memcmp(y.data(), want.data(), 4 * n) ? "MISMATCH" : "ok");
  // timing: hot (same copy), cold (pool of copies >= 512 MiB)
  const int64_t pool = std::max<int64_t>(2, (int64_t(512) << 20) / size);
  std::vector<std::vector<uint8_t>> tp(pool, tiled), qp(pool, quad);
  auto time = [&](const char* name, auto go, std::vector<std::vector<uint8_t>>& p) {
    std::vector<double> hot, cold;
    for (int r = 0; r < reps; r++) {
      double t0 = now();
      go(p[0].data());
      hot.push_back(now() - t0);
      t0 = now();
      go(p[1 + r % (pool - 1)].data());
      cold.push_back(now() - t0);
    }
    std::sort(hot.begin(), hot.end());
    std::sort(cold.begin(), cold.end());
    printf("%s: hot %.1f GB/s (best %.1f), cold %.1f GB/s (best %.1f)\n", name, inner * size / hot[reps / 2] / 1e9, inner * size / hot[0] / 1e9,
           inner * size / cold[reps / 2] / 1e9, inner * size / cold[0] / 1e9);
  };
  if (getenv("FLOOR")) {
    for (int k = 0; k < 2; k++) {
      g_floor = 0;
      time("v0x4", [&](const uint8_t* c) { runm(multi<4, false>, 4, c, t127.data(), y.data()); }, tp);
      g_floor = 1;
      time("v0x4 lookups only", [&](const uint8_t* c) { runm(multi<4, false>, 4, c, t127.data(), y.data()); }, tp);
    }
    return 0;
  }
  if (getenv("AB")) {
    for (int k = 0; k < 3; k++) {
      time("v0  ", [&](const uint8_t* c) { run(v0<false>, c, t127.data(), y.data()); }, tp);
      time("v0x2", [&](const uint8_t* c) { runm(multi<2, false>, 2, c, t127.data(), y.data()); }, tp);
      time("v0x4", [&](const uint8_t* c) { runm(multi<4, false>, 4, c, t127.data(), y.data()); }, tp);
      time("v0x8", [&](const uint8_t* c) { runm(multi<8, false>, 8, c, t127.data(), y.data()); }, tp);
      if (tiles % 3 == 0) time("v0x3", [&](const uint8_t* c) { runm(multi<3, false>, 3, c, t127.data(), y.data()); }, tp);
      time("v0x4", [&](const uint8_t* c) { runm(multi<4, false>, 4, c, t127.data(), y.data()); }, tp);
      time("p1x4", [&](const uint8_t* c) { runm(multi<4, true>, 4, c, t63.data(), y.data()); }, tp);
    }
    return 0;
  }
  if (getenv("DISTS")) {
    for (int64_t d : {0, 4096, 16384, 32768, 65536, 0, 4096, 16384, 32768, 65536}) {
      g_dist = d;
      char name[32];
      snprintf(name, sizeof name, "v0 dist %ld", long(d));
      time(name, [&](const uint8_t* c) { run(v0<false>, c, t127.data(), y.data()); }, tp);
    }
    return 0;
  }
  for (int k = 0; k < 2; k++) {
    time("v0 vpermb", [&](const uint8_t* c) { run(v0<false>, c, t127.data(), y.data()); }, tp);

    time("p1 vpermb", [&](const uint8_t* c) { run(p1<false>, c, t63.data(), y.data()); }, tp);

    time("p1x1w", [&](const uint8_t* c) { runm(multi<1, true, true>, 1, c, t63w.data(), y.data()); }, tp);
    time("p1x2w", [&](const uint8_t* c) { runm(multi<2, true, true>, 2, c, t63w.data(), y.data()); }, tp);
    time("p1x4w", [&](const uint8_t* c) { runm(multi<4, true, true>, 4, c, t63w.data(), y.data()); }, tp);
    time("v0x1w", [&](const uint8_t* c) { runm(multi<1, false, true>, 1, c, t63w.data(), y.data()); }, tp);
    time("v0x2w", [&](const uint8_t* c) { runm(multi<2, false, true>, 2, c, t63w.data(), y.data()); }, tp);
    time("w8x1", [&](const uint8_t* c) { runm(w8<1>, 1, c, t8.data(), y.data()); }, tp);
    time("w8x2", [&](const uint8_t* c) { runm(w8<2>, 2, c, t8.data(), y.data()); }, tp);
    time("w8x4", [&](const uint8_t* c) { runm(w8<4>, 4, c, t8.data(), y.data()); }, tp);
    time("v0x2", [&](const uint8_t* c) { runm(multi<2, false>, 2, c, t127.data(), y.data()); }, tp);
    time("v0x4", [&](const uint8_t* c) { runm(multi<4, false>, 4, c, t127.data(), y.data()); }, tp);
    time("p1x2", [&](const uint8_t* c) { runm(multi<2, true>, 2, c, t63.data(), y.data()); }, tp);
    time("p1x4", [&](const uint8_t* c) { runm(multi<4, true>, 4, c, t63.data(), y.data()); }, tp);
  }
}
