// Rotary embedding on (B, T, nh, hs): rotates pairs (j, j + hs/2) by (posOffset + t) * base^(-2j/hs).
// Angles in double, as the reference, so long positions keep their precision. R (round_half.cuh) rounds x on
// load: rope of x rounded by roundTo, bit for bit (the backward rotates the gradient and never reads x). O rounds
// the output as it is stored (roundTo after rope, bit for bit); a rounded output read only as its 16-bit copy
// (attention's q and k, the q and k projections' gradients) may be kept as that copy alone (halfOnly).
#include "common.cuh"
#include "half_in.cuh"
#include "half_out.cuh"
#include "round_half.cuh"

namespace {

// Each block computes the frequencies base^(-2j/hs) once into shared memory (the same double pow as the
// reference, so the angles are bit-identical) and walks the pairs with a grid-stride loop; Index is int where
// the tensor allows it (64-bit division is tens of instructions).
template <int R, int O, typename Index>
__global__ void rope_kernel(const float* x, float* out, Index B, Index T, Index nh, Index hs, double base,
                            long long pos_offset, int direction) {
  extern __shared__ double inv_freq[];
  const Index half = hs / 2, total = B * T * nh * half;
  for (Index j = threadIdx.x; j < half; j += blockDim.x) inv_freq[j] = pow(base, -2.0 * j / hs);
  __syncthreads();
  for (Index k = blockIdx.x * (Index)blockDim.x + threadIdx.x; k < total; k += (Index)gridDim.x * blockDim.x) {
    const Index j = k % half, row = k / half;  // row = (b * T + t) * nh + h
    const Index t = (row / nh) % T;
    const double angle = static_cast<double>(pos_offset + t) * inv_freq[j];
    // Range-reduce in double, then a float sincos: accurate to ~1e-7 at any position, far cheaper than
    // a double sincos.
    const double reduced = angle - 6.283185307179586 * rint(angle * 0.15915494309189535);
    float sf, cf;
    sincosf(static_cast<float>(reduced), &sf, &cf);
    const double s = static_cast<double>(sf) * direction, c = cf;
    const Index o = row * hs;
    const double x0 = round_half<R>(x[o + j]), x1 = round_half<R>(x[o + j + half]);
    out[o + j] = round_half<O>(static_cast<float>(x0 * c - x1 * s));
    out[o + j + half] = round_half<O>(static_cast<float>(x0 * s + x1 * c));
  }
}

// The cos and sin of every (t, j) angle, computed exactly as rope_kernel computes them: (cos, sin) at
// table[t * half + j].
__global__ void rope_table_kernel(float2* table, int T, int hs, double base, long long pos_offset) {
  const int half = hs / 2;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < T * half; i += gridDim.x * blockDim.x) {
    const int t = i / half, j = i % half;
    const double angle = static_cast<double>(pos_offset + t) * pow(base, -2.0 * j / hs);
    const double reduced = angle - 6.283185307179586 * rint(angle * 0.15915494309189535);
    float sf, cf;
    sincosf(static_cast<float>(reduced), &sf, &cf);
    table[i] = make_float2(cf, sf);
  }
}

// rope_kernel's rotation with the angles from the table: a warp per head row (lane j takes pairs j, j + 32, ...),
// so the step is two coalesced loads and stores a pair and a cached table read, with no trigonometry.
template <int R, int O>
__global__ void rope_rows_kernel(bc::HalfIn x, float* out, const float2* table, int rows, int T, int nh, int hs,
                                 int direction, bc::HalfOut out16) {
  const int half = hs / 2, lane = threadIdx.x & 31, warps = blockDim.x / 32;
  for (int row = blockIdx.x * warps + threadIdx.x / 32; row < rows; row += gridDim.x * warps) {
    const float2* cs = table + static_cast<long long>((row / nh) % T) * half;
    const long long o = static_cast<long long>(row) * hs;
    for (int j = lane; j < half; j += 32) {
      const float2 v = cs[j];
      const double s = static_cast<double>(v.y) * direction, c = v.x;
      const double x0 = round_half<R>(x[o + j]), x1 = round_half<R>(x[o + j + half]);
      const float y0 = round_half<O>(static_cast<float>(x0 * c - x1 * s)), y1 = round_half<O>(static_cast<float>(x0 * s + x1 * c));
      bc::store_out(out, out16, o + j, y0);
      bc::store_out(out, out16, o + j + half, y1);
    }
  }
}

// rope_rows_kernel's rotation four pairs a thread (hs % 8 == 0): x's and out's halves as float4s (x's copy as four
// 16-bit values), four (cos, sin) of the table as two float4s; hs / 8 threads a row, the same arithmetic per pair.
template <int R, int O>
__global__ void rope_rows4_kernel(bc::HalfIn x, float* out, const float2* table, int rows, int T, int nh, int hs,
                                  int direction, bc::HalfOut out16) {
  const int half = hs / 2, quads = half / 4;
  const int total = rows * quads;
  for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < total; k += gridDim.x * blockDim.x) {
    const int row = k / quads, j = (k - row * quads) * 4;
    const float4* cs = reinterpret_cast<const float4*>(table + static_cast<long long>((row / nh) % T) * half + j);
    const float4 c01 = cs[0], c23 = cs[1];  // (cos, sin) of pairs j, j + 1 and j + 2, j + 3
    const long long o = static_cast<long long>(row) * hs + j;
    const float4 a = x.load4(o / 4), b = x.load4((o + half) / 4);
    const float xa[4] = {a.x, a.y, a.z, a.w}, xb[4] = {b.x, b.y, b.z, b.w};
    const float cv[4] = {c01.x, c01.z, c23.x, c23.z}, sv[4] = {c01.y, c01.w, c23.y, c23.w};
    float y0[4], y1[4];
#pragma unroll
    for (int q = 0; q < 4; q++) {
      const double s = static_cast<double>(sv[q]) * direction, c = cv[q];
      const double x0 = round_half<R>(xa[q]), x1 = round_half<R>(xb[q]);
      y0[q] = round_half<O>(static_cast<float>(x0 * c - x1 * s));
      y1[q] = round_half<O>(static_cast<float>(x0 * s + x1 * c));
    }
    bc::store_out4(out, out16, o / 4, make_float4(y0[0], y0[1], y0[2], y0[3]));
    bc::store_out4(out, out16, (o + half) / 4, make_float4(y1[0], y1[1], y1[2], y1[3]));
  }
}

}  // namespace

