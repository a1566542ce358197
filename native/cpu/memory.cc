// Data movement: fill, the strided copy (transpose, slice, broadcast, concat are all this), and dtype casts.
#include <cmath>
#include <cstring>

#include "half.h"
#include "kernel.h"

using bitscale::bf16_to_f32;
using bitscale::f16_to_f32;
using bitscale::f32_to_bf16;
using bitscale::f32_to_f16;
using bitscale::kParallelGrain;

namespace {

// Collapses dims that are contiguous for both operands, so that the innermost loop is as long as possible.
struct Layout {
  std::vector<int64_t> shape, xs, os;
};

Layout collapse(const std::vector<int64_t>& shape, const std::vector<int64_t>& xs, const std::vector<int64_t>& os) {
  Layout l;
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] == 1) continue;
    if (!l.shape.empty() && l.xs.back() == xs[d] * shape[d] && l.os.back() == os[d] * shape[d]) {
      l.shape.back() *= shape[d];
      l.xs.back() = xs[d];
      l.os.back() = os[d];
    } else {
      l.shape.push_back(shape[d]);
      l.xs.push_back(xs[d]);
      l.os.push_back(os[d]);
    }
  }
  if (l.shape.empty()) {
    l.shape.push_back(1);
    l.xs.push_back(0);
    l.os.push_back(0);
  }
  return l;
}

template <class T>
void strided_copy(const T* x, T* out, const Layout& l) {
  const int rank = static_cast<int>(l.shape.size());
  const int64_t inner = l.shape[rank - 1], xi = l.xs[rank - 1], oi = l.os[rank - 1];
  int64_t rows = 1;
  for (int d = 0; d < rank - 1; d++) rows *= l.shape[d];
#pragma omp parallel for schedule(static) if (rows * inner > kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; r++) {
    int64_t xo = 0, oo = 0, rem = r;
    for (int d = rank - 2; d >= 0; d--) {
      const int64_t i = rem % l.shape[d];
      rem /= l.shape[d];
      xo += i * l.xs[d];
      oo += i * l.os[d];
    }
    const T* xp = x + xo;
    T* op = out + oo;
    if (xi == 1 && oi == 1) {
      std::memcpy(op, xp, inner * sizeof(T));
    } else if (xi == 0) {
      for (int64_t j = 0; j < inner; j++) op[j * oi] = xp[0];
    } else {
      for (int64_t j = 0; j < inner; j++) op[j * oi] = xp[j * xi];
    }
  }
}

// Largest element offset a strided view reaches, for bounds checks.
int64_t extent(int64_t offset, const std::vector<int64_t>& strides, const std::vector<int64_t>& shape) {
  int64_t hi = offset;
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] == 0) return -1;
    if (strides[d] < 0) throw std::runtime_error("negative strides are not supported");
    hi += (shape[d] - 1) * strides[d];
  }
  return hi;
}

enum DType { kF32 = 0, kI32 = 1, kBF16 = 2, kF16 = 3 };

float load(const void* p, int dtype, int64_t i) {
  switch (dtype) {
    case kF32: return static_cast<const float*>(p)[i];
    case kI32: return static_cast<float>(static_cast<const int32_t*>(p)[i]);
    case kBF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
}

void store(void* p, int dtype, int64_t i, float v) {
  switch (dtype) {
    case kF32: static_cast<float*>(p)[i] = v; break;
    case kI32: {
      // Truncate, then wrap modulo 2^32 as a JavaScript Int32Array store does (NaN and infinities give 0).
      const double t = std::isfinite(v) ? std::trunc(static_cast<double>(v)) : 0.0;
      const double wrapped = t - 4294967296.0 * std::floor(t / 4294967296.0);
      static_cast<int32_t*>(p)[i] = static_cast<int32_t>(static_cast<uint32_t>(wrapped));
      break;
    }
    case kBF16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); break;
    default: static_cast<uint16_t*>(p)[i] = f32_to_f16(v); break;
  }
}

napi_typedarray_type array_type(int dtype) {
  switch (dtype) {
    case kF32: return napi_float32_array;
    case kI32: return napi_int32_array;
    default: return napi_uint16_array;
  }
}

bitscale::View typed_for(const bitscale::Args& a, size_t i, const char* name, int dtype, int64_t n) {
  bitscale::View v = a.view(i, name);
  if (v.type != array_type(dtype)) {
    const char* want = dtype == kF32 ? "Float32Array" : dtype == kI32 ? "Int32Array" : "Uint16Array";
    throw std::runtime_error(std::string("argument ") + std::to_string(i) + " (" + name + "): expected " + want +
                             " for its dtype");
  }
  if (static_cast<int64_t>(v.length) < n) throw std::runtime_error(std::string(name) + " is shorter than n");
  return v;
}

}  // namespace

