// RMSNorm and LayerNorm, forward and backward. One block per row for the row statistics; the weight and bias
// gradients (sums over rows) go through per-chunk partial sums combined in a fixed order, so they are
// deterministic and use the whole GPU even for a few hundred columns.
#include <cstdint>

#include "block_reduce.cuh"
#include "common.cuh"
#include "round_half.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kChunkRows = 256;  // rows per partial sum of the weight gradients

__global__ void rms_norm_kernel(const float* x, const float* w, float* out, float* rstd, long long cols, float eps) {
  const long long o = blockIdx.x * cols;
  double ss = 0;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) ss += static_cast<double>(x[o + c]) * x[o + c];
  ss = block_sum(ss);
  const float s = static_cast<float>(1.0 / sqrt(ss / cols + eps));
  if (threadIdx.x == 0) rstd[blockIdx.x] = s;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) out[o + c] = x[o + c] * s * w[c];
}

__global__ void rms_norm_grad_kernel(const float* x, const float* w, const float* rstd, const float* gy, float* gx, long long cols) {
  const long long o = blockIdx.x * cols;
  const float s = rstd[blockIdx.x];
  double dot = 0;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) dot += static_cast<double>(gy[o + c]) * w[c] * x[o + c];
  dot = block_sum(dot);
  const float k = static_cast<float>(static_cast<double>(s) * s * s * dot / cols);
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) gx[o + c] = s * gy[o + c] * w[c] - k * x[o + c];
}

// addRmsNorm: sum = x + r, then rms_norm_kernel's math on sum, one block per row. The second pass reads back
// the sum each thread wrote itself (cache-hot), so x and r are read once and nothing is read from a third array.
// R (round_half.cuh) rounds r on load: the op on r rounded by roundTo, bit for bit.
template <int R>
__global__ void add_rms_norm_kernel(const float* x, const float* r, const float* w, float* sum, float* out, float* rstd,
                                    int cols, float eps) {
  const long long o = blockIdx.x * (long long)cols;
  double ss = 0;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    const float v = x[o + c] + round_half<R>(r[o + c]);
    sum[o + c] = v;
    ss += static_cast<double>(v) * v;
  }
  ss = block_sum(ss);
  const float s = static_cast<float>(1.0 / sqrt(ss / cols + eps));
  if (threadIdx.x == 0) rstd[blockIdx.x] = s;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) out[o + c] = sum[o + c] * s * w[c];
}

// The same with 16-byte loads and stores: cols4 = cols / 4 float4s per row (cols % 4 == 0, pointers aligned).
template <int R>
__global__ void add_rms_norm4_kernel(const float4* x, const float4* r, const float4* w, float4* sum, float4* out,
                                     float* rstd, int cols4, float eps) {
  const long long o = blockIdx.x * (long long)cols4;
  double ss = 0;
  for (int c = threadIdx.x; c < cols4; c += blockDim.x) {
    const float4 a = x[o + c], b = r[o + c];
    const float4 v = make_float4(a.x + round_half<R>(b.x), a.y + round_half<R>(b.y), a.z + round_half<R>(b.z),
                                 a.w + round_half<R>(b.w));
    sum[o + c] = v;
    ss += static_cast<double>(v.x) * v.x + static_cast<double>(v.y) * v.y + static_cast<double>(v.z) * v.z +
          static_cast<double>(v.w) * v.w;
  }
  ss = block_sum(ss);
  const float s = static_cast<float>(1.0 / sqrt(ss / (4.0 * cols4) + eps));
  if (threadIdx.x == 0) rstd[blockIdx.x] = s;
  for (int c = threadIdx.x; c < cols4; c += blockDim.x) {
    const float4 v = sum[o + c], g = w[c];
    out[o + c] = make_float4(v.x * s * g.x, v.y * s * g.y, v.z * s * g.z, v.w * s * g.w);
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

__global__ void layer_norm_kernel(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd,
                                  long long cols, float eps) {
  const long long o = blockIdx.x * cols;
  double sum = 0;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) sum += x[o + c];
  const double m = block_sum(sum) / cols;
  double var = 0;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) var += (x[o + c] - m) * (x[o + c] - m);
  var = block_sum(var) / cols;
  const double s = 1.0 / sqrt(var + eps);
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = static_cast<float>(m);
    rstd[blockIdx.x] = static_cast<float>(s);
  }
  for (long long c = threadIdx.x; c < cols; c += blockDim.x)
    out[o + c] = static_cast<float>((x[o + c] - m) * s * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f));
}

