// The addon's entry point and the argument plumbing shared by every kernel (see kernel.h).
#include <omp.h>

#include <cblas.h>
#include <cmath>
#include <cstdlib>
#include <string>

#include "kernel.h"

namespace bitscale {

std::vector<std::pair<const char*, KernelFn>>& registrations() {
  static std::vector<std::pair<const char*, KernelFn>> list;  // function-local: safe during static init
  return list;
}

Registration::Registration(const char* name, KernelFn fn) { registrations().emplace_back(name, fn); }

namespace {

thread_local bool has_result = false;
thread_local double result_value = 0;
int thread_count = 1;

const char* type_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    default: return "BigInt64Array";
  }
}

std::string describe(size_t i, const char* name) {
  std::string s = "argument " + std::to_string(i);
  if (name) s += std::string(" (") + name + ")";
  return s;
}

std::string js_type(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_function: return "function";
    default: break;
  }
  bool is_typed = false;
  napi_is_typedarray(env, v, &is_typed);
  if (is_typed) {
    napi_typedarray_type type;
    size_t length;
    napi_get_typedarray_info(env, v, &type, &length, nullptr, nullptr, nullptr);
    return type_name(type);
  }
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  return is_array ? "Array" : "object";
}

// Thread count from BITSCALE_THREADS, then OMP_NUM_THREADS, then the cores OpenMP sees.
int initial_threads() {
  for (const char* var : {"BITSCALE_THREADS", "OMP_NUM_THREADS"}) {
    const char* s = std::getenv(var);
    if (s && std::atoi(s) > 0) return std::atoi(s);
  }
  return omp_get_num_procs();
}

}  // namespace

int threads() { return thread_count; }

void set_threads(int n) {
  thread_count = n < 1 ? 1 : n;
  omp_set_num_threads(thread_count);
  openblas_set_num_threads(1);  // OpenMP is the only pool: matmul.cc splits products across it
}

void set_result(double value) {
  has_result = true;
  result_value = value;
}

napi_value number(napi_env env, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  return v;
}

Args::Args(napi_env env_, napi_callback_info info) : env(env_) {
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, nullptr, nullptr, nullptr);
  argv.resize(argc);
  if (argc > 0) napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr);
}

bool Args::is_nullish(size_t i) const {
  if (i >= argv.size()) return true;
  napi_valuetype t;
  napi_typeof(env, argv[i], &t);
  return t == napi_null || t == napi_undefined;
}

View Args::view(size_t i, const char* name) const {
  if (i >= argv.size()) throw std::runtime_error(describe(i, name) + " is missing");
  bool is_typed = false;
  napi_is_typedarray(env, argv[i], &is_typed);
  if (!is_typed) throw std::runtime_error(describe(i, name) + ": expected a typed array, got " + js_type(env, argv[i]));
  View v;
  napi_get_typedarray_info(env, argv[i], &v.type, &v.length, &v.data, nullptr, nullptr);
  return v;
}

static void* typed(const Args& a, size_t i, const char* name, size_t min_len, napi_typedarray_type want) {
  if (i >= a.argv.size()) throw std::runtime_error(describe(i, name) + " is missing");
  bool is_typed = false;
  napi_is_typedarray(a.env, a.argv[i], &is_typed);
  napi_typedarray_type type = napi_float64_array;
  size_t length = 0;
  void* data = nullptr;
  if (is_typed) napi_get_typedarray_info(a.env, a.argv[i], &type, &length, &data, nullptr, nullptr);
  if (!is_typed || type != want) {
    throw std::runtime_error(describe(i, name) + ": expected " + type_name(want) + ", got " +
                             js_type(a.env, a.argv[i]));
  }
  if (length < min_len) {
    throw std::runtime_error(describe(i, name) + ": " + type_name(want) + " of " + std::to_string(length) +
                             " elements, the kernel needs " + std::to_string(min_len));
  }
  return data;
}

float* Args::f32(size_t i, const char* name, size_t min_len) const {
  return static_cast<float*>(typed(*this, i, name, min_len, napi_float32_array));
}
float* Args::f32_or_null(size_t i, const char* name, size_t min_len) const {
  return is_nullish(i) ? nullptr : f32(i, name, min_len);
}
double* Args::f64(size_t i, const char* name, size_t min_len) const {
  return static_cast<double*>(typed(*this, i, name, min_len, napi_float64_array));
}
int32_t* Args::i32(size_t i, const char* name, size_t min_len) const {
  return static_cast<int32_t*>(typed(*this, i, name, min_len, napi_int32_array));
}
uint16_t* Args::u16(size_t i, const char* name, size_t min_len) const {
  return static_cast<uint16_t*>(typed(*this, i, name, min_len, napi_uint16_array));
}

