// The N-API side of the CUDA addon: argument access, error reporting, device storages (alloc, free, write,
// read) and the module's export table. Kernels live in the other .cu files.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "common.cuh"

namespace bc {

// ---- errors ---------------------------------------------------------------------------------------------
std::string& op_context() {
  static std::string ctx;
  return ctx;
}

static bool sync_mode() {
  static const bool on = [] {
    const char* v = std::getenv("BITSCALE_CUDA_SYNC");
    return v && std::strcmp(v, "0") != 0 && *v;
  }();
  return on;
}

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next op starts clean
  throw CudaError(std::string(what) + " failed in " + op_context() + ": " + cudaGetErrorName(e) + " (" +
                  cudaGetErrorString(e) + ")");
}

void check_launch(const char* kernel) {
  check(cudaGetLastError(), (std::string("launch of ") + kernel).c_str());
  if (sync_mode()) {
    check(cudaDeviceSynchronize(), (std::string("kernel ") + kernel).c_str());
    raise_deferred();
  }
}

DeviceError* device_error() {
  static DeviceError* flag = [] {
    DeviceError* p = nullptr;
    check(cudaMalloc(&p, sizeof(DeviceError)), "cudaMalloc(error flag)");
    check(cudaMemset(p, 0, sizeof(DeviceError)), "cudaMemset(error flag)");
    return p;
  }();
  return flag;
}

void raise_deferred() {
  DeviceError h{};
  check(cudaMemcpy(&h, device_error(), sizeof h, cudaMemcpyDeviceToHost), "cudaMemcpy(error flag)");
  if (h.code == kErrNone) return;
  check(cudaMemset(device_error(), 0, sizeof(DeviceError)), "cudaMemset(error flag)");
  std::ostringstream m;
  switch (h.code) {
    case kErrGatherIndex:
      m << "cuda kernel gather (an earlier op): index " << h.a << " at position " << h.b << " is out of range";
      break;
    case kErrScatterIndex:
      m << "cuda kernel scatterAdd (an earlier op): index " << h.a << " at position " << h.b << " is out of range";
      break;
    case kErrNonFinite:
      m << "cuda kernel fakeQuant (an earlier op): x[" << h.b << "] is not allowed; expected a finite number (no NaN or Inf)";
      break;
    case kErrTarget:
      m << "cuda kernel crossEntropy (an earlier op): target " << h.a << " at row " << h.b << " is outside the classes";
      break;
    default:
      m << "cuda: a kernel recorded error code " << h.code;
  }
  m << " (set BITSCALE_CUDA_SYNC=1 to raise it at the op itself)";
  throw CudaError(m.str());
}

int sm_count() {
  static int n = [] {
    int dev = 0, v = 0;
    check(cudaGetDevice(&dev), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
    return v;
  }();
  return n;
}

// ---- arguments ------------------------------------------------------------------------------------------
static void napi_check(napi_status s, const char* what) {
  if (s != napi_ok) throw std::runtime_error(std::string("N-API: ") + what);
}

static void need(const Storage& s, size_t i, const char* name, long long n, bool want_i32);

Args::Args(napi_env e, napi_callback_info info) : env(e) {
  size_t argc = 32;
  argv.resize(argc);
  napi_check(napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr), "get_cb_info");
  argv.resize(argc);
}

static std::string arg_name(size_t i, const char* name) {
  return "argument " + std::to_string(i) + " (" + (name ? name : "?") + ")";
}

bool Args::is_nullish(size_t i) const {
  if (i >= argv.size()) return true;
  napi_valuetype t;
  napi_check(napi_typeof(env, argv[i], &t), "typeof");
  return t == napi_null || t == napi_undefined;
}

Storage& Args::storage(size_t i, const char* name) const {
  Storage& s = lookup(i, name);
  settle(s);
  drop_shadow(s);  // the caller may write it
  return s;
}

Storage& Args::lookup(size_t i, const char* name) const {
  napi_valuetype t = napi_undefined;
  if (i < argv.size()) napi_check(napi_typeof(env, argv[i], &t), "typeof");
  if (t != napi_external) throw std::runtime_error(arg_name(i, name) + " must be a cuda storage");
  void* p = nullptr;
  napi_check(napi_get_value_external(env, argv[i], &p), "get_value_external");
  auto* s = static_cast<Storage*>(p);
  if (s->freed) throw std::runtime_error(arg_name(i, name) + " was already freed");
  return *s;
}

