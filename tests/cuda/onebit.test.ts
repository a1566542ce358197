// Packed sign1 / ternary2 GEMV and small-batch GEMM on the GPU (native/cuda/onebit.cu) against the float64
// reference: both kernels (the mma one by default, the simple one by BITSCALE_ONEBIT_KERNEL=simple), on shapes
// that take each path (byte, word, 16-byte units with padding codes), random codes (ternary code 3 counts as 0),
// and batches that need more than one launch; and packed decoding with the linears on the GPU against the
// exact CPU decoder.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveModelConfig } from '../../src/nn/config.ts';
import { initParams } from '../../src/nn/transformer.ts';
import {
  cudaLinears,
  cudaPackedGemm,
  freePackedLayer,
  hasCudaPackedKernels,
  uploadPackedLayer,
} from '../../src/onebit/cuda-gemv.ts';
import { Decoder, packedDecoderWeights } from '../../src/onebit/decode.ts';
import { packedGemmReference } from '../../src/onebit/gemv.ts';
import { packTransformer } from '../../src/onebit/pack-model.ts';
import {
  type PackedFormat,
  packedFormats,
  packSigns,
  packTernary,
  rowBytes,
} from '../../src/onebit/packed.ts';
import type { PackedLinear } from '../../src/onebit/packed-file.ts';
import { assertClose, cuda, download, skip, upload } from './helpers.ts';

const kernelSkip =
  skip || (hasCudaPackedKernels(cuda) ? false : 'the CUDA addon has no packedGemm: rebuild it');

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}

function layerOf(format: 'sign1' | 'ternary2', rows: number, cols: number, seed: number): PackedLinear {
  const w = rand(rows * cols, seed);
  const weight =
    format === 'sign1'
      ? packSigns(w, rows, cols)
      : packTernary(
          Array.from(w, (v) => (v > 0.3 ? 1 : v < -0.3 ? -1 : 0)),
          rows,
          cols,
        );
  return { weight, g: rand(cols, seed + 1), h: rand(rows, seed + 2) };
}

/** Random code bytes: every bit pattern, so ternary code 3 and nonzero padding bits occur. */
function rawLayer(format: PackedFormat, rows: number, cols: number, seed: number): PackedLinear {
  const codes = Uint8Array.from(
    rand(rows * rowBytes(cols, format), seed),
    (v) => Math.floor((v + 1) * 128) & 255,
  );
  return { weight: { format, rows, cols, codes }, g: rand(cols, seed + 1), h: rand(rows, seed + 2) };
}

/** The definition in float64 for any codes: ternary code 3 counts as 0, padding bits as nothing. */
function rawReference(layer: PackedLinear, x: Float32Array, batch: number): Float64Array {
  const { format, rows, cols, codes } = layer.weight;
  const rb = rowBytes(cols, format);
  const y = new Float64Array(batch * rows);
  for (let r = 0; r < rows; r++) {
    const w = new Float64Array(cols);
    for (let c = 0; c < cols; c++) {
      if (format === 'sign1') w[c] = (codes[r * rb + (c >>> 3)] >>> (c & 7)) & 1 ? 1 : -1;
      else {
        const code = (codes[r * rb + (c >>> 2)] >>> (2 * (c & 3))) & 3;
        w[c] = code === 1 ? 1 : code === 2 ? -1 : 0;
      }
    }
    for (let b = 0; b < batch; b++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += w[c] * Math.fround(x[b * cols + c] * layer.g[c]);
      y[b * rows + r] = layer.h[r] * s;
    }
  }
  return y;
}

/** The GPU product of layer with batch random vectors, against want(layer, x, batch). */
function checkProduct(
  what: string,
  layer: PackedLinear,
  batches: number[],
  want: (layer: PackedLinear, x: Float32Array, batch: number) => ArrayLike<number>,
): void {
  const { rows, cols } = layer.weight;
  const device = uploadPackedLayer(cuda, layer);
  try {
    for (const batch of batches) {
      const x = rand(batch * cols, batch * 7 + cols);
      const dx = upload(x);
      const dy = cuda.alloc('f32', batch * rows);
      cudaPackedGemm(cuda, device, dx, batch, dy);
      // fp32 sums of cols terms of size <= 1, in another order than the float64 reference.
      assertClose(
        `${what} batch ${batch}`,
        download(dy, batch * rows),
        want(layer, x, batch),
        1e-6 * cols + 1e-6,
        0,
      );
      cuda.free(dx);
      cuda.free(dy);
    }
  } finally {
    freePackedLayer(cuda, device);
  }
}

