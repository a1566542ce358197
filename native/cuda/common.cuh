// Shared plumbing of the CUDA backend. Every kernel family is one .cu file that registers its N-API
// functions with BITSCALE_CUDA_KERNEL; addon.cu exports whatever was registered. build.sh compiles every .cu
// in this folder, so a new kernel file needs no edit elsewhere.
//
// Conventions: one stream (the legacy default stream), so a block freed to the cache and handed out again is
// ordered after every kernel that used it; every CUDA/cuBLAS call goes through check(), whose message names the
// op, its shapes and the CUDA error. Errors found inside kernels (an index out of range, a non-finite input to
// fakeQuant) are recorded in a device flag and raised at the next synchronization (read, sumSquares, sync), or
// at once when BITSCALE_CUDA_SYNC=1.
#pragma once
#include <cuda_runtime.h>
#include <node_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace bc {

enum DType { kF32 = 0, kI32 = 1, kBF16 = 2, kF16 = 3 };
inline size_t dtype_bytes(int d) { return d == kF32 || d == kI32 ? 4 : 2; }
inline const char* dtype_name(int d) {
  static const char* names[] = {"f32", "i32", "bf16", "f16"};
  return d >= 0 && d < 4 ? names[d] : "?";
}

// A device buffer as JavaScript holds it (inside a napi_external).
struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;  // as requested
  size_t size = 0;   // elements
  int dtype = kF32;
  bool freed = false;
  // alloc() promises zeros; the memset is deferred until something reads the storage, and skipped when a
  // kernel's first touch overwrites every element (most outputs): a training step allocates gigabytes.
  bool zero_pending = false;
  // bf16 and fp16 modes: the 16-bit copy of the first shadow_len elements that products and flash attention read,
  // kept while the storage is only ever their input (a linear's input feeds q, k and v and is used again in
  // backward; attention's q, k and v are read again by its backward). Every accessor except
  // Args::f32_input drops it, so any write (or any other use) invalidates it. shadow_fp16: the copy is half, not
  // bf16 (a mode switch recasts rather than reading the other type's bits).
  void* shadow = nullptr;
  long long shadow_len = 0;
  bool shadow_fp16 = false;
  // matmulFp8's FP8 copies (fp8_cast.cu: amax, codes as stored and transposed), kept and dropped with the shadow.
  void* fp8 = nullptr;
  // The f32 values are not written yet; the 16-bit copy holds them exactly (a kernel that rounded its output to
  // the copy's type kept only the copy: written_half_copy's half_only). settle() writes them from the copy when
  // something reads the f32 data; products and attention read the copy itself, so most such values never are.
  bool f32_pending = false;
};
void settle(Storage& s);       // performs a deferred zero-fill, and writes pending f32 values from the 16-bit copy
void drop_shadow(Storage& s);  // returns the 16-bit copy and the FP8 copies to the cache (settling pending f32 first)
// For a kernel about to overwrite all of a storage: drops whatever is pending (zeros, f32 values from the copy).
void forget_pending(Storage& s);
void write_pending_f32(Storage& s);  // the pending f32 values from the 16-bit copy, which stays (half_copy.cu)
// out[0, n) = the 16-bit values half (bf16, or half where fp16) as f32, exactly (half_copy.cu).
void widen_copy(const void* half, bool fp16, float* out, long long n);
// How many outputs kept only their 16-bit copy, and how many of those had their f32 values written later.
struct HalfOnlyCounts {
  long long kept, widened;
};
HalfOnlyCounts& half_only_counts();
// The storage's 16-bit copy (bf16, or half when fp16) of its first len floats, made (by a cast launched on the
// stream) unless one is kept already; it stays on the storage until something writes it (half_copy.cu).
const void* half_copy(Storage& s, long long len, bool fp16, const char* what);
struct HalfOut;
// For a kernel about to write all of a storage's first len floats: in bf16 / fp16 matmul mode, a fresh 16-bit copy
// kept on the storage for the kernel to fill as it writes (half_out.cuh); empty in the other modes. Call after the
// Args accessor that hands the storage out for writing (which drops the old copy). `rounded` is the dtype code
// (kBF16, kF16; 0 none) the kernel rounds these values to as it stores them; with half_only (the caller's word
// that the values are read as the 16-bit copy: by products or attention) and rounded to the copy's own type over
// the whole storage, the kernel stores the copy only (HalfOut::only) and the f32 values stay pending.
HalfOut written_half_copy(Storage& s, long long len, int rounded = 0, bool half_only = false);
void drop_fp8(Storage& s);     // (fp8_cast.cu)

// ---- errors ---------------------------------------------------------------------------------------------
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The op being run and its shapes, for error messages (set by wrap() and by kernels that know their shapes).
std::string& op_context();
void check(cudaError_t e, const char* what);
void check_launch(const char* kernel);  // cudaGetLastError after a launch (+ sync when BITSCALE_CUDA_SYNC=1)
void raise_deferred();                  // throws if a kernel recorded an error since the last check

// Device-side error record (first error wins).
struct DeviceError {
  int code;          // 0 none; see kErr*
  long long a, b;    // e.g. the bad index and its position
};
enum { kErrNone = 0, kErrGatherIndex = 1, kErrScatterIndex = 2, kErrNonFinite = 3, kErrTarget = 4 };
DeviceError* device_error();
__device__ inline void record_error(DeviceError* e, int code, long long a, long long b) {
  if (atomicCAS(&e->code, 0, code) == 0) {
    e->a = a;
    e->b = b;
  }
}

