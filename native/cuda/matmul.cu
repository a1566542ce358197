// matmul through cuBLASLt. Row-major C (m, n) = alpha op(A) op(B) + beta C is computed as the column-major
// product C^T = op(B)^T op(A)^T, so no operand is ever transposed in memory.
//
// Modes (BITSCALE_CUDA_MATMUL, or setMatmulMode): 'bf16' casts both operands to bfloat16 copies (the f32
// storages, master weights included, are untouched; a copy is kept on its storage while nothing else touches it,
// so a weight or an activation is cast once per step, not once per product) and accumulates in fp32 on the tensor cores; 'tf32' feeds
// the f32 operands to the tensor cores in TF32; 'fp32' is full single precision; 'fp16' is 'bf16' with IEEE half
// copies (CUDA_R_16F: 11-bit significand, but magnitudes past 65504 round to inf, which is what fp16 training's
// loss scaler watches for), fp32 accumulation and output. Plans (descriptors + the algorithm, the fastest of the
// heuristic's candidates on the shape's first product) are cached per shape.
// A product asked to round its output to the mode's 16-bit type for readers of 16-bit copies only (roundOutput
// with halfOnly; Backend's HalfOnly) writes that type straight from the accumulators, into the output's 16-bit
// copy, and leaves its f32 values pending (common.cuh): half the bytes written, and its readers read half. Its
// plan is tuned for that output, among algorithms whose split-k partial sums stay in f32: cuBLASLt does not take an
// f32 output's algorithm for a 16-bit one (cublasLtMatmulAlgoCheck refused it), so the sums may run in another
// order than the f32 product's, and the rounded values differ from that product rounded only where such an order
// moves a value across a rounding boundary (on the shapes of tests/cuda and the d1024 model, bit for bit equal).
#include <cublasLt.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>

#include "common.cuh"
#include "cublaslt.cuh"
#include "half_out.cuh"
#include "round_half.cuh"

namespace {

enum Mode { kBf16 = 0, kTf32 = 1, kFp32 = 2, kFp16 = 3 };
const char* kModeNames[] = {"bf16", "tf32", "fp32", "fp16"};

Mode parse_mode(const std::string& s) {
  for (int i = 0; i < 4; i++)
    if (s == kModeNames[i]) return static_cast<Mode>(i);
  throw std::runtime_error("matmul mode '" + s + "' is not one of bf16, tf32, fp32, fp16 (BITSCALE_CUDA_MATMUL)");
}

Mode& mode() {
  static Mode m = [] {
    const char* env = std::getenv("BITSCALE_CUDA_MATMUL");
    return env && *env ? parse_mode(env) : kBf16;
  }();
  return m;
}

// One product shape: descriptors and the chosen algorithm.
struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool usable = true;  // false: no algorithm for this 16-bit output that sums in f32 (the f32 product is used)
  ~Plan() {
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

cublasLtMatrixLayout_t layout(cudaDataType_t type, uint64_t rows, uint64_t cols, int64_t ld, int batch, int64_t stride) {
  cublasLtMatrixLayout_t l;
  bc::check_blas(cublasLtMatrixLayoutCreate(&l, type, rows, cols, ld), "cublasLtMatrixLayoutCreate");
  if (batch > 1) {
    bc::check_blas(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch), "cublasLtMatrixLayoutSetAttribute(batch)");
    bc::check_blas(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride),
               "cublasLtMatrixLayoutSetAttribute(stride)");
  }
  return l;
}

struct Problem {
  int batch;
  long long m, n, k, a_stride, b_stride;
  bool trans_a, trans_b;
  Mode mode;
  bool out16 = false;  // C in the mode's 16-bit type (bf16 or fp16 mode), not f32
  std::string key() const {
    std::ostringstream o;
    o << batch << ',' << m << ',' << n << ',' << k << ',' << a_stride << ',' << b_stride << ',' << trans_a << trans_b << mode
      << out16;
    return o.str();
  }
};

using bc::kTuneCandidates;
using bc::kTuneScratchBytes;
using bc::tuning_enabled;

