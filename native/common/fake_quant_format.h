// The fake-quant spec layout and format tables shared by the CPU (native/cpu/fake_quant.cc) and CUDA
// (native/cuda/fake_quant.cu) kernels: one copy, so the two backends cannot drift apart. The layout mirrors
// encodeFakeQuantSpec in src/numerics/spec.ts (SpecSlot) and the NF4 values src/numerics/formats/nf4.ts.
#pragma once

namespace bitscale_fq {

// Slots of encodeFakeQuantSpec (src/numerics/spec.ts, SpecSlot).
enum Slot { kVersion, kFormat, kBits, kExponent, kMantissa, kBlockSize, kSymmetric, kGranularity, kGroupSize,
            kScale, kPercentile, kRounding, kSeed, kOffset, kSlots };
enum Format { kInt, kFp, kNf4, kTernary, kBinary, kBf16, kFp16, kMx };
enum Granularity { kTensor, kRow, kCol, kGroup };
enum ScaleMethod { kAbsmax, kPercentileScale, kMse, kAbsmean, kNone };
enum GridKind { kIntegerGrid, kMinifloatGrid, kNf4Grid, kBinaryGrid };

// The MSE scale search tries absmax * (1 - k / kMseGrid) for k = 0 .. kMseSteps.
constexpr int kMseGrid = 100, kMseSteps = 80;

// NF4 (QLoRA): the 16 quantiles of a standard normal, scaled to [-1, 1]. A macro as well as an array because
// CUDA keeps its device copy in __constant__ memory, which must be initialized from a literal list.
#define BITSCALE_NF4_VALUES                                                                                 \
  {-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,            \
   -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,               \
   0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, \
   1.0}
constexpr double kNf4Values[16] = BITSCALE_NF4_VALUES;

}  // namespace bitscale_fq
