// FP8 products on the tensor cores (compute capability 8.9+: Ada, Hopper) through cuBLASLt.
//   out (m, n) fp32 = Q_fa(op(A)) @ Q_fb(op(B)),  Q_f = per-tensor absmax quantization to E4M3 or E5M2,
// accumulated in fp32. Row-major out is cuBLAS's column-major outᵀ (n, m) = Q(op(B))ᵀ · Q(op(A))ᵀ, so cuBLAS's
// first operand is ours B and its second ours A. FP8 kernels take only the "TN" form: cuBLAS's A transposed, B
// not, i.e. both operands with k contiguous. So fp8_cast.cu hands over Q(op(A)) as (m, k) and Q(op(B))ᵀ as (n, k),
// byte-transposing the codes where op() leaves k strided, and keeps them on the storage for the next product.
// Scales stay on the device (A/B_SCALE_POINTER): no synchronization anywhere.
#include <cublasLt.h>

#include <map>
#include <memory>
#include <sstream>
#include <tuple>

#include "common.cuh"
#include "cublaslt.cuh"
#include "fp8_cast.cuh"
#include "half_out.cuh"
#include "round_half.cuh"

namespace {

// "8.9" or higher, else the reason: the FP8 tensor cores came with Ada (8.9) and Hopper (9.0).
std::string fp8_unsupported_reason() {
  static std::string reason = [] {
    int dev = 0;
    bc::check(cudaGetDevice(&dev), "cudaGetDevice");
    cudaDeviceProp p{};
    bc::check(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
    if (p.major * 10 + p.minor >= 89) return std::string();
    return std::string(p.name) + " has compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor) +
           "; FP8 tensor cores need 8.9 or higher";
  }();
  return reason;
}

cudaDataType_t cuda_type(bc::Fp8Format f) { return f == bc::kE4M3 ? CUDA_R_8F_E4M3 : CUDA_R_8F_E5M2; }

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulHeuristicResult_t results[bc::kTuneCandidates]{};
  int found = 0;
  int chosen = -1;  // the candidate kept (the fastest that ran, or the first that ran); -1 until the first product
  ~Plan() {
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

// Descriptors and the heuristic's candidates per (m, n, k, formats, output type); the scale pointers are set per
// call. Null where a 16-bit output has no algorithm summing in f32 (the product then runs in f32, rounded after).
Plan* plan_for(long long m, long long n, long long k, bc::Fp8Format fa, bc::Fp8Format fb, int out_type) {
  using Key = std::tuple<long long, long long, long long, int, int, int>;
  static std::map<Key, std::unique_ptr<Plan>> cache;
  const Key key{m, n, k, fa, fb, out_type};
  auto it = cache.find(key);
  if (it != cache.end()) return it->second.get();
  auto plan = std::make_unique<Plan>();
  bc::check_blas(cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  const cublasOperation_t t = CUBLAS_OP_T, nt = CUBLAS_OP_N;
  bc::check_blas(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t), "cublasLtMatmulDescSetAttribute(TRANSA)");
  bc::check_blas(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof nt), "cublasLtMatmulDescSetAttribute(TRANSB)");
  // Full fp32 accumulation (the default, said here): cuBLASLt promotes the tensor cores' partial sums.
  const int8_t fast_accum = 0;
  bc::check_blas(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast_accum, sizeof fast_accum),
             "cublasLtMatmulDescSetAttribute(FAST_ACCUM)");
  // cuBLAS A = Q(op(B))ᵀ stored (k, n) column-major, ld k, used transposed; cuBLAS B = Q(op(A))ᵀ stored (k, m), ld k.
  bc::check_blas(cublasLtMatrixLayoutCreate(&plan->a, cuda_type(fb), k, n, k), "cublasLtMatrixLayoutCreate(A)");
  bc::check_blas(cublasLtMatrixLayoutCreate(&plan->b, cuda_type(fa), k, m, k), "cublasLtMatrixLayoutCreate(B)");
  const cudaDataType_t c_type = out_type == bc::kBF16 ? CUDA_R_16BF : out_type == bc::kF16 ? CUDA_R_16F : CUDA_R_32F;
  bc::check_blas(cublasLtMatrixLayoutCreate(&plan->c, c_type, n, m, n), "cublasLtMatrixLayoutCreate(C)");
  // The heuristic needs the scale attributes to be pointers already: any device address stands in for now.
  const float* placeholder = static_cast<const float*>(bc::blas_workspace());
  bc::check_blas(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &placeholder, sizeof placeholder),
             "cublasLtMatmulDescSetAttribute(A_SCALE_POINTER)");
  bc::check_blas(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &placeholder, sizeof placeholder),
             "cublasLtMatmulDescSetAttribute(B_SCALE_POINTER)");
  cublasLtMatmulPreference_t pref;
  bc::check_blas(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  const uint64_t ws = bc::kBlasWorkspaceBytes;
  bc::check_blas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
             "cublasLtMatmulPreferenceSetAttribute");
  const bool sums_in_f32 = out_type == bc::kF32 || bc::prefer_f32_partial_sums(pref);
  const int wanted = bc::tuning_enabled() ? bc::kTuneCandidates : 1;
  const cublasStatus_t s =
      cublasLtMatmulAlgoGetHeuristic(bc::blas_handle(), plan->desc, plan->a, plan->b, plan->c, plan->c, pref, wanted, plan->results, &plan->found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (out_type != bc::kF32 && (!sums_in_f32 || s != CUBLAS_STATUS_SUCCESS || plan->found == 0)) {
    cache.emplace(key, nullptr);
    return nullptr;
  }
  bc::check_blas(s, "cublasLtMatmulAlgoGetHeuristic");
  if (plan->found == 0) throw bc::CudaError("cublasLtMatmulAlgoGetHeuristic found no FP8 algorithm for " + bc::op_context());
  Plan* ref = plan.get();
  cache.emplace(key, std::move(plan));
  return ref;
}

