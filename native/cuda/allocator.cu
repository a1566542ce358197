// The caching device allocator. cudaMalloc and cudaFree synchronize the device and cost tens of microseconds,
// so freed blocks stay in a cache keyed by their rounded size and are handed out again; one stream orders
// every use, so a block can be reused as soon as it is freed. When the device runs out of memory the cache is
// released to the driver and the allocation tried once more. A memory limit (BITSCALE_CUDA_MEMORY_LIMIT, set
// through setMemoryLimit) caps the bytes the allocator holds, in use + cached, so a smaller card can be emulated:
// an allocation that would pass it trims the cache first, then fails as an out-of-memory error naming the limit.
#include <map>
#include <unordered_map>

#include "common.cuh"

namespace bc {
namespace {

std::multimap<size_t, void*>& free_blocks() {
  static std::multimap<size_t, void*> m;
  return m;
}
std::unordered_map<void*, size_t>& live_blocks() {
  static std::unordered_map<void*, size_t> m;
  return m;
}
CacheStats stats{};
size_t limit_bytes = 0;  // 0: no limit

void note_in_use(size_t grown) {
  stats.in_use_bytes += grown;
  if (stats.in_use_bytes > stats.peak_in_use_bytes) stats.peak_in_use_bytes = stats.in_use_bytes;
}

std::string out_of_memory(size_t size) {
  return "cudaMalloc(" + std::to_string(size) + " bytes; " + std::to_string(stats.in_use_bytes) +
         " in use) failed in " + op_context() + ": out of memory under BITSCALE_CUDA_MEMORY_LIMIT = " +
         std::to_string(limit_bytes) + " bytes";
}

// Small sizes round to 512 bytes, large ones to 2 MiB, so that similar requests share blocks.
size_t rounded(size_t bytes) {
  if (bytes == 0) bytes = 1;
  const size_t unit = bytes < (1u << 20) ? 512 : (2u << 20);
  return (bytes + unit - 1) / unit * unit;
}

}  // namespace

void* cache_alloc(size_t bytes) {
  const size_t size = rounded(bytes);
  auto& cache = free_blocks();
  auto it = cache.lower_bound(size);
  // Reuse a cached block unless it is much larger than asked (that would strand memory).
  if (it != cache.end() && it->first <= size + size / 4) {
    void* p = it->second;
    const size_t got = it->first;
    cache.erase(it);
    live_blocks()[p] = got;
    stats.cached_bytes -= got;
    note_in_use(got);
    stats.cache_hits++;
    return p;
  }
  if (limit_bytes && stats.in_use_bytes + stats.cached_bytes + size > limit_bytes) {
    cache_trim();
    if (stats.in_use_bytes + size > limit_bytes) throw CudaError(out_of_memory(size));
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    cache_trim();
    e = cudaMalloc(&p, size);
  }
  if (e != cudaSuccess) {
    check(e, ("cudaMalloc(" + std::to_string(size) + " bytes; " + std::to_string(stats.in_use_bytes) + " in use)").c_str());
  }
  live_blocks()[p] = size;
  note_in_use(size);
  stats.device_mallocs++;
  return p;
}

void cache_free(void* ptr) {
  if (!ptr) return;
  auto it = live_blocks().find(ptr);
  if (it == live_blocks().end()) throw std::runtime_error("cache_free: pointer was not allocated by the cache (double free?)");
  const size_t size = it->second;
  live_blocks().erase(it);
  free_blocks().emplace(size, ptr);
  stats.in_use_bytes -= size;
  stats.cached_bytes += size;
}

void cache_trim() {
  cudaDeviceSynchronize();
  for (auto& [size, p] : free_blocks()) cudaFree(p);
  free_blocks().clear();
  stats.cached_bytes = 0;
}

CacheStats cache_stats() { return stats; }

void cache_reset_peak() { stats.peak_in_use_bytes = stats.in_use_bytes; }

void cache_set_limit(size_t bytes) {
  limit_bytes = bytes;
  if (limit_bytes && stats.in_use_bytes + stats.cached_bytes > limit_bytes) cache_trim();
}

size_t cache_limit() { return limit_bytes; }

}  // namespace bc
