// Sandbox: causal attention forward for one (b, h) pair at the training shapes (T 128, hs 32), two ways:
// (1) as attention.cc does it, blocks of 64 query rows through cblas_sgemm; (2) plain loops in axpy form
// (scores s[j] = sum_d q[d] kT[d][j] over a transposed k, then out += p[j] v[j]), which vectorize without
// horizontal sums and skip masked keys exactly. Build: g++ -O3 -mavx2 -mfma -fno-math-errno
// -fno-trapping-math -I/usr/include/x86_64-linux-gnu/openblas-pthread attention_variants.cc -lopenblas
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "../vecmath.h"

using bitscale::fast_exp;
constexpr int T = 128, HS = 32, NH = 4, LD = NH * HS;

void blas_pair(const float* q, const float* k, const float* v, float* out, float* lse, float scale) {
  static std::vector<float> P(64 * T);
  for (int t0 = 0; t0 < T; t0 += 64) {
    const int rows = 64, keys = t0 + rows;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, HS, scale, q + t0 * LD, LD, k, LD, 0, P.data(), keys);
    for (int i = 0; i < rows; i++) {
      float* p = P.data() + i * keys;
      const int valid = t0 + i + 1;
      float m = -INFINITY;
      for (int j = 0; j < valid; j++) m = std::max(m, p[j]);
      float sum = 0;
      for (int j = 0; j < valid; j++) sum += (p[j] = fast_exp(p[j] - m));
      for (int j = 0; j < valid; j++) p[j] /= sum;
      for (int j = valid; j < keys; j++) p[j] = 0;
      lse[t0 + i] = m + std::log(sum);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, HS, keys, 1, P.data(), keys, v, LD, 0, out + t0 * LD, LD);
  }
}

void loop_pair(const float* q, const float* k, const float* v, float* out, float* lse, float scale) {
  static std::vector<float> kT(HS * T), s(T);
  for (int j = 0; j < T; j++)
    for (int d = 0; d < HS; d++) kT[d * T + j] = k[j * LD + d];
  for (int t = 0; t < T; t++) {
    const int valid = t + 1;
    const float* qt = q + t * LD;
    for (int j = 0; j < valid; j++) s[j] = 0;
    for (int d = 0; d < HS; d++) {
      const float qd = qt[d] * scale;
      const float* kr = kT.data() + d * T;
#pragma omp simd
      for (int j = 0; j < valid; j++) s[j] += qd * kr[j];
    }
    float m = -INFINITY;
    for (int j = 0; j < valid; j++) m = std::max(m, s[j]);
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < valid; j++) sum += (s[j] = fast_exp(s[j] - m));
    const float inv = 1 / sum;
    float acc[HS] = {};
    for (int j = 0; j < valid; j++) {
      const float pj = s[j] * inv;
      const float* vj = v + j * LD;
#pragma omp simd
      for (int d = 0; d < HS; d++) acc[d] += pj * vj[d];
    }
    for (int d = 0; d < HS; d++) out[t * LD + d] = acc[d];
    lse[t] = m + std::log(sum);
  }
}

int main() {
  const int B = 16, pairs = B * NH;
  std::vector<float> q(B * T * LD), k(q.size()), v(q.size()), o1(q.size()), o2(q.size()), l1(pairs * T), l2(pairs * T);
  for (size_t i = 0; i < q.size(); i++) q[i] = std::sin(i * 0.37f), k[i] = std::cos(i * 0.11f), v[i] = std::sin(i * 0.05f);
  auto base = [&](int p) { return (p / NH) * T * LD + (p % NH) * HS; };
  auto run = [&](auto fn, std::vector<float>& o, std::vector<float>& l) {
    double best = 1e9;
    for (int r = 0; r < 30; r++) {
      auto t0 = std::chrono::steady_clock::now();
      for (int p = 0; p < pairs; p++) fn(q.data() + base(p), k.data() + base(p), v.data() + base(p), o.data() + base(p), l.data() + p * T, 0.17f);
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  openblas_set_num_threads(1);
  const double tb = run(blas_pair, o1, l1), tl = run(loop_pair, o2, l2);
  double err = 0;
  for (size_t i = 0; i < o1.size(); i++) err = std::max(err, (double)std::fabs(o1[i] - o2[i]));
  std::printf("{\"blas_ms\":%.3f,\"loops_ms\":%.3f,\"speedup\":%.2f,\"max_abs_diff\":%.2e}\n", tb, tl, tb / tl, err);
}
