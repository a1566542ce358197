// Fused elementwise kernels of the transformer's training step, each one pass over its tensors in one launch:
// swiglu (silu(gate) * up) and both its gradients; roundTo (f32 -> bf16/f16 -> f32, the emulated half compute
// at every layer boundary). Same float math as the unfused ops (elementwise.cu's silu, memory.cu's cast).
// Vector body: float4 loads and stores where every pointer is 16-byte aligned; the scalar loop takes the rest
// (the n % 4 tail, or everything when a pointer is not aligned). 32-bit indices where n allows.
// swiglu's Round (a dtype code, round_half.cuh) rounds gate and up on load, forward and backward: the op on
// inputs rounded by roundTo, bit for bit, without the two passes. Rounded outputs (swiglu's, and the gradients
// swigluGrad writes) may be kept as 16-bit copies only (halfOnly; bc::written_half_copy).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "common.cuh"
#include "half_in.cuh"
#include "half_out.cuh"
#include "round_half.cuh"

namespace {

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Below this every index, plus one grid stride (< 2^28), fits an int.
bool fits_int(long long n) { return n < (1LL << 31) - (1LL << 28); }

// ---- swiglu ---------------------------------------------------------------------------------------------

// silu(g) = g / (1 + e^-g) as the unary op computes it; s = sigmoid(g) from the same denominator.
struct Silu {
  float s, silu;
};
__device__ inline Silu silu_of(float g) {
  const float d = 1.0f + expf(-g);
  return {1.0f / d, g / d};
}
__device__ inline float swiglu1(float g, float u) { return silu_of(g).silu * u; }
// gGate = gy up silu'(g), silu'(g) = s (1 + g (1 - s)) as the unary gradient; gUp = gy silu(g).
__device__ inline void swiglu_grad1(float g, float u, float dy, float& dg, float& du) {
  const Silu a = silu_of(g);
  dg = dy * u * (a.s * (1.0f + g * (1.0f - a.s)));
  du = dy * a.silu;
}

// R rounds gate and up on load, O the output as it is stored, G the output's gradient on load (round_half.cuh).
template <int R, int O>
__device__ inline float swiglu_r(float g, float u) { return round_half<O>(swiglu1(round_half<R>(g), round_half<R>(u))); }
// ... and D the gradients as they are stored.
template <int R, int G, int D>
__device__ inline void swiglu_grad_r(float g, float u, float dy, float& dg, float& du) {
  swiglu_grad1(round_half<R>(g), round_half<R>(u), round_half<G>(dy), dg, du);
  dg = round_half<D>(dg);
  du = round_half<D>(du);
}

template <int R, int O, typename Index>
__global__ void swiglu_kernel(bc::HalfIn gate, bc::HalfIn up, float* out, Index n, Index n4, bc::HalfOut out16) {
  const Index stride = (Index)gridDim.x * blockDim.x;
  const Index first = blockIdx.x * (Index)blockDim.x + threadIdx.x;
  for (Index i = first; i < n4; i += stride) {
    const float4 g = gate.load4(i), u = up.load4(i);
    const float4 y = make_float4(swiglu_r<R, O>(g.x, u.x), swiglu_r<R, O>(g.y, u.y), swiglu_r<R, O>(g.z, u.z), swiglu_r<R, O>(g.w, u.w));
    bc::store_out4(out, out16, i, y);
  }
  for (Index i = 4 * n4 + first; i < n; i += stride) bc::store_out(out, out16, i, swiglu_r<R, O>(gate[i], up[i]));
}

template <int R, int G, int D, typename Index>
__global__ void swiglu_grad_kernel(bc::HalfIn gate, bc::HalfIn up, const float* gy, float* g_gate, float* g_up,
                                   Index n, Index n4, bc::HalfOut g_gate16, bc::HalfOut g_up16) {
  const Index stride = (Index)gridDim.x * blockDim.x;
  const Index first = blockIdx.x * (Index)blockDim.x + threadIdx.x;
  for (Index i = first; i < n4; i += stride) {
    const float4 g = gate.load4(i), u = up.load4(i);
    const float4 dy = reinterpret_cast<const float4*>(gy)[i];
    float4 dg, du;
    swiglu_grad_r<R, G, D>(g.x, u.x, dy.x, dg.x, du.x);
    swiglu_grad_r<R, G, D>(g.y, u.y, dy.y, dg.y, du.y);
    swiglu_grad_r<R, G, D>(g.z, u.z, dy.z, dg.z, du.z);
    swiglu_grad_r<R, G, D>(g.w, u.w, dy.w, dg.w, du.w);
    bc::store_out4(g_gate, g_gate16, i, dg);
    bc::store_out4(g_up, g_up16, i, du);
  }
  for (Index i = 4 * n4 + first; i < n; i += stride) {
    float dg, du;
    swiglu_grad_r<R, G, D>(gate[i], up[i], gy[i], dg, du);
    bc::store_out(g_gate, g_gate16, i, dg);
    bc::store_out(g_up, g_up16, i, du);
  }
}

// ---- roundTo --------------------------------------------------------------------------------------------

template <int To, typename Index>
__global__ void round_to_kernel(const float* x, float* out, Index n, Index n4) {
  const Index stride = (Index)gridDim.x * blockDim.x;
  const Index first = blockIdx.x * (Index)blockDim.x + threadIdx.x;
  for (Index i = first; i < n4; i += stride) {
    const float4 v = reinterpret_cast<const float4*>(x)[i];
    reinterpret_cast<float4*>(out)[i] = make_float4(round_half<To>(v.x), round_half<To>(v.y), round_half<To>(v.z), round_half<To>(v.w));
  }
  for (Index i = 4 * n4 + first; i < n; i += stride) out[i] = round_half<To>(x[i]);
}

template <int To>
void launch_round_to(const float* x, float* out, long long n, long long n4) {
  const unsigned blocks = bc::blocks_for(n4 > 0 ? n4 : n, 256);
  if (fits_int(n))
    round_to_kernel<To, int><<<blocks, 256>>>(x, out, static_cast<int>(n), static_cast<int>(n4));
  else
    round_to_kernel<To, long long><<<blocks, 256>>>(x, out, n, n4);
}

}  // namespace

