// FP8 operands for the tensor cores (fp8_cast.cu): per-tensor current scaling, all on the stream, no host sync.
// The values an FP8 product consumes, code * scale, are exactly fakeQuant(x, fp8 format, per-tensor absmax):
// scale = absmax / max (448 for E4M3, 57344 for E5M2), codes = x / scale rounded to nearest even on the grid.
#pragma once
#include "common.cuh"
#include "half_in.cuh"

namespace bc {

enum Fp8Format { kE4M3 = 0, kE5M2 = 1 };

// *amax = max |x[i]| over n values (f32, or a 16-bit copy). fp8_amax zeroes it on the stream first.
void fp8_amax(const HalfIn& x, long long n, float* amax);

// n values -> FP8 codes, with the dequantization scale (absmax / max) written to *scale (device). amax from
// fp8_amax, earlier on the stream.
void fp8_quantize(const HalfIn& x, long long n, Fp8Format format, const float* amax, unsigned char* out, float* scale);

// out (cols, rows) = codes (rows, cols)ᵀ.
void fp8_transpose(const unsigned char* codes, long long rows, long long cols, unsigned char* out);

// An operand as an FP8 product reads it: codes and the device address of their dequantization scale.
struct Fp8Operand {
  const unsigned char* codes;
  const float* scale;
};

// The codes of storage s's first rows * cols floats viewed (rows, cols), as stored or transposed, made on first use
// and kept on the storage (Storage::fp8, one amax for every copy) until anything else touches it: a linear's
// input feeds q, k and v forward and their weight gradients backward, and is measured and cast once per layout.
// `rounded` (kBF16, kF16; kF32 none): the values rounded to that type first, read from the storage's 16-bit copy
// (bc::half_copy: made where none is kept; take s by Args::half_input, whose pending f32 values stay pending).
Fp8Operand fp8_operand(Storage& s, long long rows, long long cols, bool transpose, Fp8Format format, int rounded = kF32);

}  // namespace bc
