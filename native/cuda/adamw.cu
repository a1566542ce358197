// Fused AdamW: one pass over parameter, gradient and both moments, in double for the update arithmetic
// (the reference's precision; the kernel is bound by memory, not arithmetic). adamwMulti applies the same
// step to many tensors in one launch per 64 tensors: a table of (param, grad, m, v, n) read by a grid-stride
// loop. The table travels as a kernel parameter, not a host -> device copy: a cudaMemcpy from pageable memory
// waits for the stream, and the optimizer step must not wait for the GPU.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.cuh"

namespace {

struct Hyper {
  double lr, beta1, beta2, eps, wd, c1, c2, grad_scale;
};

// One value's update; the reference's arithmetic, in double.
__device__ inline void adamw_value(float& p, float g, float& m, float& v, const Hyper& h) {
  const double gi = static_cast<double>(g) * h.grad_scale;
  const double mi = h.beta1 * m + (1 - h.beta1) * gi;
  const double vi = h.beta2 * v + (1 - h.beta2) * gi * gi;
  m = static_cast<float>(mi);
  v = static_cast<float>(vi);
  const double update = static_cast<float>(mi) / h.c1 / (sqrt(static_cast<float>(vi) / h.c2) + h.eps);
  p = static_cast<float>(p - h.lr * (update + h.wd * p));
}

__device__ inline void adamw_one(float* p, const float* g, float* m, float* v, long long i, const Hyper& h) {
  adamw_value(p[i], g[i], m[i], v[i], h);
}

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, long long n, Hyper h) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    adamw_one(p, g, m, v, i, h);
}

struct Slot {
  float* p;
  const float* g;
  float* m;
  float* v;
  long long n, first_block;  // first_block: prefix sum of the tensors' blocks, to map a block to its tensor
};

// 64 slots of 48 bytes: with the other arguments, under the 4 KB that every GPU and toolkit takes as parameters.
constexpr int kSlotsPerLaunch = 64;
struct SlotTable {
  Slot slot[kSlotsPerLaunch];
};

constexpr int kMultiThreads = 256;
constexpr long long kPerBlock = 4LL * 4 * kMultiThreads;  // values a block updates: four float4s a thread

// Each block updates kPerBlock values of one tensor (found once per block), in float4s where the tensor's length
// allows (storages are 256-byte aligned).
__global__ void __launch_bounds__(kMultiThreads) adamw_multi_kernel(const SlotTable table, int count, Hyper h) {
  int lo = 0, hi = count - 1;  // binary search for the slot holding this block
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (table.slot[mid].first_block <= blockIdx.x) lo = mid;
    else hi = mid - 1;
  }
  const Slot& s = table.slot[lo];
  const long long base = (blockIdx.x - s.first_block) * kPerBlock, end = min(s.n, base + kPerBlock);
  if (s.n % 4 == 0) {
    for (long long i = base + 4LL * threadIdx.x; i < end; i += 4LL * kMultiThreads) {
      float4 p = *reinterpret_cast<const float4*>(s.p + i), m = *reinterpret_cast<const float4*>(s.m + i),
             v = *reinterpret_cast<const float4*>(s.v + i);
      const float4 g = *reinterpret_cast<const float4*>(s.g + i);
      adamw_value(p.x, g.x, m.x, v.x, h);
      adamw_value(p.y, g.y, m.y, v.y, h);
      adamw_value(p.z, g.z, m.z, v.z, h);
      adamw_value(p.w, g.w, m.w, v.w, h);
      *reinterpret_cast<float4*>(s.p + i) = p;
      *reinterpret_cast<float4*>(s.m + i) = m;
      *reinterpret_cast<float4*>(s.v + i) = v;
    }
  } else {
    for (long long i = base + threadIdx.x; i < end; i += kMultiThreads) adamw_one(s.p, s.g, s.m, s.v, i, h);
  }
}

Hyper hyper(const bc::Args& a, size_t first) {
  Hyper h{};
  h.lr = a.num(first, "lr");
  h.beta1 = a.num(first + 1, "beta1");
  h.beta2 = a.num(first + 2, "beta2");
  h.eps = a.num(first + 3, "eps");
  h.wd = a.num(first + 4, "weightDecay");
  const double step = a.num(first + 5, "step");
  if (!(step >= 1)) throw std::runtime_error("step = " + std::to_string(step) + " is not allowed; expected a 1-based count >= 1");
  h.grad_scale = a.num(first + 6, "gradScale");
  h.c1 = 1 - pow(h.beta1, step);
  h.c2 = 1 - pow(h.beta2, step);
  return h;
}

}  // namespace

// adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, gradScale)
BC_KERNEL(adamw) {
  const long long n = a.integer(4, "n");
  float* p = a.f32(0, "param", n);
  const float* g = a.f32(1, "grad", n);
  float* m = a.f32(2, "m", n);
  float* v = a.f32(3, "v", n);
  const Hyper h = hyper(a, 5);
  if (n == 0) return nullptr;
  bc::op_context() = "adamw(n=" + std::to_string(n) + ")";
  adamw_kernel<<<bc::blocks_for(n, 256), 256>>>(p, g, m, v, n, h);
  bc::check_launch("adamw");
  return nullptr;
}

// adamwMulti(params[], grads[], ms[], vs[], sizes[], lr, beta1, beta2, eps, weightDecay, step, gradScale):
// the arrays hold storages; one launch per 64 of them updates them all, without waiting for the GPU.
BC_KERNEL(adamwMulti) {
  const auto sizes = a.ints(4, "sizes");
  const Hyper h = hyper(a, 5);
  std::vector<Slot> slots;
  long long all = 0;
  for (size_t k = 0; k < sizes.size(); k++) {
    napi_value arrays[4];
    for (int j = 0; j < 4; j++) napi_get_element(a.env, a.argv[j], static_cast<uint32_t>(k), &arrays[j]);
    napi_value argv[4] = {arrays[0], arrays[1], arrays[2], arrays[3]};
    bc::Args item = a;
    item.argv.assign(argv, argv + 4);
    const long long n = sizes[k];
    slots.push_back({item.f32(0, "params[k]", n), item.f32(1, "grads[k]", n), item.f32(2, "ms[k]", n), item.f32(3, "vs[k]", n), n, 0});
    all += n;
  }
  if (all == 0) return nullptr;
  bc::op_context() = "adamwMulti(" + std::to_string(slots.size()) + " tensors, " + std::to_string(all) + " parameters)";
  for (size_t first = 0; first < slots.size(); first += kSlotsPerLaunch) {
    SlotTable table{};
    const int count = static_cast<int>(std::min<size_t>(kSlotsPerLaunch, slots.size() - first));
    long long blocks = 0;
    for (int k = 0; k < count; k++) {
      table.slot[k] = slots[first + k];
      table.slot[k].first_block = blocks;  // within this launch
      blocks += (table.slot[k].n + kPerBlock - 1) / kPerBlock;
    }
    if (blocks == 0) continue;
    if (blocks > 2147483647LL) throw std::runtime_error("adamwMulti: too many parameters for one launch");
    adamw_multi_kernel<<<static_cast<unsigned>(blocks), kMultiThreads>>>(table, count, h);
    bc::check_launch("adamwMulti");
  }
  return nullptr;
}
