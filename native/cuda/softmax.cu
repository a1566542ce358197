// Row-wise softmax, log-softmax and cross-entropy with their gradients: one block per row, fp32 values with
// the row statistics (max, sum, dot) reduced in double where the reference accumulates in double.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "block_reduce.cuh"
#include "common.cuh"
#include "half_in.cuh"
#include "half_out.cuh"
#include "round_half.cuh"

namespace {

constexpr int kThreads = 256;

// Row max and log-sum-exp of x[0..cols).
__device__ inline void row_stats(const float* x, long long cols, float& max_out, double& lse_out) {
  float m = -INFINITY;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, x[c]);
  m = block_max(m, -INFINITY);
  double s = 0;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) s += expf(x[c] - m);  // float exp, double sum
  s = block_sum(s);
  max_out = m;
  lse_out = m + log(s);
}

__global__ void softmax_kernel(const float* x, float* out, long long cols, bool log_space) {
  const long long o = blockIdx.x * cols;
  float m;
  double lse;
  row_stats(x + o, cols, m, lse);
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
    const double z = static_cast<double>(x[o + c]) - lse;
    out[o + c] = static_cast<float>(log_space ? z : exp(z));
  }
}

__global__ void softmax_grad_kernel(const float* y, const float* gy, float* gx, long long cols) {
  const long long o = blockIdx.x * cols;
  double dot = 0;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) dot += static_cast<double>(gy[o + c]) * y[o + c];
  dot = block_sum(dot);
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) gx[o + c] = static_cast<float>(y[o + c] * (gy[o + c] - dot));
}

__global__ void log_softmax_grad_kernel(const float* y, const float* gy, float* gx, long long cols) {
  const long long o = blockIdx.x * cols;
  double sum = 0;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) sum += gy[o + c];
  sum = block_sum(sum);
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) gx[o + c] = static_cast<float>(gy[o + c] - exp(static_cast<double>(y[o + c])) * sum);
}

__global__ void cross_entropy_kernel(const float* logits, const int* targets, float* loss, float* lse, long long cols,
                                     bc::DeviceError* err) {
  const long long r = blockIdx.x;
  float m;
  double l;
  row_stats(logits + r * cols, cols, m, l);
  if (threadIdx.x == 0) {
    const int t = targets[r];
    if (t >= cols) bc::record_error(err, bc::kErrTarget, t, r);
    lse[r] = static_cast<float>(l);
    loss[r] = t < 0 || t >= cols ? 0.0f : static_cast<float>(l - logits[r * cols + t]);
  }
}

// cross_entropy_kernel's math with the row held in registers (V float4s a thread, 1024 threads): the logits are
// read from memory once, where row_stats reads them twice (a 128 KiB row of 32768 classes is out of cache by the
// second pass). cols % 4 == 0, cols <= 4096 V.
constexpr int kRowThreads = 1024;
template <int V, int R>
__global__ void __launch_bounds__(kRowThreads) cross_entropy_rows_kernel(bc::HalfIn logits, const int* targets, float* loss,
                                                                         float* lse, int cols, bc::DeviceError* err) {
  const long long r = blockIdx.x;
  const int cols4 = cols / 4;
  const long long row = r * cols4;  // in float4s
  float4 v[V];
  float m = -INFINITY;
#pragma unroll
  for (int k = 0; k < V; k++) {
    const int c = threadIdx.x + k * kRowThreads;
    v[k] = c < cols4 ? logits.load4(row + c) : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
    v[k] = make_float4(round_half<R>(v[k].x), round_half<R>(v[k].y), round_half<R>(v[k].z), round_half<R>(v[k].w));
    m = fmaxf(m, fmaxf(fmaxf(v[k].x, v[k].y), fmaxf(v[k].z, v[k].w)));
  }
  m = block_max(m, -INFINITY);
  double s = 0;  // float exp, double sum, as row_stats
#pragma unroll
  for (int k = 0; k < V; k++) {
    if (threadIdx.x + k * kRowThreads >= cols4) continue;
    s += expf(v[k].x - m);
    s += expf(v[k].y - m);
    s += expf(v[k].z - m);
    s += expf(v[k].w - m);
  }
  s = block_sum(s);
  if (threadIdx.x == 0) {
    const double l = m + log(s);
    const int t = targets[r];
    if (t >= cols) bc::record_error(err, bc::kErrTarget, t, r);
    lse[r] = static_cast<float>(l);
    loss[r] = t < 0 || t >= cols ? 0.0f : static_cast<float>(l - round_half<R>(logits[r * cols + t]));
  }
}

