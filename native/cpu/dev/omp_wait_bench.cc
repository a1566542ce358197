// Sandbox: what OMP_WAIT_POLICY costs on an idle machine. Many short parallel kernels (a 2^18-element add,
// ~30-60 us of work) separated by a few microseconds of single-threaded work (the JavaScript between two
// kernel calls). Run under taskset -c 0,1 with OMP_WAIT_POLICY unset / active / passive.
// Build: g++ -O3 -fopenmp omp_wait_bench.cc -o omp_wait_bench
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  const long n = 1 << 18;
  const int gap_us = argc > 1 ? atoi(argv[1]) : 10;
  std::vector<float> a(n, 1.0f), b(n, 2.0f), c(n);
  auto spin = [](int us) {
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() < us) {
    }
  };
  auto run = [&](int threads, int iters) {
    auto t0 = std::chrono::steady_clock::now();
    for (int it = 0; it < iters; it++) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (long i = 0; i < n; i++) c[i] = a[i] + b[i];
      spin(gap_us);
    }
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters - gap_us;
  };
  run(2, 200);
  const double one = run(1, 2000), two = run(2, 2000);
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  std::printf("{\"policy\":\"%s\",\"gap_us\":%d,\"us_per_kernel_1thread\":%.1f,\"us_per_kernel_2threads\":%.1f}\n",
              policy ? policy : "default", gap_us, one, two);
}