__global__ void layer_norm_grad_kernel(const float* x, const float* w, const float* mean, const float* rstd, const float* gy,
                                       float* gx, long long cols) {
  const long long o = blockIdx.x * cols;
  const float m = mean[blockIdx.x], s = rstd[blockIdx.x];
  double g_mean = 0, gxhat_mean = 0;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
    const float g = gy[o + c] * (w ? w[c] : 1.0f);
    g_mean += g;
    gxhat_mean += static_cast<double>(g) * (x[o + c] - m) * s;
  }
  g_mean = block_sum(g_mean) / cols;
  gxhat_mean = block_sum(gxhat_mean) / cols;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
    const float xhat = (x[o + c] - m) * s;
    const float g = gy[o + c] * (w ? w[c] : 1.0f);
    gx[o + c] = static_cast<float>(s * (g - g_mean - xhat * gxhat_mean));
  }
}

// partial[chunk, c] = Σ over the chunk's rows of gy[r, c] * xhat[r, c] (and of gy for the bias), where
// xhat = x * rstd (RMSNorm, mean == nullptr) or (x - mean) * rstd (LayerNorm).
__global__ void weight_grad_partial(const float* x, const float* mean, const float* rstd, const float* gy, float* pw, float* pb,
                                    long long rows, long long cols) {
  const long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const long long r0 = blockIdx.y * (long long)kChunkRows, r1 = min(rows, r0 + kChunkRows);
  float sw = 0, sb = 0;
  for (long long r = r0; r < r1; r++) {
    const float xhat = (x[r * cols + c] - (mean ? mean[r] : 0.0f)) * rstd[r];
    sw += gy[r * cols + c] * xhat;
    sb += gy[r * cols + c];
  }
  pw[blockIdx.y * cols + c] = sw;
  if (pb) pb[blockIdx.y * cols + c] = sb;
}

__global__ void add_partials(const float* partial, int chunks, float* g, long long cols) {
  const long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (c >= cols) return;
  float acc = 0;
  for (int k = 0; k < chunks; k++) acc += partial[k * cols + c];
  g[c] += acc;
}

void weight_grads(const float* x, const float* mean, const float* rstd, const float* gy, float* gw, float* gb, long long rows,
                  long long cols) {
  if (!gw && !gb) return;
  const int chunks = static_cast<int>((rows + kChunkRows - 1) / kChunkRows);
  bc::Scratch pw(chunks * cols * 4), pb(gb ? chunks * cols * 4 : 4);
  const dim3 grid((cols + 127) / 128, chunks);
  weight_grad_partial<<<grid, 128>>>(x, mean, rstd, gy, pw.as<float>(), gb ? pb.as<float>() : nullptr, rows, cols);
  bc::check_launch("weight_grad_partial");
  if (gw) add_partials<<<(cols + 127) / 128, 128>>>(pw.as<float>(), chunks, gw, cols);
  if (gb) add_partials<<<(cols + 127) / 128, 128>>>(pb.as<float>(), chunks, gb, cols);
  bc::check_launch("add_partials");
}

std::string dims(const char* op, long long rows, long long cols) {
  return std::string(op) + "(rows=" + std::to_string(rows) + ", cols=" + std::to_string(cols) + ")";
}

}  // namespace