double Args::to_num(napi_value value, const char* what) const {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) {
    throw std::runtime_error(std::string(what) + ": expected a number, got " + js_type(env, value));
  }
  return d;
}

std::string Args::to_str(napi_value value, const char* what) const {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &len) != napi_ok) {
    throw std::runtime_error(std::string(what) + ": expected a string, got " + js_type(env, value));
  }
  std::string s(len, '\0');
  napi_get_value_string_utf8(env, value, s.data(), len + 1, &len);
  return s;
}

napi_value Args::field(napi_value object, const char* key) const {
  napi_value v;
  if (napi_get_named_property(env, object, key, &v) != napi_ok) {
    throw std::runtime_error(std::string("cannot read property '") + key + "' of " + js_type(env, object));
  }
  return v;
}

double Args::num(size_t i, const char* name) const {
  if (i >= argv.size()) throw std::runtime_error(describe(i, name) + " is missing");
  return to_num(argv[i], describe(i, name).c_str());
}

int64_t Args::integer(size_t i, const char* name) const {
  double d = num(i, name);
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740992.0) {
    throw std::runtime_error(describe(i, name) + ": expected a whole number >= 0, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

bool Args::flag(size_t i, const char* name) const {
  bool b;
  if (i >= argv.size() || napi_get_value_bool(env, argv[i], &b) != napi_ok) {
    throw std::runtime_error(describe(i, name) + ": expected a boolean");
  }
  return b;
}

std::vector<double> Args::nums(size_t i, const char* name) const {
  if (i >= argv.size()) throw std::runtime_error(describe(i, name) + " is missing");
  bool is_typed = false;
  napi_is_typedarray(env, argv[i], &is_typed);
  if (is_typed) {
    View v = view(i, name);
    if (v.type != napi_float64_array) throw std::runtime_error(describe(i, name) + ": expected Float64Array or Array");
    const double* d = static_cast<const double*>(v.data);
    return std::vector<double>(d, d + v.length);
  }
  bool is_array = false;
  napi_is_array(env, argv[i], &is_array);
  if (!is_array) throw std::runtime_error(describe(i, name) + ": expected an array, got " + js_type(env, argv[i]));
  uint32_t len = 0;
  napi_get_array_length(env, argv[i], &len);
  std::vector<double> out(len);
  for (uint32_t j = 0; j < len; j++) {
    napi_value e;
    napi_get_element(env, argv[i], j, &e);
    out[j] = to_num(e, describe(i, name).c_str());
  }
  return out;
}

std::vector<int64_t> Args::ints(size_t i, const char* name) const {
  std::vector<double> d = nums(i, name);
  std::vector<int64_t> out(d.size());
  for (size_t j = 0; j < d.size(); j++) {
    if (d[j] != std::floor(d[j])) throw std::runtime_error(describe(i, name) + ": expected whole numbers");
    out[j] = static_cast<int64_t>(d[j]);
  }
  return out;
}

napi_value wrap(napi_env env, const char* name, napi_callback_info info, void (*body)(const Args&)) {
  has_result = false;
  try {
    Args args(env, info);
    body(args);
  } catch (const std::exception& e) {
    napi_throw_error(env, "BITSCALE_CPU_KERNEL", (std::string("cpu kernel ") + name + ": " + e.what()).c_str());
    return nullptr;
  }
  if (has_result) return number(env, result_value);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

}  // namespace bitscale

// threads() / setThreads(n): the team size for OpenMP and OpenBLAS together.
BITSCALE_KERNEL(threads) { bitscale::set_result(bitscale::threads()); }
BITSCALE_KERNEL(setThreads) {
  bitscale::set_threads(static_cast<int>(a.integer(0, "n")));
  bitscale::set_result(bitscale::threads());
}

static napi_value init(napi_env env, napi_value exports) {
  bitscale::set_threads(bitscale::initial_threads());
  for (auto& [name, fn] : bitscale::registrations()) {
    napi_value f;
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f);
    napi_set_named_property(env, exports, name, f);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