// out = Q(op(A)) Q(op(B)) (+ out where beta is 1) with the plan: on the first product of its shape, the fastest
// candidate that runs (timed on a scratch output where this one accumulates), else the first; then that one.
void run(Plan& plan, const bc::Fp8Operand& qa, const bc::Fp8Operand& qb, void* out, float beta, size_t out_bytes) {
  const float* scale_first = qb.scale;   // cuBLAS A is ours B
  const float* scale_second = qa.scale;  // cuBLAS B is ours A
  bc::check_blas(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &scale_first, sizeof scale_first),
             "cublasLtMatmulDescSetAttribute(A_SCALE_POINTER)");
  bc::check_blas(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &scale_second, sizeof scale_second),
             "cublasLtMatmulDescSetAttribute(B_SCALE_POINTER)");
  const auto launch = [&](int i, void* c, float b) {
    const float alpha = 1;
    return cublasLtMatmul(bc::blas_handle(), plan.desc, &alpha, qb.codes, plan.a, qa.codes, plan.b, &b, c, plan.c, c, plan.c,
                          &plan.results[i].algo, bc::blas_workspace(), bc::kBlasWorkspaceBytes, 0);
  };
  if (plan.chosen < 0 && plan.found > 1) {
    if (beta == 0) {
      plan.chosen = bc::fastest_candidate(plan.found, [&](int i) { return launch(i, out, 0.0f); });
    } else if (out_bytes <= bc::kTuneScratchBytes) {
      bc::Scratch scratch(out_bytes);
      plan.chosen = bc::fastest_candidate(plan.found, [&](int i) { return launch(i, scratch.ptr, 0.0f); });
    }
  }
  if (plan.chosen >= 0) {
    bc::check_blas(launch(plan.chosen, out, beta), "cublasLtMatmul(FP8)");
  } else {
    // The first candidate cuBLASLt accepts is kept.
    cublasStatus_t status = CUBLAS_STATUS_NOT_SUPPORTED;
    for (int i = 0; i < plan.found && status == CUBLAS_STATUS_NOT_SUPPORTED; i++) {
      status = launch(i, out, beta);
      if (status == CUBLAS_STATUS_SUCCESS) plan.chosen = i;
    }
    bc::check_blas(status, "cublasLtMatmul(FP8), every candidate algorithm");
  }
  bc::check_launch("cublasLtMatmul(FP8)");
}

bc::Fp8Format format_arg(const bc::Args& a, size_t i, const char* name) {
  const std::string s = a.str(i, name);
  if (s == "fp8_e4m3") return bc::kE4M3;
  if (s == "fp8_e5m2") return bc::kE5M2;
  throw std::runtime_error(std::string(name) + " '" + s + "' is not fp8_e4m3 or fp8_e5m2");
}

}  // namespace

// fp8Support() -> "" where FP8 products run here, else why not (the device and its compute capability).
BC_KERNEL(fp8Support) {
  napi_value s;
  napi_create_string_utf8(a.env, fp8_unsupported_reason().c_str(), NAPI_AUTO_LENGTH, &s);
  return s;
}

