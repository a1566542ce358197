// Elementwise kernels: unary ops and their gradients, binary ops and where with broadcasting, affine.
#include <omp.h>

#include <cmath>
#include <cstring>
#include <string>

#include "broadcast.h"
#include "half.h"
#include "kernel.h"
#include "vecmath.h"

using bitscale::Broadcast;
using bitscale::fast_exp;
using bitscale::kParallelGrain;

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluC = 0.044715f;

// Applies f elementwise over [0, n), in parallel when it is worth it.
template <class F>
void map1(const float* x, float* out, int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) out[i] = f(x[i]);
}

template <class F>
void map2(const float* x, const float* y, float* out, int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) out[i] = f(x[i], y[i]);
}

inline float sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }
inline float gelu_inner(float x) { return kSqrt2OverPi * (x + kGeluC * x * x * x); }
inline float tanh_fast(float x) {
  // tanh(x) = 1 - 2 / (e^{2x} + 1); exact enough (rel 1e-6) and vectorizable, except tiny |x| where the
  // subtraction cancels: there tanh(x) ~ x - x^3/3.
  const float t = 1.0f - 2.0f / (fast_exp(2.0f * x) + 1.0f);
  return std::fabs(x) < 0.0625f ? x * (1.0f - x * x * (1.0f / 3.0f - x * x * (2.0f / 15.0f))) : t;
}

void unary(const std::string& op, const float* x, float* o, int64_t n) {
  if (op == "neg") return map1(x, o, n, [](float v) { return -v; });
  if (op == "exp") return map1(x, o, n, [](float v) { return fast_exp(v); });
  if (op == "log") return map1(x, o, n, [](float v) { return std::log(v); });
  if (op == "sqrt") return map1(x, o, n, [](float v) { return std::sqrt(v); });
  if (op == "rsqrt") return map1(x, o, n, [](float v) { return 1.0f / std::sqrt(v); });
  if (op == "abs") return map1(x, o, n, [](float v) { return std::fabs(v); });
  if (op == "sign") return map1(x, o, n, [](float v) { return v > 0 ? 1.0f : v < 0 ? -1.0f : v; });
  if (op == "round") return map1(x, o, n, [](float v) { return std::nearbyint(v); });
  if (op == "floor") return map1(x, o, n, [](float v) { return std::floor(v); });
  if (op == "relu") return map1(x, o, n, [](float v) { return v > 0 ? v : 0.0f; });
  // 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation where tanh u is near -1.
  if (op == "gelu") return map1(x, o, n, [](float v) { return v * sigmoid(2.0f * gelu_inner(v)); });
  if (op == "silu") return map1(x, o, n, [](float v) { return v * sigmoid(v); });
  if (op == "sigmoid") return map1(x, o, n, [](float v) { return sigmoid(v); });
  if (op == "tanh") return map1(x, o, n, [](float v) { return tanh_fast(v); });
  if (op == "square") return map1(x, o, n, [](float v) { return v * v; });
  if (op == "reciprocal") return map1(x, o, n, [](float v) { return 1.0f / v; });
  throw std::runtime_error("unknown unary op '" + op + "'");
}

void unary_grad(const std::string& op, const float* x, const float* g, float* o, int64_t n) {
  auto zero = [](float, float) { return 0.0f; };
  if (op == "neg") return map2(x, g, o, n, [](float, float gy) { return -gy; });
  if (op == "exp") return map2(x, g, o, n, [](float v, float gy) { return gy * fast_exp(v); });
  if (op == "log") return map2(x, g, o, n, [](float v, float gy) { return gy / v; });
  if (op == "sqrt") return map2(x, g, o, n, [](float v, float gy) { return gy * 0.5f / std::sqrt(v); });
  if (op == "rsqrt") {
    return map2(x, g, o, n, [](float v, float gy) { return gy * -0.5f / (v * std::sqrt(v)); });
  }
  if (op == "abs") return map2(x, g, o, n, [](float v, float gy) { return v > 0 ? gy : v < 0 ? -gy : 0.0f; });
  if (op == "sign" || op == "round" || op == "floor") return map2(x, g, o, n, zero);
  if (op == "relu") return map2(x, g, o, n, [](float v, float gy) { return v > 0 ? gy : 0.0f; });
  if (op == "gelu") {
    // With s = sigmoid(2u): 0.5 (1 + tanh u) = s and 0.5 (1 - tanh^2 u) = 2 s (1 - s).
    return map2(x, g, o, n, [](float v, float gy) {
      const float s = sigmoid(2.0f * gelu_inner(v));
      const float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluC * v * v);
      return gy * (s + 2.0f * v * s * (1.0f - s) * du);
    });
  }
  if (op == "silu") {
    return map2(x, g, o, n, [](float v, float gy) {
      const float s = sigmoid(v);
      return gy * s * (1.0f + v * (1.0f - s));
    });
  }
  if (op == "sigmoid") {
    return map2(x, g, o, n, [](float v, float gy) {
      const float s = sigmoid(v);
      return gy * s * (1.0f - s);
    });
  }
  if (op == "tanh") {
    return map2(x, g, o, n, [](float v, float gy) {
      const float t = tanh_fast(v);
      return gy * (1.0f - t * t);
    });
  }
  if (op == "square") return map2(x, g, o, n, [](float v, float gy) { return 2.0f * v * gy; });
  if (op == "reciprocal") return map2(x, g, o, n, [](float v, float gy) { return -gy / (v * v); });
  throw std::runtime_error("unknown unary op '" + op + "'");
}