// Fused softmax-minus-one-hot: one read of the logits, one write of the gradient (and of its 16-bit copy).
// R rounds the logits on load, D the gradient as it is stored (round_half.cuh). Each value is read and written by
// one thread, so the gradient may overwrite the logits (or their 16-bit copy) in place.
template <int R, int D>
__global__ void cross_entropy_grad_kernel(bc::HalfIn logits, const int* targets, const float* lse, const float* g_loss,
                                          float* g_logits, bc::HalfOut g16, long long cols) {
  const long long r = blockIdx.x, o = r * cols;
  const int t = targets[r];
  const float g = t < 0 ? 0.0f : g_loss[r];
  const float l = lse[r];
  for (long long c = threadIdx.x; c < cols; c += blockDim.x)
    bc::store_out(g_logits, g16, o + c, round_half<D>(g * (expf(round_half<R>(logits[o + c]) - l) - (c == t ? 1.0f : 0.0f))));
}


void check_rows(long long rows) {
  if (rows > 2147483647LL) throw std::runtime_error("rows = " + std::to_string(rows) + " is not allowed; at most 2^31 - 1");
}

std::string dims(const char* op, long long rows, long long cols) {
  return std::string(op) + "(rows=" + std::to_string(rows) + ", cols=" + std::to_string(cols) + ")";
}

}  // namespace

