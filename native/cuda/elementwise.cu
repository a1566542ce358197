// Elementwise kernels: unary ops and their derivatives, broadcasting binary ops, where, affine.
// Float32 math with CUDA's accurate functions (no fast-math), as the interface's definitions in
// src/backends/js/elementwise.ts.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common.cuh"

namespace {

enum Unary { kNeg, kExp, kLog, kSqrt, kRsqrt, kAbs, kSign, kRound, kFloor, kRelu, kGelu, kSilu, kSigmoid, kTanh, kSquare, kReciprocal };
const char* kUnaryNames[] = {"neg", "exp", "log", "sqrt", "rsqrt", "abs", "sign", "round", "floor", "relu", "gelu", "silu", "sigmoid", "tanh", "square", "reciprocal"};
enum Binary { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kLt, kLe, kGt, kGe, kEq, kNe };
const char* kBinaryNames[] = {"add", "sub", "mul", "div", "pow", "max", "min", "lt", "le", "gt", "ge", "eq", "ne"};

template <size_t N>
int lookup(const char* const (&names)[N], const std::string& op, const char* what) {
  for (size_t i = 0; i < N; i++)
    if (op == names[i]) return static_cast<int>(i);
  throw std::runtime_error(std::string(what) + " op '" + op + "' is not known");
}

constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2 / pi)

__device__ inline float unary(int op, float x) {
  switch (op) {
    case kNeg: return -x;
    case kExp: return expf(x);
    case kLog: return logf(x);
    case kSqrt: return sqrtf(x);
    case kRsqrt: return 1.0f / sqrtf(x);
    case kAbs: return fabsf(x);
    case kSign: return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    case kRound: return rintf(x);  // half to even
    case kFloor: return floorf(x);
    case kRelu: return x > 0 ? x : 0.0f;
    case kGelu: return 0.5f * x * (1.0f + tanhf(kGeluC * (x + 0.044715f * x * x * x)));
    case kSilu: return x / (1.0f + expf(-x));
    case kSigmoid: return 1.0f / (1.0f + expf(-x));
    case kTanh: return tanhf(x);
    case kSquare: return x * x;
    default: return 1.0f / x;
  }
}

__device__ inline float derivative(int op, float x) {
  switch (op) {
    case kNeg: return -1.0f;
    case kExp: return expf(x);
    case kLog: return 1.0f / x;
    case kSqrt: return 0.5f / sqrtf(x);
    case kRsqrt: return -0.5f / (x * sqrtf(x));
    case kAbs: return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    case kSign:
    case kRound:
    case kFloor: return 0.0f;
    case kRelu: return x > 0 ? 1.0f : 0.0f;
    case kGelu: {
      const float t = tanhf(kGeluC * (x + 0.044715f * x * x * x));
      return 0.5f * (1 + t) + 0.5f * x * (1 - t * t) * kGeluC * (1 + 3 * 0.044715f * x * x);
    }
    case kSilu: {
      const float s = 1.0f / (1.0f + expf(-x));
      return s * (1 + x * (1 - s));
    }
    case kSigmoid: {
      const float s = 1.0f / (1.0f + expf(-x));
      return s * (1 - s);
    }
    case kTanh: {
      const float t = tanhf(x);
      return 1 - t * t;
    }
    case kSquare: return 2 * x;
    default: return -1.0f / (x * x);
  }
}

__device__ inline float binary(int op, float a, float b) {
  switch (op) {
    case kAdd: return a + b;
    case kSub: return a - b;
    case kMul: return a * b;
    case kDiv: return a / b;
    case kPow: return powf(a, b);
    case kMax: return a >= b ? a : b;
    case kMin: return a <= b ? a : b;
    case kLt: return a < b;
    case kLe: return a <= b;
    case kGt: return a > b;
    case kGe: return a >= b;
    case kEq: return a == b;
    default: return a != b;
  }
}

#define GRID_LOOP(i, n) \
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