// matmulFp8(a, b, out, m, n, k, transA, transB, aFormat, bFormat, roundA?, roundB?, accumulate?, roundOutput?,
// halfOnly?): out (m, n) = Q(op(A)) @ Q(op(B)), fp32 accumulation. A is stored (m, k), or (k, m) when transA; B
// (k, n), or (n, k) when transB. m, n, k multiples of 16. roundA / roundB (0 none, 2 bf16, 3 f16): that operand
// quantized from its values rounded to the half type (its 16-bit copy). accumulate: out += the product.
// roundOutput: the product rounded to that type as stored; with halfOnly (Backend's HalfOnly) and the matmul
// mode's own type, cuBLASLt writes it into out's 16-bit copy alone and out's f32 values stay pending.
BC_KERNEL(matmulFp8) {
  const long long m = a.integer(3, "m"), n = a.integer(4, "n"), k = a.integer(5, "k");
  const bool trans_a = a.flag(6, "transA"), trans_b = a.flag(7, "transB");
  const bc::Fp8Format fa = format_arg(a, 8, "aFormat"), fb = format_arg(a, 9, "bFormat");
  const int round_a = round_code(a, 10, "roundA"), round_b = round_code(a, 11, "roundB");
  const bool accumulate = a.flag_or(12, "accumulate", false);
  const int round_out = round_code(a, 13, "roundOutput");
  const bool half_only = a.flag_or(14, "halfOnly", false);
  float* pc = accumulate ? a.f32(2, "out", m * n) : a.out_f32(2, "out", m * n);
  // Inputs keep their FP8 copies (Storage::fp8) for the next product that reads them unchanged; an input quantized
  // from its 16-bit copy leaves its pending f32 values pending.
  bc::Storage& sa = round_a == bc::kF32 ? a.f32_input(0, "a", m * k) : a.half_input(0, "a", m * k);
  bc::Storage& sb = round_b == bc::kF32 ? a.f32_input(1, "b", k * n) : a.half_input(1, "b", k * n);
  bc::Storage& so = a.lookup(2, "out");
  // (an input's copies would be made on the output, then outlive the values the product writes over them)
  if (&so == &sa || &so == &sb) throw std::runtime_error("out is also an input: an FP8 product writes a storage of its own");
  std::ostringstream ctx;
  ctx << "matmulFp8(m=" << m << ", n=" << n << ", k=" << k << ", transA=" << trans_a << ", transB=" << trans_b << ", "
      << (fa == bc::kE4M3 ? "e4m3" : "e5m2") << " x " << (fb == bc::kE4M3 ? "e4m3" : "e5m2") << ")";
  bc::op_context() = ctx.str();
  const std::string why = fp8_unsupported_reason();
  if (!why.empty()) throw std::runtime_error("matmulFp8: " + why);
  if (fa == bc::kE5M2 && fb == bc::kE5M2) throw std::runtime_error("aFormat and bFormat are both fp8_e5m2; cuBLASLt multiplies e4m3 x e4m3, e4m3 x e5m2 or e5m2 x e4m3");
  if (m % 16 || n % 16 || k % 16)
    throw std::runtime_error("m, n, k = " + std::to_string(m) + ", " + std::to_string(n) + ", " + std::to_string(k) +
                             ": FP8 products need each a multiple of 16");
  // One storage as both operands keeps one set of copies: the same number of elements and rounding both times.
  if (&sa == &sb && (m * k != k * n || round_a != round_b))
    throw std::runtime_error("a and b are one storage viewed with different sizes or roundings");
  if (m == 0 || n == 0) return nullptr;
  if (k == 0) {
    if (!accumulate) bc::check(cudaMemsetAsync(pc, 0, m * n * sizeof(float)), "cudaMemsetAsync");
    return nullptr;
  }
  // op(A) (m, k) with k contiguous: A as stored, or the transpose of the stored (k, m).
  const bc::Fp8Operand qa = bc::fp8_operand(sa, trans_a ? k : m, trans_a ? m : k, trans_a, fa, round_a);
  // op(B)ᵀ (n, k) with k contiguous: B as stored when transB (n, k), else the transpose of the stored (k, n).
  const bc::Fp8Operand qb = bc::fp8_operand(sb, trans_b ? n : k, trans_b ? k : n, !trans_b, fb, round_b);
  // A rounded output read only as the mode's 16-bit copy: cuBLASLt writes that type from the accumulators.
  const int copy_type = bc::matmul_uses_bf16() ? bc::kBF16 : bc::matmul_uses_fp16() ? bc::kF16 : bc::kF32;
  if (half_only && !accumulate && round_out != bc::kF32 && round_out == copy_type && n % 8 == 0 &&
      m * n == static_cast<long long>(so.size)) {
    if (Plan* plan = plan_for(m, n, k, fa, fb, round_out)) {  // (the plan first: only with one is out held by its copy)
      const bc::HalfOut out16 = bc::written_half_copy(so, m * n, round_out, true);
      try {
        run(*plan, qa, qb, out16.ptr, 0.0f, static_cast<size_t>(m) * n * 2);
      } catch (...) {
        bc::forget_pending(so);  // (the copy holds nothing: out is not to read its values from it)
        bc::drop_shadow(so);
        throw;
      }
      return nullptr;
    }
  }
  run(*plan_for(m, n, k, fa, fb, bc::kF32), qa, qb, pc, accumulate ? 1.0f : 0.0f, static_cast<size_t>(m) * n * 4);
  // Rounded as stored: what a 16-bit output holds (the same accumulators, rounded to nearest even).
  if (round_out != bc::kF32) round_copy(pc, pc, m * n, round_out);
  return nullptr;
}
