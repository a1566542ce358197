// OneBit's packed GEMV / small-batch GEMM: y[b, r] = h[r] * sum_c S[r, c] x[b, c] g[c], S = ±1 read from
// packed bits (src/onebit/packed.ts's sign1 layout: row-major, each row padded to whole bytes, LSB first,
// bit 1 = +1). x ⊙ g is formed once, negated, so a weight's sign costs one XOR: bit 1 flips -xg to +xg.
// The AVX2 build reads 32 weights per 32-bit word: the word is broadcast, each lane shifted by a per-lane
// count so that its bit lands in the float sign position, masked and XORed into 8 values of -xg. The
// portable build does the same per weight.
// Work: the batch in chunks of up to 4 vectors (one sign mask serves them all); columns in blocks whose
// chunk of -xg stays in L1 (16 KB), so the packed bits are the only stream from memory; rows split
// across the OpenMP team, each thread keeping its rows' partial sums.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernel.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace {

// Adds columns [from, to) of one row to NB sums, scalar: nxg holds -x ⊙ g, ld apart per batch vector.
template <int NB>
void span_scalar(const uint8_t* row, int64_t from, int64_t to, const float* nxg, int64_t ld, float* sums) {
  for (int64_t c = from; c < to; c++) {
    const uint32_t flip = static_cast<uint32_t>((row[c >> 3] >> (c & 7)) & 1) << 31;
    for (int b = 0; b < NB; b++) {
      uint32_t u;
      std::memcpy(&u, nxg + b * ld + c, 4);
      u ^= flip;
      float v;
      std::memcpy(&v, &u, 4);
      sums[b] += v;
    }
  }
}

#ifdef __AVX2__
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Adds 32-column words [w0, w1) of one row to NB sums; NA independent accumulators per batch vector.
template <int NB, int NA>
void span_avx2(const uint8_t* row, int64_t w0, int64_t w1, const float* nxg, int64_t ld, float* sums) {
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  // Lane k of group q holds bit 8q + k of the word: shift it left by 31 - (8q + k).
  const __m256i shift[4] = {_mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24),
                            _mm256_setr_epi32(23, 22, 21, 20, 19, 18, 17, 16),
                            _mm256_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8),
                            _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0)};
  __m256 acc[NB][NA];
  for (int b = 0; b < NB; b++)
    for (int j = 0; j < NA; j++) acc[b][j] = _mm256_setzero_ps();
  for (int64_t w = w0; w < w1; w++) {
    uint32_t bits;
    std::memcpy(&bits, row + 4 * w, 4);
    const __m256i word = _mm256_set1_epi32(static_cast<int>(bits));
    for (int q = 0; q < 4; q++) {
      const __m256 flip = _mm256_castsi256_ps(_mm256_and_si256(_mm256_sllv_epi32(word, shift[q]), sign));
      for (int b = 0; b < NB; b++) {
        const __m256 v = _mm256_xor_ps(_mm256_loadu_ps(nxg + b * ld + 32 * w + 8 * q), flip);
        acc[b][q % NA] = _mm256_add_ps(acc[b][q % NA], v);
      }
    }
  }
  for (int b = 0; b < NB; b++) {
    __m256 s = acc[b][0];
    for (int j = 1; j < NA; j++) s = _mm256_add_ps(s, acc[b][j]);
    sums[b] += hsum(s);
  }
}
#endif

// Adds columns [c0, c1) of one row to NB sums (c0 a multiple of 32).
template <int NB>
void span(const uint8_t* row, int64_t c0, int64_t c1, const float* nxg, int64_t ld, float* sums) {
#ifdef __AVX2__
  constexpr int NA = NB == 1 ? 4 : NB == 2 ? 2 : 1;  // 4 add chains in flight
  const int64_t w1 = c1 / 32;
  span_avx2<NB, NA>(row, c0 / 32, w1, nxg, ld, sums);
  span_scalar<NB>(row, std::max(c0, w1 * 32), c1, nxg, ld, sums);
#else
  span_scalar<NB>(row, c0, c1, nxg, ld, sums);
#endif
}