void drop_shadow(Storage& s) {
  write_pending_f32(s);  // the copy holds the only values
  if (s.fp8) drop_fp8(s);
  if (!s.shadow) return;
  cache_free(s.shadow);  // stream order: the products that read it are queued before any reuse
  s.shadow = nullptr;
  s.shadow_len = 0;
}

void settle(Storage& s) {
  write_pending_f32(s);
  if (!s.zero_pending) return;
  s.zero_pending = false;
  check(cudaMemsetAsync(s.ptr, 0, s.bytes), "cudaMemsetAsync(deferred zero-fill)");
}

void forget_pending(Storage& s) {
  s.zero_pending = false;
  s.f32_pending = false;
}

float* Args::out_f32(size_t i, const char* name, long long n) const {
  Storage* s = &lookup(i, name);
  const void* p = s;
  need(*s, i, name, n, false);
  if (s->zero_pending || s->f32_pending) {
    bool aliased = false;
    for (size_t k = 0; k < argv.size(); k++) {
      napi_valuetype tk;
      void* other = nullptr;
      if (k == i || napi_typeof(env, argv[k], &tk) != napi_ok || tk != napi_external) continue;
      napi_get_value_external(env, argv[k], &other);
      aliased = aliased || other == p;
    }
    if (!aliased && n >= static_cast<long long>(s->size)) forget_pending(*s);  // every element is written
    else settle(*s);
  }
  drop_shadow(*s);
  return static_cast<float*>(s->ptr);
}

Storage* Args::storage_or_null(size_t i, const char* name) const {
  return is_nullish(i) ? nullptr : &storage(i, name);
}

static void need(const Storage& s, size_t i, const char* name, long long n, bool want_i32) {
  const bool ok_type = want_i32 ? s.dtype == kI32 : s.dtype == kF32;
  if (!ok_type)
    throw std::runtime_error(arg_name(i, name) + " must be an " + (want_i32 ? "i32" : "f32") + " storage, got " +
                             dtype_name(s.dtype));
  if (n < 0 || static_cast<long long>(s.size) < n)
    throw std::runtime_error(arg_name(i, name) + " holds " + std::to_string(s.size) + " elements, the kernel needs " +
                             std::to_string(n));
}

float* Args::f32(size_t i, const char* name, long long n) const {
  Storage& s = storage(i, name);
  need(s, i, name, n, false);
  return static_cast<float*>(s.ptr);
}
Storage& Args::f32_input(size_t i, const char* name, long long n) const {
  Storage& s = lookup(i, name);
  need(s, i, name, n, false);
  settle(s);
  return s;
}
Storage& Args::half_input(size_t i, const char* name, long long n) const {
  Storage& s = lookup(i, name);
  need(s, i, name, n, false);
  if (s.zero_pending) settle(s);  // (a storage with pending zeros keeps no copy, so no pending f32 values either)
  return s;
}
float* Args::f32_or_null(size_t i, const char* name, long long n) const {
  return is_nullish(i) ? nullptr : f32(i, name, n);
}
int32_t* Args::i32(size_t i, const char* name, long long n) const {
  Storage& s = storage(i, name);
  need(s, i, name, n, true);
  return static_cast<int32_t*>(s.ptr);
}

