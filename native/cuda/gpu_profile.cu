// BITSCALE_CUDA_PROFILE=gpu: device timestamps around every addon call, without synchronizing.
//   profileMark(): records the next event of a pool that grows as needed (the stream's position, on the GPU).
//   profileTimes(count): waits for the last mark and returns a Float64Array of count times in milliseconds
//     since the first mark, then starts the pool over.
// The time between a call's two marks is the GPU's time for that call; the time from one call's end mark to the
// next call's start mark is the GPU waiting for the host (zero when launches are queued ahead of it).
#include <vector>

#include "common.cuh"

namespace {

std::vector<cudaEvent_t>& pool() {
  static std::vector<cudaEvent_t> events;
  return events;
}
size_t used = 0;

void check_napi(napi_status status, const char* what) {
  if (status != napi_ok) throw std::runtime_error(std::string("profileTimes: ") + what + " failed");
}

}  // namespace

BC_KERNEL(profileMark) {
  auto& events = pool();
  if (used == events.size()) {
    cudaEvent_t e;
    bc::check(cudaEventCreate(&e), "cudaEventCreate");
    events.push_back(e);
  }
  bc::check(cudaEventRecord(events[used++], 0), "cudaEventRecord");
  return nullptr;
}

BC_KERNEL(profileTimes) {
  const long long count = a.integer(0, "count");
  if (count < 0 || static_cast<size_t>(count) > used)
    throw std::runtime_error("count = " + std::to_string(count) + ": expected 0 .. " + std::to_string(used) +
                             " (the marks recorded)");
  auto& events = pool();
  void* data = nullptr;
  napi_value buffer, out;
  check_napi(napi_create_arraybuffer(a.env, count * sizeof(double), &data, &buffer), "napi_create_arraybuffer");
  if (count > 0) bc::check(cudaEventSynchronize(events[count - 1]), "cudaEventSynchronize");
  auto* times = static_cast<double*>(data);
  for (long long i = 0; i < count; i++) {
    float ms = 0.0f;
    if (i > 0) bc::check(cudaEventElapsedTime(&ms, events[0], events[i]), "cudaEventElapsedTime");
    times[i] = ms;
  }
  used = 0;
  check_napi(napi_create_typedarray(a.env, napi_float64_array, count, buffer, 0, &out), "napi_create_typedarray");
  return out;
}