// Batch vectors [b0, b0 + NB) of the product, every output row.
template <int NB>
void chunk(const uint8_t* codes, int64_t row_bytes, const float* h, const float* nxg, int64_t cols, float* y,
           int64_t rows, int64_t b0) {
  // Columns per block: NB vectors of -xg in 16 KB, whole 32-column words.
  const int64_t block = std::max<int64_t>(32, (4096 / NB) / 32 * 32);
  const float* base = nxg + b0 * cols;
  const int team = rows * cols >= bitscale::kParallelGrain ? bitscale::threads() : 1;
  const int64_t per = (rows + team - 1) / team;
#pragma omp parallel for schedule(static, 1) num_threads(team) if (team > 1)
  for (int t = 0; t < team; t++) {
    const int64_t r0 = t * per, r1 = std::min(rows, r0 + per);
    if (r0 >= r1) continue;
    std::vector<float> sums((r1 - r0) * NB, 0.0f);
    for (int64_t c0 = 0; c0 < cols; c0 += block) {
      const int64_t c1 = std::min(cols, c0 + block);
      for (int64_t r = r0; r < r1; r++) span<NB>(codes + r * row_bytes, c0, c1, base, cols, &sums[(r - r0) * NB]);
    }
    for (int64_t r = r0; r < r1; r++)
      for (int b = 0; b < NB; b++) y[(b0 + b) * rows + r] = h[r] * sums[(r - r0) * NB + b];
  }
}

}  // namespace

// onebitGemm(codes, g, h, x, y, rows, cols, batch): y (batch, rows) = h ⊙ ((x ⊙ g) Sᵀ), x (batch, cols),
// S (rows, cols) = ±1 packed sign1 (rows * ceil(cols / 8) bytes).
BITSCALE_KERNEL(onebitGemm) {
  const int64_t rows = a.integer(5, "rows"), cols = a.integer(6, "cols"), batch = a.integer(7, "batch");
  const int64_t row_bytes = (cols + 7) / 8;
  const bitscale::View codes = a.view(0, "codes");
  if (codes.type != napi_uint8_array) throw std::runtime_error("argument 0 (codes): expected a Uint8Array");
  if (static_cast<int64_t>(codes.length) < rows * row_bytes)
    throw std::runtime_error("argument 0 (codes): " + std::to_string(codes.length) + " bytes, rows * ceil(cols / 8) = " +
                             std::to_string(rows * row_bytes) + " needed");
  const float* g = a.f32(1, "g", cols);
  const float* h = a.f32(2, "h", rows);
  const float* x = a.f32(3, "x", batch * cols);
  float* y = a.f32(4, "y", batch * rows);
  if (rows == 0 || batch == 0) return;
  std::vector<float> nxg(batch * cols);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t c = 0; c < cols; c++) nxg[b * cols + c] = -(x[b * cols + c] * g[c]);
  const auto* bits = static_cast<const uint8_t*>(codes.data);
  int64_t b0 = 0;
  // Chunks of 4: more vectors' accumulators no longer fit the 16 registers (measured slower per vector).
  for (; b0 + 4 <= batch; b0 += 4) chunk<4>(bits, row_bytes, h, nxg.data(), cols, y, rows, b0);
  if (batch - b0 >= 2) {
    chunk<2>(bits, row_bytes, h, nxg.data(), cols, y, rows, b0);
    b0 += 2;
  }
  if (b0 < batch) chunk<1>(bits, row_bytes, h, nxg.data(), cols, y, rows, b0);
}