double Args::num(size_t i, const char* name) const {
  double v = 0;
  if (i >= argv.size() || napi_get_value_double(env, argv[i], &v) != napi_ok)
    throw std::runtime_error(arg_name(i, name) + " must be a number");
  return v;
}
long long Args::integer(size_t i, const char* name) const {
  const double v = num(i, name);
  if (v < 0 || v != static_cast<double>(static_cast<long long>(v)))
    throw std::runtime_error(arg_name(i, name) + " = " + std::to_string(v) + " is not allowed; expected a whole number >= 0");
  return static_cast<long long>(v);
}
bool Args::flag(size_t i, const char* name) const {
  bool v = false;
  if (i >= argv.size() || napi_get_value_bool(env, argv[i], &v) != napi_ok)
    throw std::runtime_error(arg_name(i, name) + " must be a boolean");
  return v;
}
bool Args::flag_or(size_t i, const char* name, bool otherwise) const { return is_nullish(i) ? otherwise : flag(i, name); }
std::string Args::str(size_t i, const char* name) const {
  char buf[64];
  size_t len = 0;
  if (i >= argv.size() || napi_get_value_string_utf8(env, argv[i], buf, sizeof buf, &len) != napi_ok)
    throw std::runtime_error(arg_name(i, name) + " must be a string");
  return std::string(buf, len);
}
std::vector<long long> Args::ints(size_t i, const char* name) const {
  std::vector<double> d = nums(i, name);
  std::vector<long long> out(d.size());
  for (size_t k = 0; k < d.size(); k++) out[k] = static_cast<long long>(d[k]);
  return out;
}
std::vector<double> Args::nums(size_t i, const char* name) const {
  if (i >= argv.size()) throw std::runtime_error(arg_name(i, name) + " is missing");
  bool is_ta = false;
  napi_check(napi_is_typedarray(env, argv[i], &is_ta), "is_typedarray");
  if (is_ta) {
    void* data;
    size_t len;
    napi_typedarray_type type;
    typed_array(i, name, &data, &len, &type);
    if (type != napi_float64_array) throw std::runtime_error(arg_name(i, name) + " must be a Float64Array or an array");
    const double* p = static_cast<const double*>(data);
    return std::vector<double>(p, p + len);
  }
  bool is_arr = false;
  napi_check(napi_is_array(env, argv[i], &is_arr), "is_array");
  if (!is_arr) throw std::runtime_error(arg_name(i, name) + " must be an array of numbers");
  uint32_t len = 0;
  napi_check(napi_get_array_length(env, argv[i], &len), "array_length");
  std::vector<double> out(len);
  for (uint32_t k = 0; k < len; k++) {
    napi_value el;
    napi_check(napi_get_element(env, argv[i], k, &el), "get_element");
    if (napi_get_value_double(env, el, &out[k]) != napi_ok)
      throw std::runtime_error(arg_name(i, name) + "[" + std::to_string(k) + "] must be a number");
  }
  return out;
}
napi_value Args::typed_array(size_t i, const char* name, void** data, size_t* length, napi_typedarray_type* type) const {
  bool is_ta = false;
  if (i < argv.size()) napi_check(napi_is_typedarray(env, argv[i], &is_ta), "is_typedarray");
  if (!is_ta) throw std::runtime_error(arg_name(i, name) + " must be a typed array");
  napi_value ab;
  size_t offset;
  napi_check(napi_get_typedarray_info(env, argv[i], type, length, data, &ab, &offset), "typedarray_info");
  return ab;
}

// ---- registration and wrapping ----------------------------------------------------------------------------
std::vector<std::pair<const char*, napi_value (*)(napi_env, napi_callback_info)>>& registrations() {
  static std::vector<std::pair<const char*, napi_value (*)(napi_env, napi_callback_info)>> r;
  return r;
}
Registration::Registration(const char* name, napi_value (*fn)(napi_env, napi_callback_info)) {
  registrations().emplace_back(name, fn);
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}
napi_value number(napi_env env, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  return n;
}

napi_value wrap(napi_env env, const char* name, napi_callback_info info, KernelBody body) {
  try {
    op_context() = name;
    Args a(env, info);
    napi_value r = body(a);
    return r ? r : undefined(env);
  } catch (const CudaError& e) {
    napi_throw_error(env, "BITSCALE_CUDA", (std::string("cuda kernel ") + name + ": " + e.what()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, "BITSCALE_CUDA_ARG", (std::string("cuda kernel ") + name + ": " + e.what()).c_str());
  }
  return nullptr;
}

std::string shape_str(const std::vector<long long>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); i++) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

Shape8 to_shape8(const std::vector<long long>& s, const char* name) {
  if (s.size() > kMaxRank) throw std::runtime_error(std::string(name) + " has rank " + std::to_string(s.size()) + "; at most 8 is allowed");
  Shape8 r{};
  r.rank = static_cast<int>(s.size());
  for (size_t i = 0; i < s.size(); i++) r.dim[i] = s[i];
  return r;
}
Strides8 to_strides8(const std::vector<long long>& s, size_t rank, const char* name) {
  if (s.size() != rank)
    throw std::runtime_error(std::string(name) + " has " + std::to_string(s.size()) + " entries; the shape has rank " + std::to_string(rank));
  Strides8 r{};
  for (size_t i = 0; i < s.size(); i++) r.v[i] = s[i];
  return r;
}

}  // namespace bc