cublasStatus_t launch(const Plan& plan, const cublasLtMatmulAlgo_t& algo, const void* a, const void* b, void* c, float alpha,
                      float beta) {
  return cublasLtMatmul(bc::blas_handle(), plan.desc, &alpha, b, plan.a, a, plan.b, &beta, c, plan.c, c, plan.c, &algo,
                        bc::blas_workspace(), bc::kBlasWorkspaceBytes, 0);
}

// The fastest of the candidates on this product's own operands, written with beta = 0 to `out` (the product's
// output when it is about to be overwritten, else a scratch buffer); the first where none runs.
cublasLtMatmulAlgo_t fastest(const Plan& plan, const cublasLtMatmulHeuristicResult_t* results, int found, const void* a,
                             const void* b, void* out) {
  const int best = bc::fastest_candidate(found, [&](int i) { return launch(plan, results[i].algo, a, b, out, 1.0f, 0.0f); });
  return results[best < 0 ? 0 : best].algo;
}

// The plan of a product shape, made on its first product: descriptors, and the algorithm (tuned on a, b; `c` is
// the product's output, writable by the tuning runs when `c_is_free`; else they write a scratch block).
Plan& plan_for(const Problem& p, const void* a, const void* b, void* c, bool c_is_free) {
  static std::map<std::string, std::unique_ptr<Plan>> cache;
  const std::string key = p.key();
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  auto plan = std::make_unique<Plan>();
  const cublasComputeType_t compute = p.mode == kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const cudaDataType_t in = p.mode == kBf16 ? CUDA_R_16BF : p.mode == kFp16 ? CUDA_R_16F : CUDA_R_32F;
  bc::check_blas(cublasLtMatmulDescCreate(&plan->desc, compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
  // cuBLAS's first operand is our B (m' = n), its second our A (n' = m).
  const cublasOperation_t op_first = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  bc::check_blas(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_first, sizeof op_first), "cublasLtMatmulDescSetAttribute(transa)");
  bc::check_blas(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_second, sizeof op_second), "cublasLtMatmulDescSetAttribute(transb)");
  plan->a = p.trans_b ? layout(in, p.k, p.n, p.k, p.batch, p.b_stride) : layout(in, p.n, p.k, p.n, p.batch, p.b_stride);
  plan->b = p.trans_a ? layout(in, p.m, p.k, p.m, p.batch, p.a_stride) : layout(in, p.k, p.m, p.k, p.batch, p.a_stride);
  plan->c = layout(p.out16 ? in : CUDA_R_32F, p.n, p.m, p.n, p.batch, p.m * p.n);
  cublasLtMatmulPreference_t pref;
  bc::check_blas(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  const uint64_t ws = bc::kBlasWorkspaceBytes;
  bc::check_blas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws), "cublasLtMatmulPreferenceSetAttribute");
  // A 16-bit output's split-k partial sums stay in f32.
  const bool sums_in_f32 = !p.out16 || bc::prefer_f32_partial_sums(pref);
  cublasLtMatmulHeuristicResult_t results[kTuneCandidates] = {};
  int found = 0;
  const int wanted = tuning_enabled() ? kTuneCandidates : 1;
  const cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(bc::blas_handle(), plan->desc, plan->a, plan->b, plan->c, plan->c, pref, wanted, results, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (p.out16 && (!sums_in_f32 || s != CUBLAS_STATUS_SUCCESS || found == 0)) {
    plan->usable = false;  // the product runs in f32 and is rounded after
    Plan& ref = *plan;
    cache.emplace(key, std::move(plan));
    return ref;
  }
  bc::check_blas(s, "cublasLtMatmulAlgoGetHeuristic");
  if (found == 0) throw bc::CudaError("cublasLtMatmulAlgoGetHeuristic found no algorithm for " + bc::op_context());
  plan->algo = results[0].algo;
  const size_t c_bytes = static_cast<size_t>(p.batch) * p.m * p.n * (p.out16 ? 2 : 4);
  if (found > 1 && c_is_free) {
    plan->algo = fastest(*plan, results, found, a, b, c);
  } else if (found > 1 && c_bytes <= kTuneScratchBytes) {
    bc::Scratch scratch(c_bytes);
    plan->algo = fastest(*plan, results, found, a, b, scratch.as<float>());
  }
  Plan& ref = *plan;
  cache.emplace(key, std::move(plan));
  return ref;
}

