// KL(teacher ‖ student) on logits (rows, cols), fused for distillation: one kernel forward, one backward,
// one block per row like crossEntropy (softmax.cu); float exps, row sums reduced in double.
#include <cmath>

#include "block_reduce.cuh"
#include "common.cuh"

namespace {

constexpr int kThreads = 256;

// loss[r] = Σ_c p_t (log p_t − log p_s). With e = exp(x − max) and z = Σ e per row this is
//   Σ_c e_t ((t − m_t) − (s − m_s)) / z_t + log z_s − log z_t:
// one pass after the maxima; differences taken from each row's max, so large logits do not cancel.
__global__ void kl_div_logits_kernel(const float* s, const float* t, float* loss, float* lse_s, float* lse_t,
                                     long long cols) {
  const long long o = blockIdx.x * cols;
  float ms = -INFINITY, mt = -INFINITY;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
    ms = fmaxf(ms, s[o + c]);
    mt = fmaxf(mt, t[o + c]);
  }
  ms = block_max(ms, -INFINITY);
  mt = block_max(mt, -INFINITY);
  double zs = 0, zt = 0, dot = 0;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
    const float ds = s[o + c] - ms, dt = t[o + c] - mt;
    const float et = expf(dt);
    zs += expf(ds);
    zt += et;
    dot += static_cast<double>(et) * (dt - ds);
  }
  zs = block_sum(zs);
  zt = block_sum(zt);
  dot = block_sum(dot);
  if (threadIdx.x == 0) {
    const double log_zs = log(zs), log_zt = log(zt);
    lse_s[blockIdx.x] = static_cast<float>(ms + log_zs);
    lse_t[blockIdx.x] = static_cast<float>(mt + log_zt);
    loss[blockIdx.x] = static_cast<float>(dot / zt + (log_zs - log_zt));
  }
}

// gStudent = gLoss[r] (softmax(student) − softmax(teacher)): one read of each row, one write.
__global__ void kl_div_logits_grad_kernel(const float* s, const float* t, const float* lse_s, const float* lse_t,
                                          const float* g_loss, float* g_s, long long cols) {
  const long long r = blockIdx.x, o = r * cols;
  const float g = g_loss[r], ls = lse_s[r], lt = lse_t[r];
  for (long long c = threadIdx.x; c < cols; c += blockDim.x)
    g_s[o + c] = g * (expf(s[o + c] - ls) - expf(t[o + c] - lt));
}

void check_rows(long long rows) {
  if (rows > 2147483647LL) throw std::runtime_error("rows = " + std::to_string(rows) + " is not allowed; at most 2^31 - 1");
}

std::string dims(const char* op, long long rows, long long cols) {
  return std::string(op) + "(rows=" + std::to_string(rows) + ", cols=" + std::to_string(cols) + ")";
}

}  // namespace

// klDivLogits(student, teacher, loss, lseS, lseT, rows, cols)
BC_KERNEL(klDivLogits) {
  const long long rows = a.integer(5, "rows"), cols = a.integer(6, "cols");
  const float* s = a.f32(0, "student", rows * cols);
  const float* t = a.f32(1, "teacher", rows * cols);
  float* loss = a.out_f32(2, "loss", rows);
  float* lse_s = a.out_f32(3, "lseS", rows);
  float* lse_t = a.out_f32(4, "lseT", rows);
  if (rows * cols == 0) return nullptr;
  check_rows(rows);
  bc::op_context() = dims("klDivLogits", rows, cols);
  kl_div_logits_kernel<<<rows, kThreads>>>(s, t, loss, lse_s, lse_t, cols);
  bc::check_launch("klDivLogits");
  return nullptr;
}

// klDivLogitsGrad(student, teacher, lseS, lseT, gLoss, gStudent, rows, cols); the teacher gets no gradient.
BC_KERNEL(klDivLogitsGrad) {
  const long long rows = a.integer(6, "rows"), cols = a.integer(7, "cols");
  const float* s = a.f32(0, "student", rows * cols);
  const float* t = a.f32(1, "teacher", rows * cols);
  const float* lse_s = a.f32(2, "lseS", rows);
  const float* lse_t = a.f32(3, "lseT", rows);
  const float* g_loss = a.f32(4, "gLoss", rows);
  float* g_s = a.out_f32(5, "gStudent", rows * cols);
  if (rows * cols == 0) return nullptr;
  check_rows(rows);
  bc::op_context() = dims("klDivLogitsGrad", rows, cols);
  kl_div_logits_grad_kernel<<<rows, kThreads>>>(s, t, lse_s, lse_t, g_loss, g_s, cols);
  bc::check_launch("klDivLogitsGrad");
  return nullptr;
}
