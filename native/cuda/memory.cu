// Data movement: fill, the strided copy (transpose, slice, broadcast, concat and their gradients), dtype casts.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common.cuh"

namespace {

template <class T>
__global__ void fill_kernel(T* out, long long n, T value) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    out[i] = value;
}

// One thread per output element of `shape`; both operands addressed through their strides (Index: int where the
// storages allow it).
template <class T, typename Index>
__global__ void strided_kernel(const T* x, long long x_off, bc::Strides8 xs, T* out, long long o_off, bc::Strides8 os,
                               bc::Shape8 shape, long long n) {
  x += x_off;
  out += o_off;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    Index rest = static_cast<Index>(i), xi = 0, oi = 0;
    for (int d = shape.rank - 1; d >= 0; d--) {
      const Index dim = static_cast<Index>(shape.dim[d]);
      const Index c = rest % dim;
      rest /= dim;
      xi += c * static_cast<Index>(xs.v[d]);
      oi += c * static_cast<Index>(os.v[d]);
    }
    out[oi] = x[xi];
  }
}


__device__ inline float load_as_float(const void* x, int dtype, long long i) {
  switch (dtype) {
    case bc::kF32: return static_cast<const float*>(x)[i];
    case bc::kI32: return static_cast<float>(static_cast<const int*>(x)[i]);
    case bc::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(x)[i]);
    default: return __half2float(static_cast<const __half*>(x)[i]);
  }
}

__global__ void cast_kernel(const void* x, int from, void* out, int to, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    if (from == bc::kI32 && to == bc::kI32) {
      static_cast<int*>(out)[i] = static_cast<const int*>(x)[i];
      continue;
    }
    const float v = load_as_float(x, from, i);
    switch (to) {
      case bc::kF32: static_cast<float*>(out)[i] = v; break;
      case bc::kI32: static_cast<int*>(out)[i] = static_cast<int>(truncf(v)); break;
      case bc::kBF16: static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(v); break;
      default: static_cast<__half*>(out)[i] = __float2half_rn(v); break;
    }
  }
}

}  // namespace

// fill(out, n, value): f32 or i32 storage.
BC_KERNEL(fill) {
  bc::Storage& out = a.storage(0, "out");
  const long long n = a.integer(1, "n");
  const double value = a.num(2, "value");
  if (n > static_cast<long long>(out.size)) throw std::runtime_error("out holds fewer than n = " + std::to_string(n) + " elements");
  if (n == 0) return nullptr;
  bc::op_context() = "fill(n=" + std::to_string(n) + ")";
  const unsigned g = bc::blocks_for(n, 256);
  if (out.dtype == bc::kF32) fill_kernel<float><<<g, 256>>>(static_cast<float*>(out.ptr), n, static_cast<float>(value));
  else if (out.dtype == bc::kI32) fill_kernel<int><<<g, 256>>>(static_cast<int*>(out.ptr), n, static_cast<int>(value));
  else throw std::runtime_error("fill supports f32 and i32 storages, got " + std::string(bc::dtype_name(out.dtype)));
  bc::check_launch("fill");
  return nullptr;
}

// strided(x, xOffset, xStrides, out, outOffset, outStrides, shape)
BC_KERNEL(strided) {
  bc::Storage& x = a.storage(0, "x");
  const long long x_off = a.integer(1, "xOffset");
  const auto xs = a.ints(2, "xStrides");
  bc::Storage& out = a.storage(3, "out");
  const long long o_off = a.integer(4, "outOffset");
  const auto os = a.ints(5, "outStrides");
  const auto shape = a.ints(6, "shape");
  long long n = 1;
  for (long long d : shape) n *= d;
  if (n == 0) return nullptr;
  if (bc::dtype_bytes(x.dtype) != bc::dtype_bytes(out.dtype))
    throw std::runtime_error("x is " + std::string(bc::dtype_name(x.dtype)) + " but out is " + bc::dtype_name(out.dtype));
  bc::op_context() = "strided(shape=" + bc::shape_str(shape) + ")";
  const size_t bytes = bc::dtype_bytes(x.dtype);
  const bc::Shape8 s = bc::to_shape8(shape, "shape");  // these three check the ranks first
  const bc::Strides8 xs8 = bc::to_strides8(xs, shape.size(), "xStrides");
  const bc::Strides8 os8 = bc::to_strides8(os, shape.size(), "outStrides");
  // Both sides contiguous (a block of rows, a slice of the leading axis): a plain copy.
  if (bc::row_major(shape, xs) && bc::row_major(shape, os)) {
    bc::check(cudaMemcpyAsync(static_cast<char*>(out.ptr) + o_off * bytes, static_cast<const char*>(x.ptr) + x_off * bytes,
                              n * bytes, cudaMemcpyDeviceToDevice),
              "cudaMemcpyAsync(strided)");
    return nullptr;
  }
  const unsigned g = bc::blocks_for(n, 256);
  // 32-bit index math where every offset fits (64-bit division and modulo cost tens of instructions a dimension).
  const bool small = x.size < (1ULL << 31) && out.size < (1ULL << 31);
  auto launch = [&](auto element, auto index) {
    using T = decltype(element);
    strided_kernel<T, decltype(index)><<<g, 256>>>(static_cast<const T*>(x.ptr), x_off, xs8, static_cast<T*>(out.ptr), o_off,
                                                   os8, s, n);
  };
  if (bytes == 4 && small) launch(int{}, int{});
  else if (bytes == 4) launch(int{}, 0LL);
  else if (small) launch(static_cast<unsigned short>(0), int{});
  else launch(static_cast<unsigned short>(0), 0LL);
  bc::check_launch("strided");
  return nullptr;
}

// cast(x, from, out, to, n)
BC_KERNEL(cast) {
  bc::Storage& x = a.storage(0, "x");
  const long long from = a.integer(1, "from");
  bc::Storage& out = a.storage(2, "out");
  const long long to = a.integer(3, "to");
  const long long n = a.integer(4, "n");
  if (from > 3 || to > 3) throw std::runtime_error("dtype codes must be 0..3");
  if (n > static_cast<long long>(x.size) || n > static_cast<long long>(out.size))
    throw std::runtime_error("n = " + std::to_string(n) + " exceeds x (" + std::to_string(x.size) + ") or out (" + std::to_string(out.size) + ")");
  if (n == 0) return nullptr;
  bc::op_context() = "cast(" + std::string(bc::dtype_name(from)) + " -> " + bc::dtype_name(to) + ", n=" + std::to_string(n) + ")";
  cast_kernel<<<bc::blocks_for(n, 256), 256>>>(x.ptr, static_cast<int>(from), out.ptr, static_cast<int>(to), n);
  bc::check_launch("cast");
  return nullptr;
}