// The innermost run of a binary op, specialized on the stride pattern so each case vectorizes.
template <class F>
void binary_run(F f, const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; i++) o[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; i++) o[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; i++) o[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; i++) o[i] = f(a[i * sa], b[i * sb]);
  }
}

template <class F>
void binary_apply(F f, const Broadcast<2>& bc, const float* a, const float* b, float* o) {
  const int64_t sa = bc.stride(0), sb = bc.stride(1);
  bc.for_each_run([&](const std::array<int64_t, 2>& off, int64_t out_off, int64_t len) {
    binary_run(f, a + off[0], sa, b + off[1], sb, o + out_off, len);
  });
}

void binary(const std::string& op, const Broadcast<2>& bc, const float* a, const float* b, float* o) {
  if (op == "add") return binary_apply([](float x, float y) { return x + y; }, bc, a, b, o);
  if (op == "sub") return binary_apply([](float x, float y) { return x - y; }, bc, a, b, o);
  if (op == "mul") return binary_apply([](float x, float y) { return x * y; }, bc, a, b, o);
  if (op == "div") return binary_apply([](float x, float y) { return x / y; }, bc, a, b, o);
  if (op == "pow") return binary_apply([](float x, float y) { return std::pow(x, y); }, bc, a, b, o);
  // Ties and NaN as the reference: a >= b ? a : b.
  if (op == "max") return binary_apply([](float x, float y) { return x >= y ? x : y; }, bc, a, b, o);
  if (op == "min") return binary_apply([](float x, float y) { return x <= y ? x : y; }, bc, a, b, o);
  if (op == "lt") return binary_apply([](float x, float y) { return x < y ? 1.0f : 0.0f; }, bc, a, b, o);
  if (op == "le") return binary_apply([](float x, float y) { return x <= y ? 1.0f : 0.0f; }, bc, a, b, o);
  if (op == "gt") return binary_apply([](float x, float y) { return x > y ? 1.0f : 0.0f; }, bc, a, b, o);
  if (op == "ge") return binary_apply([](float x, float y) { return x >= y ? 1.0f : 0.0f; }, bc, a, b, o);
  if (op == "eq") return binary_apply([](float x, float y) { return x == y ? 1.0f : 0.0f; }, bc, a, b, o);
  if (op == "ne") return binary_apply([](float x, float y) { return x != y ? 1.0f : 0.0f; }, bc, a, b, o);
  throw std::runtime_error("unknown binary op '" + op + "'");
}

int64_t product(const std::vector<int64_t>& shape) {
  int64_t p = 1;
  for (int64_t d : shape) p *= d;
  return p;
}

}  // namespace

// unary(op, x, out, n)
BITSCALE_KERNEL(unary) {
  const std::string op = a.to_str(a.argv.at(0), "argument 0 (op)");
  const int64_t n = a.integer(3, "n");
  unary(op, a.f32(1, "x", n), a.f32(2, "out", n), n);
}

// unaryGrad(op, x, gy, gx, n)
BITSCALE_KERNEL(unaryGrad) {
  const std::string op = a.to_str(a.argv.at(0), "argument 0 (op)");
  const int64_t n = a.integer(4, "n");
  unary_grad(op, a.f32(1, "x", n), a.f32(2, "gy", n), a.f32(3, "gx", n), n);
}