__global__ void unary_kernel(int op, const float* x, float* out, long long n) {
  GRID_LOOP(i, n) out[i] = unary(op, x[i]);
}
__global__ void unary_grad_kernel(int op, const float* x, const float* gy, float* gx, long long n) {
  GRID_LOOP(i, n) gx[i] = gy[i] * derivative(op, x[i]);
}

// Broadcasting: each operand's offset from the dense output index through its strides.
template <int K>
struct Operands {
  long long s[K][bc::kMaxRank];
};

// Index is int where every offset fits (64-bit division and modulo cost tens of instructions each).
template <int K, typename Index>
__device__ inline void offsets(Index i, const bc::Shape8& shape, const Operands<K>& st, Index (&o)[K]) {
  for (int k = 0; k < K; k++) o[k] = 0;
  for (int d = shape.rank - 1; d >= 0; d--) {
    const Index dim = static_cast<Index>(shape.dim[d]);
    const Index c = i % dim;
    i /= dim;
    for (int k = 0; k < K; k++) o[k] += c * static_cast<Index>(st.s[k][d]);
  }
}

#define GRID_LOOP_T(Index, i, n) \
  for (Index i = blockIdx.x * (Index)blockDim.x + threadIdx.x; i < (n); i += (Index)gridDim.x * blockDim.x)

template <typename Index>
__global__ void binary_kernel(int op, const float* a, const float* b, float* out, bc::Shape8 shape, Operands<2> st, Index n) {
  GRID_LOOP_T(Index, i, n) {
    Index o[2];
    offsets<2>(i, shape, st, o);
    out[i] = binary(op, a[o[0]], b[o[1]]);
  }
}
// Same-shape dense operands: no index arithmetic; four values per thread where the pointers allow 16-byte loads.
__global__ void binary_dense_kernel(int op, const float* a, const float* b, float* out, long long n) {
  GRID_LOOP(i, n) out[i] = binary(op, a[i], b[i]);
}
__global__ void binary_dense4_kernel(int op, const float4* a, const float4* b, float4* out, long long n4) {
  GRID_LOOP(i, n4) {
    const float4 x = a[i], y = b[i];
    out[i] = make_float4(binary(op, x.x, y.x), binary(op, x.y, y.y), binary(op, x.z, y.z), binary(op, x.w, y.w));
  }
}

// One operand a single value (a scale by a device scalar: the fused LM head's backward): the other dense.
template <bool ScalarFirst>
__global__ void binary_scalar4_kernel(int op, const float4* x, const float* scalar, float4* out, long long n4) {
  const float c = *scalar;
  GRID_LOOP(i, n4) {
    const float4 v = x[i];
    out[i] = ScalarFirst ? make_float4(binary(op, c, v.x), binary(op, c, v.y), binary(op, c, v.z), binary(op, c, v.w))
                         : make_float4(binary(op, v.x, c), binary(op, v.y, c), binary(op, v.z, c), binary(op, v.w, c));
  }
}

template <typename Index>
__global__ void where_kernel(const float* c, const float* a, const float* b, float* out, bc::Shape8 shape, Operands<3> st, Index n) {
  GRID_LOOP_T(Index, i, n) {
    Index o[3];
    offsets<3>(i, shape, st, o);
    out[i] = c[o[0]] != 0 ? a[o[1]] : b[o[2]];
  }
}

__global__ void affine_kernel(const float* x, float* out, long long n, float mul, float add) {
  GRID_LOOP(i, n) out[i] = mul * x[i] + add;
}
__global__ void affine4_kernel(const float4* x, float4* out, long long n4, float mul, float add) {
  GRID_LOOP(i, n4) {
    const float4 v = x[i];
    out[i] = make_float4(mul * v.x + add, mul * v.y + add, mul * v.z + add, mul * v.w + add);
  }
}

// 16-byte aligned pointers: the float4 kernels apply (the tail of n % 4 values runs in the scalar kernel).
bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

long long count(const std::vector<long long>& shape) {
  long long n = 1;
  for (long long d : shape) n *= d;
  return n;
}