// ---- memory ---------------------------------------------------------------------------------------------
void* cache_alloc(size_t bytes);
void cache_free(void* ptr);
struct CacheStats {
  size_t in_use_bytes, cached_bytes, device_mallocs, cache_hits, peak_in_use_bytes;
};
CacheStats cache_stats();
void cache_trim();
void cache_reset_peak();              // the peak restarts from the bytes in use now
void cache_set_limit(size_t bytes);   // caps in use + cached; 0 removes the cap
size_t cache_limit();

// A scratch block returned to the cache when it goes out of scope (stream order keeps that safe).
struct Scratch {
  void* ptr = nullptr;
  explicit Scratch(size_t bytes) : ptr(cache_alloc(bytes)) {}
  ~Scratch() { cache_free(ptr); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(ptr); }
};

// Whether strides are the row-major ones of shape (axes of size 1 may have any stride): a dense block.
inline bool row_major(const std::vector<long long>& shape, const std::vector<long long>& strides) {
  long long s = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] != 1 && strides[d] != s) return false;
    s *= shape[d];
  }
  return true;
}

// ---- launch helpers -------------------------------------------------------------------------------------
inline unsigned blocks_for(long long n, int threads, long long cap = 65535LL * 8) {
  long long b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  return static_cast<unsigned>(b < cap ? b : cap);
}
int sm_count();

constexpr int kMaxRank = 8;
struct Strides8 {
  long long v[kMaxRank];
};
struct Shape8 {
  int rank;
  long long dim[kMaxRank];
};

// ---- products (matmul.cu) ---------------------------------------------------------------------------
// Row-major batched C = alpha op(A) op(B) + beta C with A and B already in bf16 (gemm_f16: half), fp32
// accumulation and output.
void gemm_bf16(const void* a, const void* b, float* c, int batch, long long m, long long n, long long k, bool trans_a, bool trans_b,
               long long a_stride, long long b_stride, float alpha, float beta);
void gemm_f16(const void* a, const void* b, float* c, int batch, long long m, long long n, long long k, bool trans_a, bool trans_b,
              long long a_stride, long long b_stride, float alpha, float beta);
// Whether the matmul mode is full fp32 (then attention uses its exact fp32 kernels, not the tensor cores).
bool matmul_uses_fp32();
// Whether the matmul mode is fp16 (then attention's tensor-core operands are half, not bf16).
bool matmul_uses_fp16();
// Whether the matmul mode is bf16 (tf32 mode also runs attention's tensor-core paths on bf16 operands).
bool matmul_uses_bf16();

// ---- N-API arguments ------------------------------------------------------------------------------------
struct Args {
  napi_env env;
  std::vector<napi_value> argv;
  Args(napi_env env, napi_callback_info info);
  // Settles what is pending (the storage is read) and drops its 16-bit copy (it may be written).
  Storage& storage(size_t i, const char* name) const;
  Storage& lookup(size_t i, const char* name) const;  // the storage, untouched (nothing settled, copy kept)
  Storage* storage_or_null(size_t i, const char* name) const;
  // Checks that storage i holds at least n elements of a 4-byte float type.
  float* f32(size_t i, const char* name, long long n) const;
  float* f32_or_null(size_t i, const char* name, long long n) const;
  // A read-only f32 input of at least n elements (zero-fill performed, pending f32 values written) that keeps
  // its 16-bit copy.
  Storage& f32_input(size_t i, const char* name, long long n) const;
  // A read-only input of at least n elements whose reader takes the 16-bit copy (bc::half_copy): its f32 values
  // may stay pending. The zero-fill is performed (a copy is cast from the f32 data where none is kept).
  Storage& half_input(size_t i, const char* name, long long n) const;
  int32_t* i32(size_t i, const char* name, long long n) const;
  // An output the kernel overwrites entirely over [0, n): a pending zero-fill is dropped when n covers the
  // whole storage (and no other argument aliases it), else performed.
  float* out_f32(size_t i, const char* name, long long n) const;
  double num(size_t i, const char* name) const;
  long long integer(size_t i, const char* name) const;
  bool flag(size_t i, const char* name) const;
  bool flag_or(size_t i, const char* name, bool otherwise) const;  // `otherwise` where argument i is absent or null
  std::string str(size_t i, const char* name) const;
  std::vector<long long> ints(size_t i, const char* name) const;
  std::vector<double> nums(size_t i, const char* name) const;
  bool is_nullish(size_t i) const;
  napi_value typed_array(size_t i, const char* name, void** data, size_t* length, napi_typedarray_type* type) const;
};

using KernelBody = napi_value (*)(const Args&);
struct Registration {
  Registration(const char* name, napi_value (*fn)(napi_env, napi_callback_info));
};
std::vector<std::pair<const char*, napi_value (*)(napi_env, napi_callback_info)>>& registrations();
napi_value wrap(napi_env env, const char* name, napi_callback_info info, KernelBody body);
napi_value undefined(napi_env env);
napi_value number(napi_env env, double v);

std::string shape_str(const std::vector<long long>& s);
Shape8 to_shape8(const std::vector<long long>& s, const char* name);
Strides8 to_strides8(const std::vector<long long>& s, size_t rank, const char* name);

}  // namespace bc

// Defines a kernel entry point whose body sees `const bc::Args& a` and returns a napi_value (or nullptr).
#define BC_KERNEL(name)                                                                 \
  static napi_value name##_body(const bc::Args& a);                                     \
  static napi_value name##_napi(napi_env env, napi_callback_info info) {                \
    return bc::wrap(env, #name, info, name##_body);                                     \
  }                                                                                     \
  static bc::Registration name##_registration(#name, name##_napi);                      \
  static napi_value name##_body(const bc::Args& a)