/** Runs fn with BITSCALE_ONEBIT_KERNEL set as given (undefined: the default kernel choice). */
function withKernel(choice: string | undefined, fn: () => void): void {
  const previous = process.env.BITSCALE_ONEBIT_KERNEL;
  if (choice === undefined) delete process.env.BITSCALE_ONEBIT_KERNEL;
  else process.env.BITSCALE_ONEBIT_KERNEL = choice;
  try {
    fn();
  } finally {
    if (previous === undefined) delete process.env.BITSCALE_ONEBIT_KERNEL;
    else process.env.BITSCALE_ONEBIT_KERNEL = previous;
  }
}

// [rows, cols] by the path native/cuda/onebit.cu takes (row bytes: sign1 cols / 8, ternary2 cols / 4, rounded up):
//   odd row lengths (simple kernel, byte path): 1 and 9 columns; 70 sign1 columns (9 bytes);
//   whole words, not 16 bytes (simple kernel, word path): 96 sign1 / 46 ternary2 columns (12 bytes);
//   16-byte multiples (mma kernel): 256 and 4096 columns; 250 sign1 / 126 ternary2 columns leave padding codes in
//   the row's last bytes; 256 columns fill part of one 64-byte chunk; 4096 sign1 columns are 8 chunks (two warps a
//   chunk), 4096 ternary2 columns 16; rows not a multiple of the 16-row tile: 1, 7, 33, 65, 130.
const shapes: Record<PackedFormat, number[][]> = {
  sign1: [
    [1, 1],
    [7, 9],
    [33, 70],
    [33, 96],
    [65, 256],
    [7, 250],
    [130, 4096],
  ],
  ternary2: [
    [1, 1],
    [7, 9],
    [33, 70],
    [33, 46],
    [65, 256],
    [7, 126],
    [130, 4096],
  ],
};

for (const kernel of [undefined, 'simple'])
  test(
    `packedGemm (cuda, ${kernel ?? 'default'} kernel) matches the reference: both formats, every path, batches 1 to 11`,
    {
      skip: kernelSkip,
    },
    () =>
      withKernel(kernel, () => {
        for (const format of packedFormats)
          for (const [rows, cols] of shapes[format]) {
            const shape = `${format} [${rows}x${cols}]`;
            checkProduct(
              shape,
              layerOf(format, rows, cols, rows + cols),
              [1, 2, 3, 4, 5, 8, 11],
              packedGemmReference,
            );
            checkProduct(
              `${shape} raw codes`,
              rawLayer(format, rows, cols, rows * cols),
              [1, 3, 9],
              rawReference,
            );
          }
      }),
  );

test('packedGemm (cuda) on many row groups, long rows and rows past the staged limit', {
  skip: kernelSkip,
}, () => {
  // More row groups than an H100 has SMs (blocks walk several, loading the next group's codes early).
  checkProduct('sign1 [4500x128]', rawLayer('sign1', 4500, 128, 5), [1, 2], rawReference);
  checkProduct('ternary2 [4500x64]', rawLayer('ternary2', 4500, 64, 6), [1, 6], rawReference);
  checkProduct('sign1 [8500x8192]', rawLayer('sign1', 8500, 8192, 10), [1, 2], rawReference);
  // Chunk counts that are not a power of two (3 for sign1, 5 with a 16-byte tail for ternary2): warps of one
  // chunk slot take several chunks, others one.
  checkProduct('sign1 [300x1536]', rawLayer('sign1', 300, 1536, 11), [1, 2, 3], rawReference);
  checkProduct('ternary2 [200x1216]', rawLayer('ternary2', 200, 1216, 12), [1, 2, 5], rawReference);
  // 8192 ternary2 columns: 32 chunks, two per warp.
  checkProduct('ternary2 [40x8192]', rawLayer('ternary2', 40, 8192, 7), [1, 4, 5, 7], rawReference);
  checkProduct('sign1 [40x8192]', rawLayer('sign1', 40, 8192, 8), [1, 5], rawReference);
  // Outliers in x ⊙ g next to small values (a chunk's fixed point is relative to its largest): still within
  // the fp32 tolerance, which the worst case of 512 columns at 2^-23 * 30 each is under.
  const spiky = rawLayer('sign1', 64, 2048, 13);
  spiky.g[5] = 30;
  spiky.g[1500] = -20;
  checkProduct('sign1 [64x2048] with outliers in g', spiky, [1, 2], rawReference);
  // Rows whose staged x ⊙ g cannot fit shared memory take the simple kernel.
  checkProduct('ternary2 [3x30000]', rawLayer('ternary2', 3, 30000, 9), [1, 2], rawReference);
});

