// RMSNorm and LayerNorm, forward and backward. One block per row for the row statistics; the weight and bias
// gradients (sums over rows) go through per-chunk partial sums combined in a fixed order, so they are
// deterministic and use the whole GPU even for a few hundred columns.
#include <cstdint>
#include <type_traits>

#include "block_reduce.cuh"
#include "common.cuh"
#include "half_out.cuh"
#include "half_in.cuh"
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

// accumulate: gx += the gradient (x's gradient gathered from its other uses), else gx = it.
__global__ void rms_norm_grad_kernel(const float* x, const float* w, const float* rstd, const float* gy, float* gx, long long cols,
                                     bool accumulate) {
  const long long o = blockIdx.x * cols;
  const float s = rstd[blockIdx.x];
  double dot = 0;
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) dot += static_cast<double>(gy[o + c]) * w[c] * x[o + c];
  dot = block_sum(dot);
  const float k = static_cast<float>(static_cast<double>(s) * s * s * dot / cols);
  for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
    const float d = s * gy[o + c] * w[c] - k * x[o + c];
    gx[o + c] = accumulate ? gx[o + c] + d : d;
  }
}

// The same math with float4s held in registers, kGradRows rows a block: thread t holds float4 columns t + 256 j
// (j < V) of w, and of each row's x and gy, so they are read once; and the block's share of the weight gradient
// (Σ over its rows of gy x rstd, as weight_grad_partial sums it) in registers, written once as its partial.
constexpr int kGradRows = 32;
constexpr int kGradThreads = 256;

__device__ inline float4 f4(float v) { return make_float4(v, v, v, v); }

template <int V, bool Accumulate, int G>
__global__ void __launch_bounds__(kGradThreads) rms_norm_grad4_kernel(const float4* x, const float4* w, const float* rstd,
                                                                      const float4* gy, float4* gx, float4* partial,
                                                                      int rows, int cols4, bc::HalfOut gx16) {
  const int r0 = blockIdx.x * kGradRows, r1 = min(rows, r0 + kGradRows);
  float4 wv[V], acc[V];
#pragma unroll
  for (int j = 0; j < V; j++) {
    const int c = threadIdx.x + j * kGradThreads;
    wv[j] = c < cols4 ? w[c] : f4(0);
    acc[j] = f4(0);
  }
  for (int r = r0; r < r1; r++) {
    const long long o = static_cast<long long>(r) * cols4;
    float4 xv[V], gv[V];
    double dot = 0;
#pragma unroll
    for (int j = 0; j < V; j++) {
      const int c = threadIdx.x + j * kGradThreads;
      xv[j] = c < cols4 ? x[o + c] : f4(0);
      gv[j] = c < cols4 ? gy[o + c] : f4(0);
      gv[j] = make_float4(round_half<G>(gv[j].x), round_half<G>(gv[j].y), round_half<G>(gv[j].z), round_half<G>(gv[j].w));
      dot += static_cast<double>(gv[j].x) * wv[j].x * xv[j].x + static_cast<double>(gv[j].y) * wv[j].y * xv[j].y +
             static_cast<double>(gv[j].z) * wv[j].z * xv[j].z + static_cast<double>(gv[j].w) * wv[j].w * xv[j].w;
    }
    dot = block_sum(dot);
    const float s = rstd[r];
    const float k = static_cast<float>(static_cast<double>(s) * s * s * dot / (4.0 * cols4));
#pragma unroll
    for (int j = 0; j < V; j++) {
      const int c = threadIdx.x + j * kGradThreads;
      if (c >= cols4) continue;
      const float4 g = gv[j], xx = xv[j], ww = wv[j];
      float4 d = make_float4(s * g.x * ww.x - k * xx.x, s * g.y * ww.y - k * xx.y, s * g.z * ww.z - k * xx.z,
                             s * g.w * ww.w - k * xx.w);
      if (Accumulate) {
        const float4 e = gx[o + c];
        d = make_float4(e.x + d.x, e.y + d.y, e.z + d.z, e.w + d.w);
      }
      gx[o + c] = d;
      bc::store_half4(gx16, o + c, d);
      acc[j].x += g.x * (xx.x * s);
      acc[j].y += g.y * (xx.y * s);
      acc[j].z += g.z * (xx.z * s);
      acc[j].w += g.w * (xx.w * s);
    }
  }
#pragma unroll
  for (int j = 0; j < V; j++) {
    const int c = threadIdx.x + j * kGradThreads;
    if (c < cols4) partial[static_cast<long long>(blockIdx.x) * cols4 + c] = acc[j];
  }
}