// ---- storages -------------------------------------------------------------------------------------------
using bc::Storage;

static void finalize_storage(napi_env, void* data, void*) {
  auto* s = static_cast<Storage*>(data);
  if (!s->freed && s->ptr) bc::cache_free(s->ptr);  // a storage the program forgot to free
  bc::forget_pending(*s);
  bc::drop_shadow(*s);
  delete s;
}

__global__ void to_f32_kernel(const void* x, int from, float* out, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    if (from == bc::kBF16) out[i] = __bfloat162float(static_cast<const __nv_bfloat16*>(x)[i]);
    else out[i] = __half2float(static_cast<const __half*>(x)[i]);
  }
}
__global__ void from_f32_kernel(const float* x, void* out, int to, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    if (to == bc::kBF16) static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(x[i]);
    else static_cast<__half*>(out)[i] = __float2half_rn(x[i]);
  }
}

// alloc(dtype: 0..3, size) -> storage (zero-filled)
BC_KERNEL(alloc) {
  const long long dtype = a.integer(0, "dtype");
  const long long size = a.integer(1, "size");
  if (dtype > 3) throw std::runtime_error("dtype code " + std::to_string(dtype) + " is not one of 0 f32, 1 i32, 2 bf16, 3 f16");
  auto* s = new Storage();
  s->dtype = static_cast<int>(dtype);
  s->size = static_cast<size_t>(size);
  s->bytes = s->size * bc::dtype_bytes(s->dtype);
  bc::op_context() = "alloc(" + std::string(bc::dtype_name(s->dtype)) + ", " + std::to_string(size) + ")";
  try {
    s->ptr = bc::cache_alloc(s->bytes);
    s->zero_pending = true;
  } catch (...) {
    delete s;
    throw;
  }
  napi_value ext;
  napi_create_external(a.env, s, finalize_storage, nullptr, &ext);
  return ext;
}

// free(storage): returns the block to the cache now; the handle is dead afterwards.
BC_KERNEL(free) {
  Storage& s = a.lookup(0, "storage");
  bc::forget_pending(s);  // no zero-fill (or f32 values) for a storage nobody will read
  bc::drop_shadow(s);
  bc::cache_free(s.ptr);
  s.ptr = nullptr;
  s.freed = true;
  return nullptr;
}

// A write of the whole storage replaces the promised zeros (or pending values); a partial one keeps them around it.
static void settle_for_write(Storage& s, long long offset, size_t len) {
  if (offset == 0 && len == s.size) bc::forget_pending(s);
  else bc::settle(s);
  bc::drop_shadow(s);
}