// ternaryGemm(codes, g, h, x, y, rows, cols, batch): the same product for ternary2 codes (2 bits per weight,
// LSB first: 0 -> 0, 1 -> +1, 2 -> -1; 3, never written, reads as 0), rows * ceil(cols / 4) bytes. Exact in
// fp32 like onebitGemm, written plainly: each code byte's four weights come from a 256-entry table, and the
// compiler vectorizes the row's dot product. (The fast GEMV is packedLutGemm, native/cpu/onebit_lut.cc.)
BITSCALE_KERNEL(ternaryGemm) {
  const int64_t rows = a.integer(5, "rows"), cols = a.integer(6, "cols"), batch = a.integer(7, "batch");
  const int64_t row_bytes = (cols + 3) / 4;
  const bitscale::View codes = a.view(0, "codes");
  if (codes.type != napi_uint8_array) throw std::runtime_error("argument 0 (codes): expected a Uint8Array");
  if (static_cast<int64_t>(codes.length) < rows * row_bytes)
    throw std::runtime_error("argument 0 (codes): " + std::to_string(codes.length) + " bytes, rows * ceil(cols / 4) = " +
                             std::to_string(rows * row_bytes) + " needed");
  const float* g = a.f32(1, "g", cols);
  const float* h = a.f32(2, "h", rows);
  const float* x = a.f32(3, "x", batch * cols);
  float* y = a.f32(4, "y", batch * rows);
  if (rows == 0 || batch == 0) return;
  static const auto weights = [] {
    std::vector<float> w(256 * 4);
    const float value[4] = {0.0f, 1.0f, -1.0f, 0.0f};
    for (int byte = 0; byte < 256; byte++)
      for (int i = 0; i < 4; i++) w[byte * 4 + i] = value[(byte >> (2 * i)) & 3];
    return w;
  }();
  const int64_t padded = row_bytes * 4;
  std::vector<float> xg(batch * padded, 0.0f);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t c = 0; c < cols; c++) xg[b * padded + c] = x[b * cols + c] * g[c];
  const auto* bits = static_cast<const uint8_t*>(codes.data);
  const int team = rows * cols >= bitscale::kParallelGrain ? bitscale::threads() : 1;
#pragma omp parallel num_threads(team) if (team > 1)
  {
    std::vector<float> w(padded);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const uint8_t* row = bits + r * row_bytes;
      for (int64_t j = 0; j < row_bytes; j++) std::memcpy(&w[4 * j], &weights[row[j] * 4], 16);
      for (int64_t b = 0; b < batch; b++) {
        const float* v = xg.data() + b * padded;
        float lanes[8] = {0};  // 8 running sums (one per SIMD lane) so the loop vectorizes without -ffast-math
        int64_t c = 0;
        for (; c + 8 <= padded; c += 8)
          for (int k = 0; k < 8; k++) lanes[k] += w[c + k] * v[c + k];
        float s = 0.0f;
        for (; c < padded; c++) s += w[c] * v[c];
        for (int k = 0; k < 8; k++) s += lanes[k];
        y[b * rows + r] = h[r] * s;
      }
    }
  }
}

// Bench only: copyBytes(src, dst, n) copies n bytes with memcpy, split across the OpenMP team, the
// bandwidth peer bench/onebit-gemv.ts measures the packed GEMV against.
BITSCALE_KERNEL(copyBytes) {
  const bitscale::View src = a.view(0, "src"), dst = a.view(1, "dst");
  const int64_t n = a.integer(2, "n");
  if (src.type != napi_uint8_array || dst.type != napi_uint8_array)
    throw std::runtime_error("copyBytes: src and dst must be Uint8Arrays");
  if (static_cast<int64_t>(std::min(src.length, dst.length)) < n) throw std::runtime_error("copyBytes: n exceeds an array");
  const int team = bitscale::threads();
  const int64_t step = (n + team - 1) / team;
  const auto* s = static_cast<const uint8_t*>(src.data);
  auto* d = static_cast<uint8_t*>(dst.data);
#pragma omp parallel for schedule(static, 1) num_threads(team) if (team > 1)
  for (int p = 0; p < team; p++) {
    const int64_t from = p * step, to = std::min(n, from + step);
    if (from < to) std::memcpy(d + from, s + from, to - from);
  }
}