// Largest element index an operand reads + 1 (for the size check).
long long extent(const std::vector<long long>& shape, const std::vector<long long>& strides) {
  long long e = 0;
  for (size_t d = 0; d < shape.size(); d++) e += (shape[d] - 1) * strides[d];
  return e + 1;
}

// Every index and offset below 2^31 with room for one grid-stride step past the end: the int kernels apply.
bool fits_int(long long n, long long e0, long long e1) {
  const long long limit = (1LL << 31) - (1LL << 28);  // the grid stride is below 2^28
  return n < limit && e0 < limit && e1 < limit;
}


bool all_zero(const std::vector<long long>& strides) {
  for (long long v : strides)
    if (v != 0) return false;
  return true;
}

}  // namespace

// unary(op, x, out, n)
BC_KERNEL(unary) {
  const int op = lookup(kUnaryNames, a.str(0, "op"), "unary");
  const long long n = a.integer(3, "n");
  const float* x = a.f32(1, "x", n);
  float* out = a.out_f32(2, "out", n);
  if (n == 0) return nullptr;
  bc::op_context() = "unary(" + std::string(kUnaryNames[op]) + ", n=" + std::to_string(n) + ")";
  unary_kernel<<<bc::blocks_for(n, 256), 256>>>(op, x, out, n);
  bc::check_launch("unary");
  return nullptr;
}

// unaryGrad(op, x, gy, gx, n)
BC_KERNEL(unaryGrad) {
  const int op = lookup(kUnaryNames, a.str(0, "op"), "unary");
  const long long n = a.integer(4, "n");
  const float* x = a.f32(1, "x", n);
  const float* gy = a.f32(2, "gy", n);
  float* gx = a.out_f32(3, "gx", n);
  if (n == 0) return nullptr;
  bc::op_context() = "unaryGrad(" + std::string(kUnaryNames[op]) + ", n=" + std::to_string(n) + ")";
  unary_grad_kernel<<<bc::blocks_for(n, 256), 256>>>(op, x, gy, gx, n);
  bc::check_launch("unaryGrad");
  return nullptr;
}

// binary(op, a, aStrides, b, bStrides, out, shape)
BC_KERNEL(binary) {
  const int op = lookup(kBinaryNames, a.str(0, "op"), "binary");
  const auto as = a.ints(2, "aStrides"), bs = a.ints(4, "bStrides"), shape = a.ints(6, "shape");
  const long long n = count(shape);
  if (as.size() != shape.size() || bs.size() != shape.size()) throw std::runtime_error("strides and shape differ in rank");
  const float* pa = a.f32(1, "a", n ? extent(shape, as) : 0);
  const float* pb = a.f32(3, "b", n ? extent(shape, bs) : 0);
  float* out = a.out_f32(5, "out", n);
  if (n == 0) return nullptr;
  bc::op_context() = "binary(" + std::string(kBinaryNames[op]) + ", shape=" + bc::shape_str(shape) + ")";
  if (bc::row_major(shape, as) && bc::row_major(shape, bs) && extent(shape, as) == n && extent(shape, bs) == n) {
    const long long n4 = aligned16(pa) && aligned16(pb) && aligned16(out) ? n / 4 : 0;
    if (n4 > 0)
      binary_dense4_kernel<<<bc::blocks_for(n4, 256), 256>>>(op, reinterpret_cast<const float4*>(pa),
                                                             reinterpret_cast<const float4*>(pb), reinterpret_cast<float4*>(out), n4);
    if (n > 4 * n4) binary_dense_kernel<<<bc::blocks_for(n - 4 * n4, 256), 256>>>(op, pa + 4 * n4, pb + 4 * n4, out + 4 * n4, n - 4 * n4);
  } else if (n % 4 == 0 && aligned16(out) && ((all_zero(bs) && bc::row_major(shape, as) && extent(shape, as) == n && aligned16(pa)) ||
                                               (all_zero(as) && bc::row_major(shape, bs) && extent(shape, bs) == n && aligned16(pb)))) {
    const bool scalar_first = all_zero(as);
    const auto* x = reinterpret_cast<const float4*>(scalar_first ? pb : pa);
    auto* o = reinterpret_cast<float4*>(out);
    if (scalar_first) binary_scalar4_kernel<true><<<bc::blocks_for(n / 4, 256), 256>>>(op, x, pa, o, n / 4);
    else binary_scalar4_kernel<false><<<bc::blocks_for(n / 4, 256), 256>>>(op, x, pb, o, n / 4);
  } else {
    Operands<2> st{};
    const bc::Strides8 s0 = bc::to_strides8(as, shape.size(), "aStrides"), s1 = bc::to_strides8(bs, shape.size(), "bStrides");
    std::memcpy(st.s[0], s0.v, sizeof s0.v);
    std::memcpy(st.s[1], s1.v, sizeof s1.v);
    const bc::Shape8 sh = bc::to_shape8(shape, "shape");
    if (fits_int(n, extent(shape, as), extent(shape, bs)))
      binary_kernel<int><<<bc::blocks_for(n, 256), 256>>>(op, pa, pb, out, sh, st, static_cast<int>(n));
    else
      binary_kernel<long long><<<bc::blocks_for(n, 256), 256>>>(op, pa, pb, out, sh, st, n);
  }
  bc::check_launch("binary");
  return nullptr;
}

