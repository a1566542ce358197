// The GPU-resident decoder (src/onebit/device-decode.ts on the cuda backend) against the host decoder on the
// CPU (decode.ts, exact packed kernel): T.packedMatmul on cuda (Backend.packedGemm, native/cuda/onebit.cu)
// against the float64 reference; then in fp32 matmul mode the same greedy tokens and close logits, packed
// (sign1, OneBit output norms, ternary) and dense, through a cache that overflows; in bf16 mode (the default)
// logits within bf16's error; device memory flat across steps (the KV cache written in place, nothing leaked);
// samplePacked with backend 'cuda' (what `bitscale sample --backend cuda` runs) against the host decoder's text.
// Not run here (no GPU): the lead runs it on the GPU host.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveModelConfig } from '../../src/nn/config.ts';
import { initParams } from '../../src/nn/transformer.ts';
import { hasCudaPackedKernels } from '../../src/onebit/cuda-gemv.ts';
import { Decoder, denseDecoderWeights, packedDecoderWeights } from '../../src/onebit/decode.ts';
import { denseDeviceDecoder, packedDeviceDecoder } from '../../src/onebit/device-decode.ts';
import { packedGemmReference } from '../../src/onebit/gemv.ts';
import { packSigns, packTernary } from '../../src/onebit/packed.ts';
import type { PackedLinear } from '../../src/onebit/packed-file.ts';
import { decodeTokens, packRun, samplePacked } from '../../src/onebit/packed-run.ts';
import * as T from '../../src/tensor/index.ts';
import { train } from '../../src/train/trainer.ts';
import { packedModel, ternaryModel } from '../onebit/packed-models.ts';
import { smallData, tinyConfig } from '../train/helpers.ts';
import { assertClose, cuda, inMode, relError, skip } from './helpers.ts';

const kernelSkip =
  skip || (hasCudaPackedKernels(cuda) ? false : 'the CUDA addon has no packedGemm: rebuild it');

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}

test('T.packedMatmul on cuda equals the float64 reference (mma and simple paths, batches past one launch)', {
  skip: kernelSkip,
}, () => {
  // Row bytes: 256 sign1 columns = 32 (mma, 16-byte units), 96 = 12 (mma, words), 70 = 9 (simple);
  // ternary2 128 columns = 32, 30 = 8, 9 = 3.
  for (const [ternary, rows, cols] of [
    [false, 65, 256],
    [false, 33, 96],
    [false, 7, 70],
    [true, 40, 128],
    [true, 33, 30],
    [true, 5, 9],
  ] as const) {
    const w = rand(rows * cols, rows + cols);
    const weight = ternary
      ? packTernary(
          Array.from(w, (v) => (v > 0.3 ? 1 : v < -0.3 ? -1 : 0)),
          rows,
          cols,
        )
      : packSigns(w, rows, cols);
    const layer: PackedLinear = { weight, g: rand(cols, 3), h: rand(rows, 4) };
    const words = new Int32Array(T.packedCodesSize(rows, cols, ternary));
    new Uint8Array(words.buffer).set(weight.codes);
    for (const batch of [1, 3, 6]) {
      const x = rand(batch * cols, batch + cols);
      const got = T.tidy(() =>
        T.packedMatmul(T.tensor(x, [batch, cols], { backend: cuda }), {
          codes: T.tensor(words, [words.length], { backend: cuda, dtype: 'i32' }),
          g: T.tensor(layer.g, [cols], { backend: cuda }),
          h: T.tensor(layer.h, [rows], { backend: cuda }),
          rows,
          cols,
          ternary,
        }).toArray(),
      );
      assertClose(
        `${ternary ? 'ternary2' : 'sign1'} [${rows}x${cols}] batch ${batch}`,
        got,
        packedGemmReference(layer, x, batch),
        1e-6 * cols + 1e-6,
        0,
      );
    }
  }
});

// dModel 64: rows of 8 sign1 bytes (mma, words); dFf 176 (w_down: 22 bytes, the simple kernel); context 24.
const base = resolveModelConfig({ vocabSize: 97, dModel: 64, nLayers: 2, nHeads: 4, dFf: 176, context: 24 });
const onebit = { ...base, onebit: true as const };
const untied = { ...base, tiedEmbeddings: false };
const prompt = [3, 14, 15, 9, 26, 5];