// fill(out, n, value): out is Float32Array or Int32Array.
BITSCALE_KERNEL(fill) {
  bitscale::View out = a.view(0, "out");
  const int64_t n = a.integer(1, "n");
  const double value = a.num(2, "value");
  if (static_cast<int64_t>(out.length) < n) throw std::runtime_error("out is shorter than n");
  if (out.type == napi_float32_array) {
    float* o = static_cast<float*>(out.data);
    const float v = static_cast<float>(value);
    for (int64_t i = 0; i < n; i++) o[i] = v;
  } else if (out.type == napi_int32_array) {
    int32_t* o = static_cast<int32_t*>(out.data);
    const int32_t v = static_cast<int32_t>(value);
    for (int64_t i = 0; i < n; i++) o[i] = v;
  } else if (out.type == napi_uint16_array) {
    uint16_t* o = static_cast<uint16_t*>(out.data);
    const uint16_t v = static_cast<uint16_t>(value);  // raw bits: the caller encodes the half value
    for (int64_t i = 0; i < n; i++) o[i] = v;
  } else {
    throw std::runtime_error("argument 0 (out): expected Float32Array, Int32Array or Uint16Array");
  }
}

// strided(x, xOffset, xStrides, out, outOffset, outStrides, shape)
BITSCALE_KERNEL(strided) {
  bitscale::View x = a.view(0, "x");
  const int64_t x_offset = a.integer(1, "xOffset");
  std::vector<int64_t> xs = a.ints(2, "xStrides");
  bitscale::View out = a.view(3, "out");
  const int64_t out_offset = a.integer(4, "outOffset");
  std::vector<int64_t> os = a.ints(5, "outStrides");
  std::vector<int64_t> shape = a.ints(6, "shape");
  if (xs.size() != shape.size() || os.size() != shape.size()) {
    throw std::runtime_error("xStrides, outStrides and shape must have the same length");
  }
  if (x.type != out.type) throw std::runtime_error("x and out must be typed arrays of the same type");
  const int64_t x_hi = extent(x_offset, xs, shape), o_hi = extent(out_offset, os, shape);
  if (x_hi < 0) return;  // empty shape
  if (x_hi >= static_cast<int64_t>(x.length)) throw std::runtime_error("x is read out of bounds");
  if (o_hi >= static_cast<int64_t>(out.length)) throw std::runtime_error("out is written out of bounds");
  Layout l = collapse(shape, xs, os);
  if (x.type == napi_float32_array || x.type == napi_int32_array || x.type == napi_uint32_array) {
    strided_copy(static_cast<const uint32_t*>(x.data) + x_offset, static_cast<uint32_t*>(out.data) + out_offset, l);
  } else if (x.type == napi_uint16_array) {
    strided_copy(static_cast<const uint16_t*>(x.data) + x_offset, static_cast<uint16_t*>(out.data) + out_offset, l);
  } else {
    throw std::runtime_error("argument 0 (x): expected Float32Array, Int32Array or Uint16Array");
  }
}

// cast(x, from, out, to, n) with dtype codes 0 f32, 1 i32, 2 bf16, 3 f16.
BITSCALE_KERNEL(cast) {
  const int from = static_cast<int>(a.integer(1, "from"));
  const int to = static_cast<int>(a.integer(3, "to"));
  if (from > 3 || to > 3) throw std::runtime_error("dtype codes are 0 f32, 1 i32, 2 bf16, 3 f16");
  const int64_t n = a.integer(4, "n");
  bitscale::View x = typed_for(a, 0, "x", from, n);
  bitscale::View out = typed_for(a, 2, "out", to, n);
  if (from == kI32 && to == kI32) {
    std::memmove(out.data, x.data, n * 4);
    return;
  }
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) store(out.data, to, i, load(x.data, from, i));
}

// roundTo(x, out, to, n): out = x rounded to bf16 (to = 2) or f16 (3) and back, both f32: the cast there and
// back in one pass, through the same conversions (bit-identical), with no half-sized buffer.
BITSCALE_KERNEL(roundTo) {
  const int to = static_cast<int>(a.integer(2, "to"));
  if (to != kBF16 && to != kF16) throw std::runtime_error("argument 2 (to): expected 2 (bf16) or 3 (f16)");
  const int64_t n = a.integer(3, "n");
  const float* x = a.f32(0, "x", n);
  float* out = a.f32(1, "out", n);
  if (to == kBF16) {
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; i++) out[i] = bf16_to_f32(f32_to_bf16(x[i]));
  } else {
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; i++) out[i] = f16_to_f32(f32_to_f16(x[i]));
  }
}
