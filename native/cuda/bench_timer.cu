// Bench only: device-side timing, and the memcpy that bandwidth figures are measured against.
//   timerStart(holdMicroseconds): queues a kernel that spins for that long, then an event. The host queues the
//     launches to be timed while the GPU waits, so they run back to back: what is timed is the GPU's work and the
//     gaps between kernels, not the host's cost per launch.
//   timerStop(): queues a second event, waits for it, and returns the milliseconds between the two.
//   copyDevice(src, dst, n): device-to-device copy of n 4-byte elements (cudaMemcpyAsync).
//   readDevice(src, dst, n): reads n 4-byte elements (16 bytes a load, every SM) and writes one word per block:
//     what a kernel that only streams those bytes in takes, the ceiling of any kernel that must read them.
#include <cstdint>

#include "common.cuh"

namespace {

__global__ void hold_kernel(unsigned long long ns) {
  unsigned long long start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}

__global__ void read_kernel(const uint4* __restrict__ src, long long n16, const int32_t* __restrict__ tail,
                            int tail_n, int32_t* __restrict__ dst) {
  uint32_t acc = 0;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n16;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const uint4 v = __ldg(src + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (blockIdx.x == 0 && static_cast<int>(threadIdx.x) < tail_n) acc ^= static_cast<uint32_t>(tail[threadIdx.x]);
  for (int o = 16; o > 0; o >>= 1) acc ^= __shfl_xor_sync(0xffffffffu, acc, o);
  if ((threadIdx.x & 31) == 0) atomicXor(reinterpret_cast<unsigned*>(dst) + blockIdx.x, acc);
}

cudaEvent_t event(int i) {
  static cudaEvent_t events[2] = {nullptr, nullptr};
  if (!events[i]) bc::check(cudaEventCreate(&events[i]), "cudaEventCreate");
  return events[i];
}

}  // namespace

BC_KERNEL(timerStart) {
  const long long hold = a.integer(0, "holdMicroseconds");
  if (hold < 0 || hold > 10'000'000)
    throw std::runtime_error("holdMicroseconds = " + std::to_string(hold) + ": expected 0 .. 10^7");
  if (hold > 0) {
    hold_kernel<<<1, 1>>>(static_cast<unsigned long long>(hold) * 1000ULL);
    bc::check_launch("timerStart");
  }
  bc::check(cudaEventRecord(event(0), 0), "cudaEventRecord");
  return nullptr;
}

BC_KERNEL(timerStop) {
  bc::check(cudaEventRecord(event(1), 0), "cudaEventRecord");
  bc::check(cudaEventSynchronize(event(1)), "cudaEventSynchronize");
  float ms = 0.0f;
  bc::check(cudaEventElapsedTime(&ms, event(0), event(1)), "cudaEventElapsedTime");
  return bc::number(a.env, ms);
}

BC_KERNEL(copyDevice) {
  const long long n = a.integer(2, "n");
  const int32_t* src = a.i32(0, "src", n);
  int32_t* dst = a.i32(1, "dst", n);
  if (n == 0) return nullptr;
  bc::check(cudaMemcpyAsync(dst, src, n * 4, cudaMemcpyDeviceToDevice), "cudaMemcpyAsync(copyDevice)");
  return nullptr;
}

BC_KERNEL(readDevice) {
  const long long n = a.integer(2, "n");
  const int32_t* src = a.i32(0, "src", n);
  const int blocks = 4 * bc::sm_count();
  int32_t* dst = a.i32(1, "dst", blocks);
  if (n == 0) return nullptr;
  const long long n16 = n / 4;
  read_kernel<<<blocks, 256>>>(reinterpret_cast<const uint4*>(src), n16, src + 4 * n16, static_cast<int>(n - 4 * n16),
                               dst);
  bc::check_launch("readDevice");
  return nullptr;
}