// A product's operand as it reaches cuBLASLt: f32 data, or in bf16 (fp16) mode the storage's bf16 (half) copy,
// made on first use and kept on the storage (Storage::shadow) for the next product that reads it unchanged.
struct Operand {
  const char* base;
  int elem_bytes;
  const void* at(long long offset) const { return base + offset * elem_bytes; }
};

Operand operand(bc::Storage& s, long long len, Mode mode, const char* what) {
  if (mode != kBf16 && mode != kFp16) return {static_cast<const char*>(s.ptr), 4};
  return {static_cast<const char*>(bc::half_copy(s, len, mode == kFp16, what)), 2};
}

void run(const Problem& p, const void* a, const void* b, void* c, float alpha, float beta) {
  const Plan& plan = plan_for(p, a, b, c, beta == 0.0f);
  bc::check_blas(launch(plan, plan.algo, a, b, c, alpha, beta), "cublasLtMatmul");
  bc::check_launch("cublasLtMatmul");
}

// gemm_bf16 / gemm_f16: operands already 16-bit (attention's cuBLASLt path).
void gemm_16bit(Mode mode, const void* a, const void* b, float* c, int batch, long long m, long long n, long long k, bool trans_a,
                bool trans_b, long long a_stride, long long b_stride, float alpha, float beta) {
  Problem p{};
  p.batch = batch;
  p.m = m;
  p.n = n;
  p.k = k;
  p.trans_a = trans_a;
  p.trans_b = trans_b;
  p.a_stride = a_stride;
  p.b_stride = b_stride;
  p.mode = mode;
  run(p, a, b, c, alpha, beta);
}

}  // namespace

namespace bc {

bool matmul_uses_fp32() { return mode() == kFp32; }
bool matmul_uses_fp16() { return mode() == kFp16; }
bool matmul_uses_bf16() { return mode() == kBf16; }

void gemm_bf16(const void* a, const void* b, float* c, int batch, long long m, long long n, long long k, bool trans_a, bool trans_b,
               long long a_stride, long long b_stride, float alpha, float beta) {
  gemm_16bit(kBf16, a, b, c, batch, m, n, k, trans_a, trans_b, a_stride, b_stride, alpha, beta);
}

void gemm_f16(const void* a, const void* b, float* c, int batch, long long m, long long n, long long k, bool trans_a, bool trans_b,
              long long a_stride, long long b_stride, float alpha, float beta) {
  gemm_16bit(kFp16, a, b, c, batch, m, n, k, trans_a, trans_b, a_stride, b_stride, alpha, beta);
}

}  // namespace bc

