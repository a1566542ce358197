// Shared plumbing for the native CPU backend: every kernel family is one .cc file that registers its
// N-API functions with BITSCALE_KERNEL; addon.cc exports whatever was registered. binding.gyp compiles
// every .cc in this folder, so adding a kernel file needs no edit elsewhere.
#pragma once
#include <node_api.h>

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

// Argument access. Each throws std::runtime_error with the argument's position on a type mismatch;
// wrap() turns that into a JavaScript exception naming the kernel.
struct Args {
  napi_env env;
  std::vector<napi_value> argv;
  Args(napi_env env, napi_callback_info info);
  size_t size() const { return argv.size(); }
  float* f32(size_t i) const;             // Float32Array (null/undefined -> nullptr)
  int32_t* i32(size_t i) const;           // Int32Array
  uint16_t* u16(size_t i) const;          // Uint16Array
  double num(size_t i) const;             // number
  bool flag(size_t i) const;              // boolean
  std::vector<int64_t> ints(size_t i) const;  // array of numbers
  std::vector<double> nums(size_t i) const;   // array or Float64Array of numbers
};

napi_value wrap(napi_env env, const char* name, napi_callback_info info, void (*body)(const Args&));
napi_value number(napi_env env, double value);

}  // namespace bitscale

// Defines `napi_value name(env, info)` whose body sees `const Args& a`, and registers it under `name`.
#define BITSCALE_KERNEL(name)                                                           \
  static void name##_body(const bitscale::Args& a);                                     \
  static napi_value name##_napi(napi_env env, napi_callback_info info) {                \
    return bitscale::wrap(env, #name, info, name##_body);                               \
  }                                                                                     \
  static bitscale::Registration name##_registration(#name, name##_napi);                \
  static void name##_body(const bitscale::Args& a)

// Kernels that return a value to JavaScript store it here (a thread-local slot read by wrap()).
namespace bitscale {
void set_result(double value);
}