// rope(x, out, B, T, nh, hs, base, posOffset, direction, roundInput?, roundOutput?, halfOnly?) with the roundings
// 0 / absent, 2 (bf16), 3 (f16)
BC_KERNEL(rope) {
  const long long B = a.integer(2, "B"), T = a.integer(3, "T"), nh = a.integer(4, "nh"), hs = a.integer(5, "hs");
  const double base = a.num(6, "base");
  const long long pos_offset = a.integer(7, "posOffset");
  const double direction = a.num(8, "direction");
  if (hs % 2 != 0) throw std::runtime_error("hs = " + std::to_string(hs) + " is not allowed; expected an even head size");
  if (direction != 1 && direction != -1) throw std::runtime_error("direction must be 1 or -1");
  const int round = round_code(a, 9, "roundInput"), round_out = round_code(a, 10, "roundOutput");
  const bool half_only = a.flag_or(11, "halfOnly", false);
  const long long n = B * T * nh * hs;
  // The table path where the rows and the table fit int indexing: the table takes T * hs / 2 angles (a few
  // microseconds) where the kernel would take B * nh times as many.
  const bool table_path = n < (1LL << 31) && T * (hs / 2) < (1LL << 31);
  float* out = a.out_f32(1, "out", n);  // first: out may alias x, whose pending values it then writes
  // x as a product left it (its 16-bit copy alone, where so) on the table path.
  const bc::HalfIn x = table_path ? bc::values_of(a, 0, "x", n) : bc::HalfIn{a.f32(0, "x", n)};
  if (n == 0) return nullptr;
  bc::op_context() = "rope(B=" + std::to_string(B) + ", T=" + std::to_string(T) + ", nh=" + std::to_string(nh) + ", hs=" + std::to_string(hs) + ")";
  // A few waves of blocks: each fills its frequency table once and reuses it over many pairs.
  const unsigned blocks = bc::blocks_for(n / 2, 256, static_cast<long long>(bc::sm_count()) * 8);
  const size_t shared = static_cast<size_t>(hs / 2) * sizeof(double);
  if (hs / 2 > 4096) throw std::runtime_error("hs = " + std::to_string(hs) + " is too large for rope (at most 8192)");
  if (table_path) {
    bc::Scratch table(static_cast<size_t>(T) * (hs / 2) * sizeof(float2));
    rope_table_kernel<<<bc::blocks_for(T * (hs / 2), 256), 256>>>(table.as<float2>(), static_cast<int>(T), static_cast<int>(hs),
                                                                   base, pos_offset);
    const long long rows = B * T * nh;
    // Forward, q and k go to attention; backward, their gradients to the q and k projections' products: both read
    // the 16-bit copy. (out may alias x: the copy is taken after x's accessor.)
    const bc::HalfOut out16 = bc::written_half_copy(a.lookup(1, "out"), n, round_out, half_only);
    const auto aligned = [](const void* p, unsigned bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; };
    const bool quads = hs % 8 == 0 && aligned(x.data(), x.half ? 8 : 16) && aligned(out, 16);
    with_round(round, [&](auto rt) {
      with_round(round_out, [&](auto ot) {
        constexpr int R = decltype(rt)::value, O = decltype(ot)::value;
        if (quads)
          rope_rows4_kernel<R, O><<<bc::blocks_for(rows * (hs / 8), 256), 256>>>(
              x, out, table.as<float2>(), static_cast<int>(rows), static_cast<int>(T), static_cast<int>(nh),
              static_cast<int>(hs), static_cast<int>(direction), out16);
        else
          rope_rows_kernel<R, O><<<bc::blocks_for(rows, 8, static_cast<long long>(bc::sm_count()) * 64), 256>>>(
              x, out, table.as<float2>(), static_cast<int>(rows), static_cast<int>(T), static_cast<int>(nh),
              static_cast<int>(hs), static_cast<int>(direction), out16);
      });
    });
    bc::check_launch("rope");
    return nullptr;
  }
  with_round(round, [&](auto rt) {
    with_round(round_out, [&](auto ot) {
      constexpr int R = decltype(rt)::value, O = decltype(ot)::value;
      if (n < (1LL << 31))
        rope_kernel<R, O, int><<<blocks, 256, shared>>>(x.f32, out, static_cast<int>(B), static_cast<int>(T), static_cast<int>(nh),
                                                       static_cast<int>(hs), base, pos_offset, static_cast<int>(direction));
      else
        rope_kernel<R, O, long long><<<blocks, 256, shared>>>(x.f32, out, B, T, nh, hs, base, pos_offset, static_cast<int>(direction));
    });
  });
  bc::check_launch("rope");
  return nullptr;
}