// write(storage, offset, data: Float32Array | Int32Array): host -> device, converting f32 data to bf16/f16.
BC_KERNEL(write) {
  Storage& s = a.lookup(0, "storage");
  const long long offset = a.integer(1, "offset");
  void* data;
  size_t len;
  napi_typedarray_type type;
  a.typed_array(2, "data", &data, &len, &type);
  if (offset + static_cast<long long>(len) > static_cast<long long>(s.size))
    throw std::runtime_error("writing " + std::to_string(len) + " elements at offset " + std::to_string(offset) +
                             " overruns the storage of " + std::to_string(s.size));
  if (len == 0) return nullptr;
  bc::op_context() = "write(" + std::string(bc::dtype_name(s.dtype)) + ", " + std::to_string(len) + " elements)";
  if (s.dtype == bc::kF32 || s.dtype == bc::kI32) {
    const bool match = (s.dtype == bc::kF32 && type == napi_float32_array) || (s.dtype == bc::kI32 && type == napi_int32_array);
    if (!match) throw std::runtime_error("data's typed array does not match the storage dtype " + std::string(bc::dtype_name(s.dtype)));
    settle_for_write(s, offset, len);
    bc::check(cudaMemcpy(static_cast<char*>(s.ptr) + offset * 4, data, len * 4, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
    return nullptr;
  }
  if (type != napi_float32_array) throw std::runtime_error("data for a half storage must be a Float32Array");
  settle_for_write(s, offset, len);
  bc::Scratch staged(len * 4);
  bc::check(cudaMemcpy(staged.ptr, data, len * 4, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
  from_f32_kernel<<<bc::blocks_for(len, 256), 256>>>(staged.as<float>(), static_cast<char*>(s.ptr) + offset * 2, s.dtype, len);
  bc::check_launch("from_f32");
  return nullptr;
}

// read(storage, size, out: Float32Array | Int32Array): device -> host (synchronizes; raises deferred errors).
BC_KERNEL(read) {
  Storage& s = a.storage(0, "storage");
  const long long size = a.integer(1, "size");
  void* data;
  size_t len;
  napi_typedarray_type type;
  a.typed_array(2, "out", &data, &len, &type);
  if (size > static_cast<long long>(s.size) || static_cast<long long>(len) < size)
    throw std::runtime_error("reading " + std::to_string(size) + " elements from a storage of " + std::to_string(s.size));
  bc::op_context() = "read(" + std::string(bc::dtype_name(s.dtype)) + ", " + std::to_string(size) + " elements)";
  if (size > 0) {
    if (s.dtype == bc::kF32 || s.dtype == bc::kI32) {
      bc::check(cudaMemcpy(data, s.ptr, size * 4, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
    } else {
      bc::Scratch staged(size * 4);
      to_f32_kernel<<<bc::blocks_for(size, 256), 256>>>(s.ptr, s.dtype, staged.as<float>(), size);
      bc::check_launch("to_f32");
      bc::check(cudaMemcpy(data, staged.ptr, size * 4, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
    }
  }
  bc::raise_deferred();
  return nullptr;
}

// sync(): waits for queued work and raises errors kernels recorded.
BC_KERNEL(sync) {
  bc::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  bc::raise_deferred();
  return nullptr;
}

// memoryStats() -> [inUseBytes, cachedBytes, deviceMallocs, cacheHits, peakInUseBytes, limitBytes (0: none)]
BC_KERNEL(memoryStats) {
  const bc::CacheStats st = bc::cache_stats();
  napi_value arr;
  napi_create_array_with_length(a.env, 6, &arr);
  const double v[6] = {double(st.in_use_bytes),      double(st.cached_bytes),     double(st.device_mallocs),
                       double(st.cache_hits),        double(st.peak_in_use_bytes), double(bc::cache_limit())};
  for (uint32_t i = 0; i < 6; i++) napi_set_element(a.env, arr, i, bc::number(a.env, v[i]));
  return arr;
}

BC_KERNEL(resetPeakMemory) {
  bc::cache_reset_peak();
  return nullptr;
}

// setMemoryLimit(bytes): caps the bytes the allocator holds (in use + cached); 0 removes the cap.
BC_KERNEL(setMemoryLimit) {
  const long long bytes = a.integer(0, "bytes");
  bc::cache_set_limit(static_cast<size_t>(bytes));
  return nullptr;
}

BC_KERNEL(trimCache) {
  bc::cache_trim();
  return nullptr;
}

// deviceInfo() -> "name|cc|sms|memBytes|driverVersion|runtimeVersion"
BC_KERNEL(deviceInfo) {
  int dev = 0, driver = 0, runtime = 0;
  bc::check(cudaGetDevice(&dev), "cudaGetDevice");
  cudaDeviceProp p{};
  bc::check(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::ostringstream o;
  o << p.name << "|" << p.major << "." << p.minor << "|" << p.multiProcessorCount << "|" << p.totalGlobalMem << "|"
    << driver << "|" << runtime;
  napi_value s;
  napi_create_string_utf8(a.env, o.str().c_str(), NAPI_AUTO_LENGTH, &s);
  return s;
}

static napi_value init(napi_env env, napi_value exports) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    napi_throw_error(env, "BITSCALE_CUDA_NO_DEVICE", "the cuda addon loaded, but no CUDA device is visible (cudaGetDeviceCount)");
    return nullptr;
  }
  for (auto& [name, fn] : bc::registrations()) {
    napi_value f;
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f);
    napi_set_named_property(env, exports, name, f);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