// rmsNorm(x, w, out, rstd, rows, cols, eps)
BC_KERNEL(rmsNorm) {
  const long long rows = a.integer(4, "rows"), cols = a.integer(5, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  const float* w = a.f32(1, "w", cols);
  float* out = a.out_f32(2, "out", rows * cols);
  float* rstd = a.out_f32(3, "rstd", rows);
  const float eps = static_cast<float>(a.num(6, "eps"));
  if (rows * cols == 0) return nullptr;
  bc::op_context() = dims("rmsNorm", rows, cols);
  rms_norm_kernel<<<rows, kThreads>>>(x, w, out, rstd, cols, eps);
  bc::check_launch("rmsNorm");
  return nullptr;
}

// addRmsNorm(x, r, w, sum, out, rstd, rows, cols, eps, roundDelta?) with roundDelta 0 / absent, 2 (bf16), 3 (f16)
BC_KERNEL(addRmsNorm) {
  const long long rows = a.integer(6, "rows"), cols = a.integer(7, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  const float* r = a.f32(1, "r", rows * cols);
  const float* w = a.f32(2, "w", cols);
  float* sum = a.out_f32(3, "sum", rows * cols);
  float* out = a.out_f32(4, "out", rows * cols);
  float* rstd = a.out_f32(5, "rstd", rows);
  const float eps = static_cast<float>(a.num(8, "eps"));
  const int round = round_code(a, 9, "roundDelta");
  if (rows * cols == 0) return nullptr;
  if (cols >= (1LL << 30)) throw std::runtime_error("addRmsNorm: cols = " + std::to_string(cols) + " is not below 2^30");
  bc::op_context() = dims("addRmsNorm", rows, cols);
  const bool vec = cols % 4 == 0 && aligned16(x) && aligned16(r) && aligned16(w) && aligned16(sum) && aligned16(out);
  with_round(round, [&](auto rt) {
    constexpr int R = decltype(rt)::value;
    if (vec)
      add_rms_norm4_kernel<R><<<rows, kThreads>>>(reinterpret_cast<const float4*>(x), reinterpret_cast<const float4*>(r),
                                                  reinterpret_cast<const float4*>(w), reinterpret_cast<float4*>(sum),
                                                  reinterpret_cast<float4*>(out), rstd, static_cast<int>(cols / 4), eps);
    else
      add_rms_norm_kernel<R><<<rows, kThreads>>>(x, r, w, sum, out, rstd, static_cast<int>(cols), eps);
  });
  bc::check_launch("addRmsNorm");
  return nullptr;
}

// rmsNormGrad(x, w, rstd, gy, gx, gw, rows, cols)
BC_KERNEL(rmsNormGrad) {
  const long long rows = a.integer(6, "rows"), cols = a.integer(7, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  const float* w = a.f32(1, "w", cols);
  const float* rstd = a.f32(2, "rstd", rows);
  const float* gy = a.f32(3, "gy", rows * cols);
  float* gx = a.out_f32(4, "gx", rows * cols);
  float* gw = a.f32(5, "gw", cols);
  if (rows * cols == 0) return nullptr;
  bc::op_context() = dims("rmsNormGrad", rows, cols);
  rms_norm_grad_kernel<<<rows, kThreads>>>(x, w, rstd, gy, gx, cols);
  bc::check_launch("rmsNormGrad");
  weight_grads(x, nullptr, rstd, gy, gw, nullptr, rows, cols);
  return nullptr;
}

// layerNorm(x, w | null, b | null, out, mean, rstd, rows, cols, eps)
BC_KERNEL(layerNorm) {
  const long long rows = a.integer(6, "rows"), cols = a.integer(7, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  const float* w = a.f32_or_null(1, "w", cols);
  const float* b = a.f32_or_null(2, "b", cols);
  float* out = a.out_f32(3, "out", rows * cols);
  float* mean = a.out_f32(4, "mean", rows);
  float* rstd = a.out_f32(5, "rstd", rows);
  const float eps = static_cast<float>(a.num(8, "eps"));
  if (rows * cols == 0) return nullptr;
  bc::op_context() = dims("layerNorm", rows, cols);
  layer_norm_kernel<<<rows, kThreads>>>(x, w, b, out, mean, rstd, cols, eps);
  bc::check_launch("layerNorm");
  return nullptr;
}

// layerNormGrad(x, w | null, mean, rstd, gy, gx, gw | null, gb | null, rows, cols)
BC_KERNEL(layerNormGrad) {
  const long long rows = a.integer(8, "rows"), cols = a.integer(9, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  const float* w = a.f32_or_null(1, "w", cols);
  const float* mean = a.f32(2, "mean", rows);
  const float* rstd = a.out_f32(3, "rstd", rows);
  const float* gy = a.f32(4, "gy", rows * cols);
  float* gx = a.out_f32(5, "gx", rows * cols);
  float* gw = a.f32_or_null(6, "gw", cols);
  float* gb = a.f32_or_null(7, "gb", cols);
  if (rows * cols == 0) return nullptr;
  bc::op_context() = dims("layerNormGrad", rows, cols);
  layer_norm_grad_kernel<<<rows, kThreads>>>(x, w, mean, rstd, gy, gx, cols);
  bc::check_launch("layerNormGrad");
  if (gb && !gw) {
    // Bias only: the partial kernel always produces the weight sum, so give it a throwaway target.
    bc::Scratch unused(cols * 4);
    bc::check(cudaMemsetAsync(unused.ptr, 0, cols * 4), "cudaMemsetAsync");
    weight_grads(x, mean, rstd, gy, unused.as<float>(), gb, rows, cols);
  } else {
    weight_grads(x, mean, rstd, gy, gw, gb, rows, cols);
  }
  return nullptr;
}
