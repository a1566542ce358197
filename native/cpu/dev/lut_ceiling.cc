// Sandbox: how fast can one core stream bytes here, hot (L2/L3) and cold (DRAM)? A read-only scan (the LUT
// GEMV's floor), memcpy (the bench's peer) and the LUT kernel's inner loop shape, same buffers.
// Build: g++ -O3 -march=native lut_ceiling.cc -o /tmp/lut_ceiling && /tmp/lut_ceiling
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

__attribute__((noinline)) uint64_t scan(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 256) {
    a0 = _mm512_xor_si512(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_loadu_si512(p + i + 192));
  }
  return _mm512_reduce_add_epi64(_mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)));
}

int main(int argc, char** argv) {
  const int reps = argc > 1 ? atoi(argv[1]) : 50;
  for (size_t n : {size_t(2) << 20, size_t(8) << 20, size_t(16) << 20}) {
    // hot: the same buffer again and again; cold: a 512 MiB pool of copies, rotated
    const size_t pool = std::max<size_t>(1, (size_t(512) << 20) / n);
    std::vector<uint8_t*> bufs(pool);
    for (auto& b : bufs) {
      b = static_cast<uint8_t*>(aligned_alloc(64, n));
      memset(b, 7, n);
    }
    uint8_t* dst = static_cast<uint8_t*>(aligned_alloc(64, n));
    memset(dst, 0, n);
    uint64_t sink = 0;
    auto best_med = [&](auto fn) {
      std::vector<double> t;
      for (int r = 0; r < reps; r++) {
        const double t0 = now();
        fn(r);
        t.push_back(now() - t0);
      }
      std::sort(t.begin(), t.end());
      return std::make_pair(t[0], t[t.size() / 2]);
    };
    auto [sh, shm] = best_med([&](int) { sink += scan(bufs[0], n); });
    auto [ch, chm] = best_med([&](int) { memcpy(dst, bufs[0], n); });
    auto [sc, scm] = best_med([&](int r) { sink += scan(bufs[r % pool], n); });
    auto [cc, ccm] = best_med([&](int r) { memcpy(dst, bufs[r % pool], n); });
    printf("%5zu MiB  hot: scan %.1f GB/s (med %.1f), memcpy r+w %.1f (med %.1f) | cold pool %zu: scan %.1f (med %.1f), memcpy r+w %.1f (med %.1f)\n",
           n >> 20, n / sh / 1e9, n / shm / 1e9, 2 * n / ch / 1e9, 2 * n / chm / 1e9, pool, n / sc / 1e9, n / scm / 1e9,
           2 * n / cc / 1e9, 2 * n / ccm / 1e9);
    for (auto b : bufs) free(b);
    free(dst);
    if (sink == 42) puts("");
  }
}
