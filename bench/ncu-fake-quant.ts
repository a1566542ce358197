// The fake quantizations of the d1024 QAT step (int4 weights per row, int8 activations per tensor, int4 KV cache
// per head row) on step-sized tensors: each call's time from the host, 50 calls queued (default), or one call each
// for Nsight Compute (NCU=1):
//   node --import tsx bench/ncu-fake-quant.ts
//   NCU=1 ncu --section SpeedOfLight -k regex:"tensor_stats|apply_tensor4|register_groups|fused_groups" \
//     node --import tsx bench/ncu-fake-quant.ts
// (bench/cuda-notes.md's session-11 figures). The activations are written as the products read them (bf16, the
// copy alone), the weights in f32; the inputs are f32.
import { createCudaBackend } from '../src/backends/cuda/cuda-backend.ts';
import { resolvePrecision } from '../src/nn/precision.ts';
import type { FakeQuantSpec } from '../src/numerics/spec.ts';
import { randomStorage } from './cuda-random.ts';

const cuda = createCudaBackend();
const p = resolvePrecision({ weights: 'int4', activations: 'int8', kv: 'int4' });
const random = (length: number) => randomStorage(cuda, length);
const cases: [string, FakeQuantSpec | null, number, number, boolean][] = [
  ['activations 16384x1024', p.activations, 16384, 1024, true],
  ['activations 16384x2736', p.activations, 16384, 2736, true],
  ['kv 262144x64', p.kv, 262144, 64, true],
  ['weights 1024x1024', p.weights, 1024, 1024, false],
  ['weights 2736x1024', p.weights, 2736, 1024, false],
];
const ncu = process.env.NCU === '1';
for (const [name, spec, rows, cols, half] of cases) {
  if (!spec) throw new Error(`${name}: no quantization`);
  const [x, out] = [random(rows * cols), cuda.alloc('f32', rows * cols)];
  const run = () => cuda.fakeQuant(spec, x, out, rows, cols, null, half ? 'bf16' : undefined, half);
  run();
  cuda.synchronize();
  if (!ncu) {
    const reps = 50;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    cuda.synchronize();
    const us = ((performance.now() - t0) / reps) * 1000;
    console.log(`${name}: ${us.toFixed(1)} µs a call`);
  }
  cuda.free(x);
  cuda.free(out);
}
console.log('done');