// swiglu(gate, up, out, n, round?, roundOutput?, halfOnly?) with round and roundOutput 0 / absent (none), 2 (bf16)
// or 3 (f16)
BC_KERNEL(swiglu) {
  const long long n = a.integer(3, "n");
  const int round = round_code(a, 4, "round"), round_out = round_code(a, 5, "roundOutput");
  const bool half_only = a.flag_or(6, "halfOnly", false);
  float* out = a.out_f32(2, "out", n);  // first: out may alias an input, whose pending values it then writes
  // gate and up as the products left them (their 16-bit copies alone, where so)
  const bc::HalfIn gate = bc::values_of(a, 0, "gate", n), up = bc::values_of(a, 1, "up", n);
  if (n == 0) return nullptr;
  bc::op_context() = "swiglu(n=" + std::to_string(n) + ")";
  const long long n4 = aligned16(gate.data()) && aligned16(up.data()) && aligned16(out) ? n / 4 : 0;
  const unsigned blocks = bc::blocks_for(n4 > 0 ? n4 : n, 256);
  const bc::HalfOut out16 = bc::written_half_copy(a.lookup(2, "out"), n, round_out, half_only);  // for the down projection
  with_round(round, [&](auto r) {
    with_round(round_out, [&](auto o) {
      constexpr int R = decltype(r)::value, O = decltype(o)::value;
      if (fits_int(n))
        swiglu_kernel<R, O, int><<<blocks, 256>>>(gate, up, out, static_cast<int>(n), static_cast<int>(n4), out16);
      else
        swiglu_kernel<R, O, long long><<<blocks, 256>>>(gate, up, out, n, n4, out16);
    });
  });
  bc::check_launch("swiglu");
  return nullptr;
}

// swigluGrad(gate, up, gy, gGate, gUp, n, round?, roundGy?, roundGrads?, halfOnly?): the gradients at the rounded
// gate and up, of gy rounded on load with roundGy, rounded as they are stored with roundGrads
BC_KERNEL(swigluGrad) {
  const long long n = a.integer(5, "n");
  const int round = round_code(a, 6, "round"), round_gy = round_code(a, 7, "roundGy"), round_grads = round_code(a, 8, "roundGrads");
  const bool half_only = a.flag_or(9, "halfOnly", false);
  float* g_gate = a.out_f32(3, "gGate", n);
  float* g_up = a.out_f32(4, "gUp", n);
  const bc::HalfIn gate = bc::values_of(a, 0, "gate", n), up = bc::values_of(a, 1, "up", n);
  const float* gy = a.f32(2, "gy", n);
  if (n == 0) return nullptr;
  bc::op_context() = "swigluGrad(n=" + std::to_string(n) + ")";
  const bool vec = aligned16(gate.data()) && aligned16(up.data()) && aligned16(gy) && aligned16(g_gate) && aligned16(g_up);
  const long long n4 = vec ? n / 4 : 0;
  // Both gradients feed products (the gate and up projections' backward): their 16-bit copies too.
  const bc::HalfOut g_gate16 = bc::written_half_copy(a.lookup(3, "gGate"), n, round_grads, half_only),
                    g_up16 = bc::written_half_copy(a.lookup(4, "gUp"), n, round_grads, half_only);
  const unsigned blocks = bc::blocks_for(n4 > 0 ? n4 : n, 256);
  with_round(round, [&](auto r) {
    with_round(round_gy, [&](auto gr) {
      with_round(round_grads, [&](auto dr) {
        constexpr int R = decltype(r)::value, G = decltype(gr)::value, D = decltype(dr)::value;
        if (fits_int(n))
          swiglu_grad_kernel<R, G, D, int><<<blocks, 256>>>(gate, up, gy, g_gate, g_up, static_cast<int>(n),
                                                             static_cast<int>(n4), g_gate16, g_up16);
        else
          swiglu_grad_kernel<R, G, D, long long><<<blocks, 256>>>(gate, up, gy, g_gate, g_up, n, n4, g_gate16, g_up16);
      });
    });
  });
  bc::check_launch("swigluGrad");
  return nullptr;
}

// roundTo(x, out, to, n) with to = 2 (bf16) or 3 (f16); x and out are f32.
BC_KERNEL(roundTo) {
  const long long to = a.integer(2, "to");
  if (to != bc::kBF16 && to != bc::kF16) throw std::runtime_error("argument 2 (to): expected 2 (bf16) or 3 (f16), got " + std::to_string(to));
  const long long n = a.integer(3, "n");
  const float* x = a.f32(0, "x", n);
  float* out = a.out_f32(1, "out", n);
  if (n == 0) return nullptr;
  bc::op_context() = std::string("roundTo(") + bc::dtype_name(static_cast<int>(to)) + ", n=" + std::to_string(n) + ")";
  const long long n4 = aligned16(x) && aligned16(out) ? n / 4 : 0;
  if (to == bc::kBF16)
    launch_round_to<bc::kBF16>(x, out, n, n4);
  else
    launch_round_to<bc::kF16>(x, out, n, n4);
  bc::check_launch("roundTo");
  return nullptr;
}