// matmul(a, b, out, batch, m, n, k, transA, transB, aBatchStride, bBatchStride, alpha, accumulate, roundOutput?,
// halfOnly?) with roundOutput 0 / absent, 2 (bf16), 3 (f16): out rounded to it as it is stored
BC_KERNEL(matmul) {
  Problem p{};
  const long long batch = a.integer(3, "batch");
  p.m = a.integer(4, "m");
  p.n = a.integer(5, "n");
  p.k = a.integer(6, "k");
  p.trans_a = a.flag(7, "transA");
  p.trans_b = a.flag(8, "transB");
  p.a_stride = a.integer(9, "aBatchStride");
  p.b_stride = a.integer(10, "bBatchStride");
  const float alpha = static_cast<float>(a.num(11, "alpha"));
  const bool accumulate = a.flag(12, "accumulate");
  const int round_out = round_code(a, 13, "roundOutput");
  const bool half_only = a.flag_or(14, "halfOnly", false);
  p.mode = mode();
  const long long a_len = (batch - 1) * p.a_stride + p.m * p.k, b_len = (batch - 1) * p.b_stride + p.k * p.n;
  // In bf16 / fp16 mode the operands are their 16-bit copies: an operand whose f32 values are pending keeps them so.
  const bool copies = p.mode == kBf16 || p.mode == kFp16;
  bc::Storage& sa = copies ? a.half_input(0, "a", batch ? a_len : 0) : a.f32_input(0, "a", batch ? a_len : 0);
  bc::Storage& sb = copies ? a.half_input(1, "b", batch ? b_len : 0) : a.f32_input(1, "b", batch ? b_len : 0);
  float* pc = accumulate ? a.f32(2, "out", batch * p.m * p.n) : a.out_f32(2, "out", batch * p.m * p.n);
  if (batch == 0 || p.m == 0 || p.n == 0) return nullptr;
  std::ostringstream ctx;
  ctx << "matmul(" << kModeNames[p.mode] << ", batch=" << batch << ", m=" << p.m << ", n=" << p.n << ", k=" << p.k
      << ", transA=" << p.trans_a << ", transB=" << p.trans_b << ", strides=" << p.a_stride << "/" << p.b_stride << ")";
  bc::op_context() = ctx.str();
  if (batch > 2147483647LL) throw std::runtime_error("batch is too large");
  if (p.k == 0) {  // an empty sum: C = beta C
    if (!accumulate) bc::check(cudaMemsetAsync(pc, 0, batch * p.m * p.n * 4), "cudaMemsetAsync");
    return nullptr;
  }
  const float beta = accumulate ? 1.0f : 0.0f;
  const Operand A = operand(sa, a_len, p.mode, "matmul cast A to 16 bits"), B = operand(sb, b_len, p.mode, "matmul cast B to 16 bits");
  // A shared (stride 0) B under a batch of contiguous, untransposed A is one tall product: fold the batch into m.
  const bool folds = batch > 1 && p.b_stride == 0 && !p.trans_a && p.a_stride == p.m * p.k;
  // A rounded output that only 16-bit copies are read from, in the mode's own type: the copy alone.
  const int copy_type = p.mode == kBf16 ? bc::kBF16 : p.mode == kFp16 ? bc::kF16 : 0;
  const long long out_len = batch * p.m * p.n;
  // (rows of C 16-byte aligned in 16 bits, as cuBLASLt's 16-bit outputs want; else the f32 product, rounded after)
  if (half_only && !accumulate && round_out != bc::kF32 && round_out == copy_type && (batch == 1 || folds) &&
      p.n % 8 == 0 && out_len == static_cast<long long>(a.lookup(2, "out").size)) {
    Problem q = p;
    q.m = p.m * batch;
    q.batch = 1;
    q.out16 = true;
    // The plan first (tuned on a scratch output): only with one is the output marked as held by its copy.
    const Plan& plan = plan_for(q, A.at(0), B.at(0), nullptr, false);
    if (plan.usable) {
      const bc::HalfOut out16 = bc::written_half_copy(a.lookup(2, "out"), out_len, round_out, true);  // (only)
      bc::check_blas(launch(plan, plan.algo, A.at(0), B.at(0), out16.ptr, alpha, 0.0f), "cublasLtMatmul");
      bc::check_launch("cublasLtMatmul");
      return nullptr;
    }
  }
  if (folds) {
    Problem q = p;
    q.m = p.m * batch;
    q.batch = 1;
    run(q, A.at(0), B.at(0), pc, alpha, beta);
  } else if (batch > 1 && (p.a_stride == 0 || p.b_stride == 0)) {
    // Other broadcasts (a zero batch stride) go one product at a time; cuBLASLt's strided batches need a real stride.
    Problem q = p;
    q.batch = 1;
    for (long long i = 0; i < batch; i++)
      run(q, A.at(i * p.a_stride), B.at(i * p.b_stride), pc + i * p.m * p.n, alpha, beta);
  } else {
    p.batch = static_cast<int>(batch);
    run(p, A.at(0), B.at(0), pc, alpha, beta);
  }
  // Rounded as stored: bit for bit what a 16-bit output holds (the same accumulators, rounded to nearest even).
  if (round_out != bc::kF32) round_copy(pc, pc, batch * p.m * p.n, round_out);
  return nullptr;
}

// setMatmulMode('bf16' | 'tf32' | 'fp32' | 'fp16') -> the previous mode
BC_KERNEL(setMatmulMode) {
  const Mode previous = mode();
  mode() = parse_mode(a.str(0, "mode"));
  napi_value s;
  napi_create_string_utf8(a.env, kModeNames[previous], NAPI_AUTO_LENGTH, &s);
  return s;
}

BC_KERNEL(matmulMode) {
  napi_value s;
  napi_create_string_utf8(a.env, kModeNames[mode()], NAPI_AUTO_LENGTH, &s);
  return s;
}