// g[c] += Σ_k partial[k, c] over `chunks` partials, in a fixed order: each of a block's 32 warps sums every 32nd
// partial of 32 float4 columns, then one warp adds the 32 sums.
constexpr int kPartialWarps = 32;
__global__ void add_partials4(const float4* partial, int chunks, float4* g, int cols4) {
  __shared__ float4 sums[kPartialWarps][32];
  const int c = blockIdx.x * 32 + threadIdx.x;
  float4 acc = f4(0);
  if (c < cols4)
    for (int k = threadIdx.y; k < chunks; k += kPartialWarps) {
      const float4 p = partial[static_cast<long long>(k) * cols4 + c];
      acc = make_float4(acc.x + p.x, acc.y + p.y, acc.z + p.z, acc.w + p.w);
    }
  sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || c >= cols4) return;
  float4 total = g[c];
  for (int k = 0; k < kPartialWarps; k++)
    total = make_float4(total.x + sums[k][threadIdx.x].x, total.y + sums[k][threadIdx.x].y,
                        total.z + sums[k][threadIdx.x].z, total.w + sums[k][threadIdx.x].w);
  g[c] = total;
}

// addRmsNorm: sum = x + r, then rms_norm_kernel's math on sum, one block per row. The second pass reads back
// the sum each thread wrote itself (cache-hot), so x and r are read once and nothing is read from a third array.
// R (round_half.cuh) rounds r on load: the op on r rounded by roundTo, bit for bit; O rounds out as it is stored.
template <int R, int O>
__global__ void add_rms_norm_kernel(const float* x, bc::HalfIn r, const float* w, float* sum, float* out, float* rstd,
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
  for (int c = threadIdx.x; c < cols; c += blockDim.x) out[o + c] = round_half<O>(sum[o + c] * s * w[c]);
}

