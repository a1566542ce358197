// What every cuBLASLt caller shares (matmul.cu, matmul_fp8.cu): one handle, one workspace (the products run in
// stream order, so they never use it at the same time) and errors that name the status and the op.
#pragma once
#include <cublasLt.h>

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

}  // namespace bc
