// Sandbox: does splitting one sgemm across OpenMP threads (OpenBLAS single-threaded, as matmul.cc does)
// keep up with OpenBLAS's own threads? Build: g++ -O3 -fopenmp split_gemm_bench.cc -lopenblas
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" void openblas_set_num_threads(int);

static int per_thread = 1;
static void split(int team, int n, const float* A, const float* B, float* C, bool ta, bool tb) {
  const int parts = std::max(1, std::min(per_thread * team, n / 64));
  const int step = ((n + parts - 1) / parts + 15) / 16 * 16;
#pragma omp parallel for schedule(dynamic, 1) num_threads(team)
  for (int p = 0; p < parts; p++) {
    const int b = p * step, len = std::min(n, b + step) - b;
    if (len <= 0) continue;
    const float* a = ta ? A + b : A + (size_t)b * n;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, len, n, n, 1.0f, a, n,
                B, n, 0.0f, C + (size_t)b * n, n);
  }
}

int main(int argc, char** argv) {
  const int n = 1024, team = argc > 1 ? atoi(argv[1]) : 2, reps = 10;
  per_thread = argc > 2 ? atoi(argv[2]) : 1;
  std::vector<float> A(n * n), B(n * n), C(n * n);
  for (int i = 0; i < n * n; i++) A[i] = (i % 7) * 0.1f, B[i] = (i % 5) * 0.1f;
  auto time = [&](auto fn) {
    fn();
    std::vector<double> t;
    for (int r = 0; r < reps; r++) {
      auto t0 = std::chrono::steady_clock::now();
      fn();
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return 3 * 2.0 * n * n * n / t[reps / 2] / 1e9;
  };
  openblas_set_num_threads(team);
  const double own = time([&] {
    for (auto [ta, tb] : {std::pair{false, false}, {false, true}, {true, false}})
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, n, n, n, 1.0f, A.data(), n,
                  B.data(), n, 0.0f, C.data(), n);
  });
  openblas_set_num_threads(1);
  const double ours = time([&] {
    for (auto [ta, tb] : {std::pair{false, false}, {false, true}, {true, false}}) split(team, n, A.data(), B.data(), C.data(), ta, tb);
  });
  std::printf("{\"threads\":%d,\"openblas_own_gflops\":%.2f,\"omp_split_gflops\":%.2f,\"ratio\":%.3f}\n", team, own, ours, ours / own);
}
