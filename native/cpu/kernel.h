// Shared plumbing for the native CPU backend: every kernel family is one .cc file that registers its
// N-API functions with BITSCALE_KERNEL; addon.cc exports whatever was registered. binding.gyp compiles
// every .cc in this folder, so adding a kernel file needs no edit elsewhere.
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace bitscale {

using KernelFn = napi_value (*)(napi_env, napi_callback_info);

struct Registration {
  Registration(const char* name, KernelFn fn);
};
std::vector<std::pair<const char*, KernelFn>>& registrations();

// A typed array seen from C++: its data, element count and element type.
struct View {
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type = napi_float32_array;
};

// Argument access. Every accessor takes the argument's position and, optionally, its name and the
// number of elements the kernel will touch; a wrong type or a too-short array throws std::runtime_error
// naming the argument, and wrap() turns that into a JavaScript error naming the kernel.
struct Args {
  napi_env env;
  std::vector<napi_value> argv;
  Args(napi_env env, napi_callback_info info);
  size_t size() const { return argv.size(); }
  float* f32(size_t i, const char* name = nullptr, size_t min_len = 0) const;     // Float32Array
  float* f32_or_null(size_t i, const char* name = nullptr, size_t min_len = 0) const;  // null/undefined -> nullptr
  double* f64(size_t i, const char* name = nullptr, size_t min_len = 0) const;    // Float64Array
  int32_t* i32(size_t i, const char* name = nullptr, size_t min_len = 0) const;   // Int32Array
  uint16_t* u16(size_t i, const char* name = nullptr, size_t min_len = 0) const;  // Uint16Array
  View view(size_t i, const char* name = nullptr) const;                          // any typed array
  double num(size_t i, const char* name = nullptr) const;                         // number
  int64_t integer(size_t i, const char* name = nullptr) const;                    // number, whole, >= 0
  bool flag(size_t i, const char* name = nullptr) const;                          // boolean
  std::vector<int64_t> ints(size_t i, const char* name = nullptr) const;          // array of numbers
  std::vector<double> nums(size_t i, const char* name = nullptr) const;  // array or Float64Array of numbers
  // Plain objects (e.g. a FakeQuantSpec): a property of argument i, or of any object value.
  napi_value field(napi_value object, const char* key) const;
  double to_num(napi_value value, const char* what) const;
  std::string to_str(napi_value value, const char* what) const;
  bool is_nullish(size_t i) const;
};

napi_value wrap(napi_env env, const char* name, napi_callback_info info, void (*body)(const Args&));
napi_value number(napi_env env, double value);

// Kernels that return a value to JavaScript store it here (a thread-local slot read by wrap()).
void set_result(double value);

// Threads of the OpenMP team that every parallel kernel (matmul included: OpenBLAS itself stays single-
// threaded, see blas_threads.h) runs on.
int threads();
void set_threads(int n);

// Below this many elements a kernel runs on one thread: waking the team costs more than it saves.
constexpr int64_t kParallelGrain = 1 << 15;

}  // namespace bitscale

// Defines `napi_value name(env, info)` whose body sees `const Args& a`, and registers it under `name`.
#define BITSCALE_KERNEL(name)                                                           \
  static void name##_body(const bitscale::Args& a);                                     \
  static napi_value name##_napi(napi_env env, napi_callback_info info) {                \
    return bitscale::wrap(env, #name, info, name##_body);                               \
  }                                                                                     \
  static bitscale::Registration name##_registration(#name, name##_napi);                \
  static void name##_body(const bitscale::Args& a)