// where(cond, condStrides, a, aStrides, b, bStrides, out, shape)
BC_KERNEL(where) {
  const auto cs = a.ints(1, "condStrides"), as = a.ints(3, "aStrides"), bs = a.ints(5, "bStrides"), shape = a.ints(7, "shape");
  const long long n = count(shape);
  if (cs.size() != shape.size() || as.size() != shape.size() || bs.size() != shape.size())
    throw std::runtime_error("strides and shape differ in rank");
  const float* c = a.f32(0, "cond", n ? extent(shape, cs) : 0);
  const float* pa = a.f32(2, "a", n ? extent(shape, as) : 0);
  const float* pb = a.f32(4, "b", n ? extent(shape, bs) : 0);
  float* out = a.out_f32(6, "out", n);
  if (n == 0) return nullptr;
  bc::op_context() = "where(shape=" + bc::shape_str(shape) + ")";
  Operands<3> st{};
  const bc::Strides8 s0 = bc::to_strides8(cs, shape.size(), "condStrides"), s1 = bc::to_strides8(as, shape.size(), "aStrides"),
                     s2 = bc::to_strides8(bs, shape.size(), "bStrides");
  std::memcpy(st.s[0], s0.v, sizeof s0.v);
  std::memcpy(st.s[1], s1.v, sizeof s1.v);
  std::memcpy(st.s[2], s2.v, sizeof s2.v);
  const bc::Shape8 sh = bc::to_shape8(shape, "shape");
  if (fits_int(n, extent(shape, cs), std::max(extent(shape, as), extent(shape, bs))))
    where_kernel<int><<<bc::blocks_for(n, 256), 256>>>(c, pa, pb, out, sh, st, static_cast<int>(n));
  else
    where_kernel<long long><<<bc::blocks_for(n, 256), 256>>>(c, pa, pb, out, sh, st, n);
  bc::check_launch("where");
  return nullptr;
}

// affine(x, out, n, mul, add)
BC_KERNEL(affine) {
  const long long n = a.integer(2, "n");
  const float* x = a.f32(0, "x", n);
  float* out = a.out_f32(1, "out", n);
  const float mul = static_cast<float>(a.num(3, "mul")), add = static_cast<float>(a.num(4, "add"));
  if (n == 0) return nullptr;
  bc::op_context() = "affine(n=" + std::to_string(n) + ")";
  const long long n4 = aligned16(x) && aligned16(out) ? n / 4 : 0;
  if (n4 > 0)
    affine4_kernel<<<bc::blocks_for(n4, 256), 256>>>(reinterpret_cast<const float4*>(x), reinterpret_cast<float4*>(out), n4, mul, add);
  if (n > 4 * n4) affine_kernel<<<bc::blocks_for(n - 4 * n4, 256), 256>>>(x + 4 * n4, out + 4 * n4, n - 4 * n4, mul, add);
  bc::check_launch("affine");
  return nullptr;
}