test(
  'the GPU decoder gives the greedy tokens and logits of the CPU decoder (fp32 matmul mode)',
  {
    skip: kernelSkip,
  },
  () =>
    inMode('fp32', () => {
      for (const [what, config, model] of [
        ['sign1', base, packedModel(base, 3)],
        ['sign1 with OneBit output norms', onebit, packedModel(onebit, 4)],
        ['ternary2, untied head', untied, ternaryModel(untied, 5)],
      ] as const) {
        const gpu = packedDeviceDecoder(config, model, cuda);
        const host = new Decoder(packedDecoderWeights(config, model, 'exact'));
        assertClose(`${what} prompt`, gpu.forward(prompt), host.forward(prompt), 1e-4, 1e-4);
        for (
          let t = 0;
          t < 30;
          t++ // past the context: the cache overflows
        )
          assertClose(`${what} logits ${t}`, gpu.forward([t + 1]), host.forward([t + 1]), 1e-4, 1e-4);
        const options = { maxTokens: 40, temperature: 0, topK: 1, seed: 0 };
        const want = decodeTokens(new Decoder(packedDecoderWeights(config, model, 'exact')), prompt, options);
        assert.deepEqual(
          decodeTokens(gpu, prompt, options),
          want,
          `${what}: greedy tokens (argmax on the GPU)`,
        );
        gpu.dispose();
      }
      const params = initParams(base, 9);
      const weights = new Map([...params].map(([n, t]) => [n, Float32Array.from(t.toArray())]));
      for (const p of params.values()) p.dispose();
      const gpu = denseDeviceDecoder(base, weights, cuda);
      const host = new Decoder(denseDecoderWeights(base, weights));
      assertClose('dense prompt', gpu.forward(prompt), host.forward(prompt), 1e-4, 1e-4);
      assertClose(
        'dense chunk after the prompt',
        gpu.forward([7, 8, 9]),
        host.forward([7, 8, 9]),
        1e-4,
        1e-4,
      );
      for (let t = 0; t < 30; t++)
        assertClose(`dense logits ${t}`, gpu.forward([t + 1]), host.forward([t + 1]), 1e-4, 1e-4);
      gpu.dispose();
    }),
);

test(
  'in bf16 matmul mode the GPU decoder stays within bf16 error of the CPU decoder',
  { skip: kernelSkip },
  () =>
    inMode('bf16', () => {
      const model = packedModel(onebit, 6);
      const gpu = packedDeviceDecoder(onebit, model, cuda);
      const host = new Decoder(packedDecoderWeights(onebit, model, 'exact'));
      const err = relError(gpu.forward(prompt), host.forward(prompt));
      assert.ok(err < 3e-2, `prompt logits: relative error ${err}`);
      for (let t = 0; t < 10; t++) {
        const e = relError(gpu.forward([t + 1]), host.forward([t + 1]));
        assert.ok(e < 3e-2 && e > 0, `logits ${t}: relative error ${e}`);
      }
      gpu.dispose();
    }),
);

test(
  'GPU decoding holds its memory flat: the KV cache is written in place and steps free what they make',
  {
    skip: kernelSkip,
  },
  () =>
    // fp32: bf16 mode keeps 16-bit copies of the cache for its products, sized by the positions read.
    inMode('fp32', () => {
      const model = packedModel(base, 7);
      const gpu = packedDeviceDecoder(base, model, cuda);
      gpu.forward(prompt);
      gpu.forwardArgmax([1]);
      cuda.synchronize();
      const before = cuda.memoryStats().inUseBytes;
      for (let t = 0; t < 40; t++) gpu.forwardArgmax([t % base.vocabSize]); // overflows the context too
      cuda.synchronize();
      assert.equal(cuda.memoryStats().inUseBytes, before);
      gpu.dispose();
    }),
);

test('samplePacked (bitscale sample) with backend cuda gives the text of the exact host decoder (fp32 mode)', {
  skip: kernelSkip,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'device-sample-'));
  const run = join(dir, 'run');
  train(tinyConfig({ train: { tokens: 16 * 32 * 4 } }), { outDir: run, backend: 'js', data: smallData() });
  const file = join(dir, 'packed.safetensors');
  packRun(run, file, { method: 'svd' });
  const options = { maxTokens: 16, temperature: 0, topK: 1, seed: 0 };
  inMode('fp32', () =>
    assert.equal(
      samplePacked(file, 'Once upon a time', { ...options, backend: 'cuda' }),
      samplePacked(file, 'Once upon a time', { ...options, kernel: 'exact' }),
    ),
  );
});