// The same with 16-byte loads and stores: cols4 = cols / 4 float4s per row (cols % 4 == 0, pointers aligned).
template <int R, int O>
__global__ void add_rms_norm4_kernel(const float4* x, bc::HalfIn r, const float4* w, float4* sum, float4* out,
                                     float* rstd, int cols4, float eps, bc::HalfOut out16) {
  const long long o = blockIdx.x * (long long)cols4;
  double ss = 0;
  for (int c = threadIdx.x; c < cols4; c += blockDim.x) {
    const float4 a = x[o + c], b = r.load4(o + c);
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
    const float4 y = make_float4(round_half<O>(v.x * s * g.x), round_half<O>(v.y * s * g.y), round_half<O>(v.z * s * g.z),
                                 round_half<O>(v.w * s * g.w));
    bc::store_out4(reinterpret_cast<float*>(out), out16, o + c, y);
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

// addRmsNorm(x, r, w, sum, out, rstd, rows, cols, eps, roundDelta?, roundOutput?, halfOnly?) with the roundings
// 0 / absent, 2 (bf16), 3 (f16): r rounded on load, out as it is stored (and kept as its 16-bit copy alone with
// halfOnly, where that copy is of the same type)
BC_KERNEL(addRmsNorm) {
  const long long rows = a.integer(6, "rows"), cols = a.integer(7, "cols");
  float* sum = a.out_f32(3, "sum", rows * cols);  // first: outputs may alias inputs, whose pending values they write
  float* out = a.out_f32(4, "out", rows * cols);
  float* rstd = a.out_f32(5, "rstd", rows);
  const float* x = a.f32(0, "x", rows * cols);
  const bc::HalfIn r = bc::values_of(a, 1, "r", rows * cols);  // as a product left it (its copy alone, where so)
  const float* w = a.f32(2, "w", cols);
  const float eps = static_cast<float>(a.num(8, "eps"));
  const int round = round_code(a, 9, "roundDelta"), round_out = round_code(a, 10, "roundOutput");
  const bool half_only = a.flag_or(11, "halfOnly", false);
  if (rows * cols == 0) return nullptr;
  if (cols >= (1LL << 30)) throw std::runtime_error("addRmsNorm: cols = " + std::to_string(cols) + " is not below 2^30");
  bc::op_context() = dims("addRmsNorm", rows, cols);
  const bool vec = cols % 4 == 0 && aligned16(x) && aligned16(r.data()) && aligned16(w) && aligned16(sum) && aligned16(out);
  // out feeds the next products (q, k, v or the MLP's): its 16-bit copy is written with it.
  const bc::HalfOut out16 = vec ? bc::written_half_copy(a.lookup(4, "out"), rows * cols, round_out, half_only) : bc::HalfOut{};
  with_round(round, [&](auto rt) {
    with_round(round_out, [&](auto ot) {
      constexpr int R = decltype(rt)::value, O = decltype(ot)::value;
      if (vec)
        add_rms_norm4_kernel<R, O><<<rows, kThreads>>>(reinterpret_cast<const float4*>(x), r,
                                                       reinterpret_cast<const float4*>(w), reinterpret_cast<float4*>(sum),
                                                       reinterpret_cast<float4*>(out), rstd, static_cast<int>(cols / 4), eps, out16);
      else
        add_rms_norm_kernel<R, O><<<rows, kThreads>>>(x, r, w, sum, out, rstd, static_cast<int>(cols), eps);
    });
  });
  bc::check_launch("addRmsNorm");
  return nullptr;
}

// rmsNormGrad(x, w, rstd, gy, gx, gw, rows, cols, accumulate, roundGy?): gx overwritten, or added to with
// accumulate; gy rounded on load with roundGy (0 / absent, 2 bf16, 3 f16)
BC_KERNEL(rmsNormGrad) {
  const long long rows = a.integer(6, "rows"), cols = a.integer(7, "cols");
  const bool accumulate = a.flag(8, "accumulate");
  const int round = round_code(a, 9, "roundGy");
  const float* x = a.f32(0, "x", rows * cols);
  const float* w = a.f32(1, "w", cols);
  const float* rstd = a.f32(2, "rstd", rows);
  const float* gy = a.f32(3, "gy", rows * cols);
  float* gx = accumulate ? a.f32(4, "gx", rows * cols) : a.out_f32(4, "gx", rows * cols);
  float* gw = a.f32(5, "gw", cols);
  if (rows * cols == 0) return nullptr;
  bc::op_context() = dims("rmsNormGrad", rows, cols);
  const long long cols4 = cols / 4;
  const int v = static_cast<int>((cols4 + kGradThreads - 1) / kGradThreads);
  const bool vectors = cols % 4 == 0 && v <= 4 && rows < (1LL << 31) && aligned16(x) && aligned16(w) && aligned16(gy) &&
                       aligned16(gx) && aligned16(gw);
  if (!vectors) {
    // gy rounded into a copy first (these kernels read it twice).
    bc::Scratch rounded(round == bc::kF32 ? 4 : rows * cols * 4);
    if (round != bc::kF32) {
      round_copy(gy, rounded.as<float>(), rows * cols, round);
      gy = rounded.as<float>();
    }
    rms_norm_grad_kernel<<<rows, kThreads>>>(x, w, rstd, gy, gx, cols, accumulate);
    bc::check_launch("rmsNormGrad");
    weight_grads(x, nullptr, rstd, gy, gw, nullptr, rows, cols);
    return nullptr;
  }
  const int chunks = static_cast<int>((rows + kGradRows - 1) / kGradRows);
  bc::Scratch partial(static_cast<long long>(chunks) * cols * 4);
  // gx is the residual stream's gradient, which the products of the layer below read next: its 16-bit copy too.
  const bc::HalfOut gx16 = bc::written_half_copy(a.lookup(4, "gx"), rows * cols);
  auto launch = [&](auto vt, auto acc) {
    with_round(round, [&](auto rt) {
    rms_norm_grad4_kernel<decltype(vt)::value, decltype(acc)::value, decltype(rt)::value><<<chunks, kGradThreads>>>(
        reinterpret_cast<const float4*>(x), reinterpret_cast<const float4*>(w), rstd, reinterpret_cast<const float4*>(gy),
        reinterpret_cast<float4*>(gx), partial.as<float4>(), static_cast<int>(rows), static_cast<int>(cols4), gx16);
    });
  };
  auto with_v = [&](auto acc) {
    using I = std::integral_constant<int, 1>;
    if (v <= 1) launch(I{}, acc);
    else if (v == 2) launch(std::integral_constant<int, 2>{}, acc);
    else launch(std::integral_constant<int, 4>{}, acc);
  };
  if (accumulate) with_v(std::true_type{});
  else with_v(std::false_type{});
  bc::check_launch("rmsNormGrad");
  add_partials4<<<static_cast<unsigned>((cols4 + 31) / 32), dim3(32, kPartialWarps)>>>(partial.as<float4>(), chunks,
                                                                           reinterpret_cast<float4*>(gw), static_cast<int>(cols4));
  bc::check_launch("rmsNormGrad add_partials4");
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