for (const kernel of [undefined, 'simple'])
  test(
    `packedGemm (cuda, ${kernel ?? 'default'} kernel): a vector whose x ⊙ g is not finite gets non-finite outputs, the others are exact`,
    {
      skip: kernelSkip,
    },
    () =>
      withKernel(kernel, () => {
        for (const format of packedFormats) {
          const [rows, cols] = [70, 1024];
          const layer = rawLayer(format, rows, cols, 21);
          const device = uploadPackedLayer(cuda, layer);
          try {
            for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
              const x = rand(3 * cols, 22);
              x[cols + 600] = bad; // vector 1
              const dx = upload(x);
              const dy = cuda.alloc('f32', 3 * rows);
              cudaPackedGemm(cuda, device, dx, 3, dy);
              const got = download(dy, 3 * rows);
              const want = rawReference(layer, x, 3);
              for (let r = 0; r < rows; r++) {
                assert.ok(!Number.isFinite(got[rows + r]), `${format} ${bad}: y[1][${r}] = ${got[rows + r]}`);
                for (const b of [0, 2])
                  assert.ok(
                    Math.abs(got[b * rows + r] - want[b * rows + r]) <= 1e-6 * cols + 1e-6,
                    `${format} y[${b}][${r}]`,
                  );
              }
              cuda.free(dx);
              cuda.free(dy);
            }
          } finally {
            freePackedLayer(cuda, device);
          }
        }
      }),
  );

test('packedGemm (cuda) refuses codes shorter than the shape needs', { skip: kernelSkip }, () => {
  const codes = upload(new Int32Array(2), 'i32');
  const [g, h, x, y] = [
    upload(new Float32Array(20)),
    upload(new Float32Array(4)),
    upload(new Float32Array(20)),
    cuda.alloc('f32', 4),
  ];
  // 4 rows of 20 sign1 columns need 12 bytes = 3 words.
  assert.throws(() => cuda.addon.packedGemm!(codes, g, h, x, y, 4, 20, 1, false), /packedGemm.*codes/);
});

test('packed decoding with its linears on the GPU matches the exact CPU decoder', {
  skip: kernelSkip,
}, () => {
  const config = resolveModelConfig({ vocabSize: 61, dModel: 64, nLayers: 2, nHeads: 4, context: 16 });
  const params = initParams(config, 2);
  const weights = new Map(
    [...params].map(([name, t]) => [name, { shape: t.shape.slice(), data: Float32Array.from(t.toArray()) }]),
  );
  for (const p of params.values()) p.dispose();
  const model = packTransformer(weights, { method: 'svd', denseDtype: 'F32' });
  const previous = cuda.setMatmulMode('fp32'); // the tied head is a dense fp32 product on the CPU side
  try {
    const gpu = new Decoder(packedDecoderWeights(config, model, cudaLinears(cuda)));
    const cpu = new Decoder(packedDecoderWeights(config, model, 'exact'));
    assertClose('prompt logits', gpu.forward([1, 2, 3]), cpu.forward([1, 2, 3]), 1e-4, 1e-4);
    for (const t of [4, 5, 6])
      assertClose(`logits after ${t}`, gpu.forward([t]), cpu.forward([t]), 1e-4, 1e-4);
  } finally {
    cuda.setMatmulMode(previous);
  }
});
