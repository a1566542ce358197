// What every cuBLASLt caller shares (matmul.cu, matmul_fp8.cu): one handle, one workspace (the products run in
// stream order, so they never use it at the same time) and errors that name the status and the op.
#pragma once
#include <cublasLt.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "common.cuh"

namespace bc {

inline const char* blas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_(other)";
  }
}

inline void check_blas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw CudaError(std::string(what) + " failed in " + op_context() + ": " + blas_status_name(s) + " (" +
                    std::to_string(static_cast<int>(s)) + ")");
}

inline cublasLtHandle_t blas_handle() {
  static cublasLtHandle_t h = [] {
    cublasLtHandle_t x;
    check_blas(cublasLtCreate(&x), "cublasLtCreate");
    return x;
  }();
  return h;
}

constexpr size_t kBlasWorkspaceBytes = 32u << 20;
inline void* blas_workspace() {
  static void* w = [] {
    void* p = nullptr;
    check(cudaMalloc(&p, kBlasWorkspaceBytes), "cudaMalloc(cuBLASLt workspace)");
    return p;
  }();
  return w;
}

// Candidates the heuristic offers and the first product of a shape times (fastest_candidate), unless
// BITSCALE_CUDA_MATMUL_TUNE=0 (then the heuristic's first is taken).
constexpr int kTuneCandidates = 8;
// Scratch a tuning run may take when it cannot write to the product's own output (an accumulating product).
constexpr size_t kTuneScratchBytes = 256u << 20;

inline bool tuning_enabled() {
  static const bool on = [] {
    const char* env = std::getenv("BITSCALE_CUDA_MATMUL_TUNE");
    return !(env && std::strcmp(env, "0") == 0);
  }();
  return on;
}

// The index of the fastest of `found` candidate algorithms, launch(i) running candidate i on the product's own
// operands (the mean of two runs after a warm-up; a candidate whose launch fails is passed over), or -1 where none
// runs. The heuristic's first choice is often not the fastest for a training step's tall-skinny shapes; timing a
// few once per shape is cheap next to the thousands of products that follow.
template <class Launch>
int fastest_candidate(int found, Launch launch) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  int best = -1;
  float best_ms = 0;
  for (int i = 0; i < found; i++) {
    if (launch(i) != CUBLAS_STATUS_SUCCESS) continue;  // warm-up
    check(cudaEventRecord(start, 0), "cudaEventRecord");
    for (int r = 0; r < 2; r++) launch(i);
    check(cudaEventRecord(stop, 0), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    if (best < 0 || ms < best_ms) best = i, best_ms = ms;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaGetLastError();  // a refused candidate leaves no error behind
  return best;
}

// Split-k partial sums kept in f32 (no split, or reduced in the compute type) for a 16-bit output: the INPLACE
// and OUTPUT_TYPE schemes add them in the output's type, rounding in the middle of the sum. False where this
// cuBLASLt cannot be asked.
inline bool prefer_f32_partial_sums(cublasLtMatmulPreference_t pref) {
  const uint32_t f32_sums = CUBLASLT_REDUCTION_SCHEME_NONE | CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
  return cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &f32_sums, sizeof f32_sums) ==
         CUBLAS_STATUS_SUCCESS;
}

}  // namespace bc