BC_KERNEL(softmax) {
  const long long rows = a.integer(2, "rows"), cols = a.integer(3, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  float* out = a.out_f32(1, "out", rows * cols);
  if (rows * cols == 0) return nullptr;
  check_rows(rows);
  bc::op_context() = dims("softmax", rows, cols);
  softmax_kernel<<<rows, kThreads>>>(x, out, cols, false);
  bc::check_launch("softmax");
  return nullptr;
}

BC_KERNEL(logSoftmax) {
  const long long rows = a.integer(2, "rows"), cols = a.integer(3, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  float* out = a.out_f32(1, "out", rows * cols);
  if (rows * cols == 0) return nullptr;
  check_rows(rows);
  bc::op_context() = dims("logSoftmax", rows, cols);
  softmax_kernel<<<rows, kThreads>>>(x, out, cols, true);
  bc::check_launch("logSoftmax");
  return nullptr;
}

BC_KERNEL(softmaxGrad) {
  const long long rows = a.integer(3, "rows"), cols = a.integer(4, "cols");
  const float* y = a.f32(0, "y", rows * cols);
  const float* gy = a.f32(1, "gy", rows * cols);
  float* gx = a.out_f32(2, "gx", rows * cols);
  if (rows * cols == 0) return nullptr;
  check_rows(rows);
  bc::op_context() = dims("softmaxGrad", rows, cols);
  softmax_grad_kernel<<<rows, kThreads>>>(y, gy, gx, cols);
  bc::check_launch("softmaxGrad");
  return nullptr;
}

BC_KERNEL(logSoftmaxGrad) {
  const long long rows = a.integer(3, "rows"), cols = a.integer(4, "cols");
  const float* y = a.f32(0, "y", rows * cols);
  const float* gy = a.f32(1, "gy", rows * cols);
  float* gx = a.out_f32(2, "gx", rows * cols);
  if (rows * cols == 0) return nullptr;
  check_rows(rows);
  bc::op_context() = dims("logSoftmaxGrad", rows, cols);
  log_softmax_grad_kernel<<<rows, kThreads>>>(y, gy, gx, cols);
  bc::check_launch("logSoftmaxGrad");
  return nullptr;
}

// crossEntropy(logits, targets, loss, lse, rows, cols)
// crossEntropy(logits, targets, loss, lse, rows, cols, roundLogits?) with roundLogits 0 / absent, 2 (bf16), 3 (f16)
BC_KERNEL(crossEntropy) {
  const long long rows = a.integer(4, "rows"), cols = a.integer(5, "cols");
  const int round = round_code(a, 6, "roundLogits");
  const int* targets = a.i32(1, "targets", rows);
  float* loss = a.out_f32(2, "loss", rows);
  float* lse = a.out_f32(3, "lse", rows);
  const long long v = (cols / 4 + kRowThreads - 1) / kRowThreads;
  const bool row_kernel = cols % 4 == 0 && v <= 8;
  // The logits as their product left them (their 16-bit copy alone, where so).
  const bc::HalfIn in = bc::values_of(a, 0, "logits", rows * cols);
  const float* logits = in.f32;
  if (rows * cols == 0) return nullptr;
  check_rows(rows);
  bc::op_context() = dims("crossEntropy", rows, cols);
  if (row_kernel && (reinterpret_cast<uintptr_t>(in.data()) & 15u) == 0) {
    auto launch = [&](auto vt) {
      with_round(round, [&](auto rt) {
        cross_entropy_rows_kernel<decltype(vt)::value, decltype(rt)::value>
            <<<rows, kRowThreads>>>(in, targets, loss, lse, static_cast<int>(cols), bc::device_error());
      });
    };
    if (v <= 1) launch(std::integral_constant<int, 1>{});
    else if (v <= 2) launch(std::integral_constant<int, 2>{});
    else if (v <= 4) launch(std::integral_constant<int, 4>{});
    else launch(std::integral_constant<int, 8>{});
  } else {
    // Two passes over the row: they read a rounded copy (of logits held by their 16-bit copy alone: those values,
    // already of that type, widened into the scratch; the storage keeps its copy).
    const bool copy = in.half != nullptr;
    bc::Scratch rounded(round == bc::kF32 && !copy ? 4 : rows * cols * 4);
    if (copy) bc::widen_copy(in.half, in.fp16, rounded.as<float>(), rows * cols);
    else if (round != bc::kF32) round_copy(logits, rounded.as<float>(), rows * cols, round);
    cross_entropy_kernel<<<rows, kThreads>>>(round == bc::kF32 && !copy ? logits : rounded.as<float>(), targets, loss, lse,
                                             cols, bc::device_error());
  }
  bc::check_launch("crossEntropy");
  return nullptr;
}

// crossEntropyGrad(logits, targets, lse, gLoss, gLogits, rows, cols, roundLogits?, roundGrads?, halfOnly?): the
// logits rounded on load, the gradient as it is stored; gLogits may be logits itself
BC_KERNEL(crossEntropyGrad) {
  const long long rows = a.integer(5, "rows"), cols = a.integer(6, "cols");
  const int round = round_code(a, 7, "roundLogits"), round_grads = round_code(a, 8, "roundGrads");
  const bool half_only = a.flag_or(9, "halfOnly", false);
  const int* targets = a.i32(1, "targets", rows);
  const float* lse = a.f32(2, "lse", rows);
  const float* g_loss = a.f32(3, "gLoss", rows);
  bc::Storage &logits_storage = a.lookup(0, "logits"), &grads_storage = a.lookup(4, "gLogits");
  const long long n = rows * cols;
  check_rows(rows);  // (before any output is marked as held by its copy)
  bc::HalfIn logits;
  float* g_logits = nullptr;
  bc::HalfOut g16;
  if (&logits_storage == &grads_storage && logits_storage.f32_pending && half_only && round_grads != bc::kF32 &&
      round_grads == (logits_storage.shadow_fp16 ? bc::kF16 : bc::kBF16) && n == static_cast<long long>(logits_storage.size)) {
    // The gradient over logits held by their 16-bit copy alone, for readers of copies: written over that copy, in
    // place; the storage's f32 values stay pending (now the gradient's).
    logits = bc::values_of(a, 0, "logits", n);
    g16 = {logits_storage.shadow, logits_storage.shadow_fp16, true};
    bc::half_only_counts().kept++;
  } else {
    g_logits = a.out_f32(4, "gLogits", n);  // first: it may alias the logits, whose pending values it then writes
    logits = bc::values_of(a, 0, "logits", n);
    g16 = bc::written_half_copy(grads_storage, n, round_grads, half_only);
  }
  if (n == 0) return nullptr;
  bc::op_context() = dims("crossEntropyGrad", rows, cols);
  with_round(round, [&](auto rt) {
    with_round(round_grads, [&](auto dt) {
      cross_entropy_grad_kernel<decltype(rt)::value, decltype(dt)::value>
          <<<rows, kThreads>>>(logits, targets, lse, g_loss, g_logits, g16, cols);
    });
  });
  bc::check_launch("crossEntropyGrad");
  return nullptr;
}