// binary(op, a, aStrides, b, bStrides, out, shape)
BITSCALE_KERNEL(binary) {
  const std::string op = a.to_str(a.argv.at(0), "argument 0 (op)");
  const std::vector<int64_t> shape = a.ints(6, "shape");
  Broadcast<2> bc(shape, {a.ints(2, "aStrides"), a.ints(4, "bStrides")});
  if (bc.total == 0) return;
  const float* x = a.f32(1, "a", bc.extent(0) + 1);
  const float* y = a.f32(3, "b", bc.extent(1) + 1);
  binary(op, bc, x, y, a.f32(5, "out", product(shape)));
}

// where(cond, condStrides, a, aStrides, b, bStrides, out, shape)
BITSCALE_KERNEL(where) {
  const std::vector<int64_t> shape = a.ints(7, "shape");
  Broadcast<3> bc(shape, {a.ints(1, "condStrides"), a.ints(3, "aStrides"), a.ints(5, "bStrides")});
  if (bc.total == 0) return;
  const float* c = a.f32(0, "cond", bc.extent(0) + 1);
  const float* x = a.f32(2, "a", bc.extent(1) + 1);
  const float* y = a.f32(4, "b", bc.extent(2) + 1);
  float* o = a.f32(6, "out", product(shape));
  const int64_t sc = bc.stride(0), sx = bc.stride(1), sy = bc.stride(2);
  bc.for_each_run([&](const std::array<int64_t, 3>& off, int64_t out_off, int64_t len) {
    const float *cp = c + off[0], *xp = x + off[1], *yp = y + off[2];
    float* op = o + out_off;
    if (sc == 1 && sx == 1 && sy == 1) {
      for (int64_t i = 0; i < len; i++) op[i] = cp[i] != 0 ? xp[i] : yp[i];
    } else {
      for (int64_t i = 0; i < len; i++) op[i] = cp[i * sc] != 0 ? xp[i * sx] : yp[i * sy];
    }
  });
}

// affine(x, out, n, mul, add)
BITSCALE_KERNEL(affine) {
  const int64_t n = a.integer(2, "n");
  const float mul = static_cast<float>(a.num(3, "mul")), add = static_cast<float>(a.num(4, "add"));
  map1(a.f32(0, "x", n), a.f32(1, "out", n), n, [=](float v) { return v * mul + add; });
}

// swiglu(gate, up, out, n, round?, roundOutput?): out = silu(gate) * up, the MLP's gate in one pass (read 2, write 1).
// The same float operations in the same order as unary silu then binary mul, so the result is bit-identical. round
// (0 / absent, 2 bf16, 3 f16) rounds gate and up on load, roundOutput the result as it is stored, as roundTo would.
BITSCALE_KERNEL(swiglu) {
  const int64_t n = a.integer(3, "n");
  const int round = bitscale::round_code(a, 4, "round");
  const int round_out = bitscale::round_code(a, 5, "roundOutput");
  const auto f = [](float g, float u) { return g * sigmoid(g) * u; };
  if (round == bitscale::kRoundNone && round_out == bitscale::kRoundNone) {
    map2(a.f32(0, "gate", n), a.f32(1, "up", n), a.f32(2, "out", n), n, f);
  } else {
    map2(a.f32(0, "gate", n), a.f32(1, "up", n), a.f32(2, "out", n), n, [=](float g, float u) {
      const float y = f(bitscale::round_half(g, round), bitscale::round_half(u, round));
      return bitscale::round_half(y, round_out);
    });
  }
}

// swigluGrad(gate, up, gy, gGate, gUp, n, round?, roundGy?): both gradients in one pass (read 3, write 2), in the
// order of the unfused mul and silu gradients: gGate = (gy up) s (1 + g (1 − s)), gUp = gy silu(g); at gate and up
// rounded on load when round is 2 or 3 (the gradients are not rounded), gy rounded on load with roundGy.
BITSCALE_KERNEL(swigluGrad) {
  const int64_t n = a.integer(5, "n");
  const int round = bitscale::round_code(a, 6, "round");
  const int round_gy = bitscale::round_code(a, 7, "roundGy");
  const float* gate = a.f32(0, "gate", n);
  const float* up = a.f32(1, "up", n);
  const float* gy = a.f32(2, "gy", n);
  float* g_gate = a.f32(3, "gGate", n);
  float* g_up = a.f32(4, "gUp", n);
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) {
    const float g = bitscale::round_half(gate[i], round), u = bitscale::round_half(up[i], round), s = sigmoid(g);
    const float dy = bitscale::round_half(gy[i], round_gy);
    g_gate[i] = dy * u * s * (1.0f + g * (1.0f - s));
    g_up[i] = dy * (g * s);
  }
}
