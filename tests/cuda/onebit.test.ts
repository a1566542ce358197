// Packed sign1 / ternary2 GEMV and small-batch GEMM on the GPU (native/cuda/onebit.cu) against the float64
// reference, on shapes that take the byte path (rows not 4-byte aligned) and the word path, and batches that
// need more than one launch; and packed decoding with the linears on the GPU against the exact CPU decoder.
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
import { packSigns, packTernary } from '../../src/onebit/packed.ts';
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

// [rows, cols]: 9 and 70 columns give rows of 2 and 9 bytes (byte path), 256 and 4096 whole words.
const shapes = [
  [1, 1],
  [7, 9],
  [33, 70],
  [65, 256],
  [130, 4096],
];

test('packedGemm (cuda) matches the reference: both formats, byte and word paths, batches 1 to 11', {
  skip: kernelSkip,
}, () => {
  for (const format of ['sign1', 'ternary2'] as const)
    for (const [rows, cols] of shapes) {
      const layer = layerOf(format, rows, cols, rows + cols);
      const device = uploadPackedLayer(cuda, layer);
      for (const batch of [1, 3, 11]) {
        const x = rand(batch * cols, batch * 7);
        const dx = upload(x);
        const dy = cuda.alloc('f32', batch * rows);
        cudaPackedGemm(cuda, device, dx, batch, dy);
        const want = packedGemmReference(layer, x, batch);
        // fp32 sums of cols terms of size <= 1, in another order than the float64 reference.
        assertClose(
          `${format} [${rows}x${cols}] batch ${batch}`,
          download(dy, batch * rows),
          want,
          1e-6 * cols + 1e-6,
          0,
        );
        cuda.free(dx);
        cuda.free(dy);
      }
      freePackedLayer(cuda, device);
    }
});

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
