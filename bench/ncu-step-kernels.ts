// Drives the d1024 training step's elementwise kernels twice each on step-sized tensors, for Nsight Compute:
//   ncu --section SpeedOfLight -k regex:"binary|rope_rows|rms_norm_grad4|cross_entropy_rows|adamw_multi|strided" \
//     node --import tsx bench/ncu-step-kernels.ts
// (bench/cuda-notes.md's session-9 kernel figures). Prints nothing but "done"; the profiler reads the launches.
import { createCudaBackend } from '../src/backends/cuda/cuda-backend.ts';
import { randomStorage } from './cuda-random.ts';

const cuda = createCudaBackend();
const random = (length: number) => randomStorage(cuda, length);
const [B, T, heads, hs] = [16, 1024, 16, 64];
const n = B * T * heads * hs; // one (16384, 1024) activation
const [a, b, out] = [random(n), random(n), cuda.alloc('f32', n)];
const [w, rstd, gw] = [random(1024), random(B * T), cuda.alloc('f32', 1024)];
const table = random(32768 * 1024); // the tied embedding / head weight
const scale = random(1);
const rows = cuda.alloc('f32', 2048 * 1024);
for (let i = 0; i < 2; i++) {
  cuda.binary('add', a, [1], b, [1], out, [n]);
  cuda.rope(a, out, B, T, heads, hs, 10000, 0, 1);
  cuda.roundTo(a, out, 'bf16', n);
  cuda.rmsNormGrad(a, w, rstd, b, out, gw, B * T, 1024, false);
  cuda.binary('mul', table, [1], scale, [0], table, [32768 * 1024]); // the head's backward scale
  cuda.strided(a, 4096 * 1024, [1], rows, 0, [1], [2048 * 1024]); // a chunk of the head's rows
}
const [chunk, vocab] = [2048, 32768];
const logits = random(chunk * vocab);
const targets = cuda.alloc('i32', chunk);
cuda.write(
  targets,
  'i32',
  Int32Array.from({ length: chunk }, (_, i) => (i * 7) % vocab),
);
const [loss, lse] = [cuda.alloc('f32', chunk), cuda.alloc('f32', chunk)];
for (let i = 0; i < 2; i++) cuda.crossEntropy(logits, targets, loss, lse, chunk, vocab);
// AdamW over the step's parameters: the embedding, then 12 layers' seven matrices.
const sizes = [
  32768 * 1024,
  ...Array.from({ length: 84 }, (_, i) => (i % 7 < 4 ? 1024 * 1024 : 2736 * 1024)),
];
const [ps, gs] = [sizes.map(random), sizes.map(random)];
const [ms, vs] = [sizes.map((s) => cuda.alloc('f32', s)), sizes.map((s) => cuda.alloc('f32', s))];
for (let step = 1; step <= 2; step++)
  cuda.adamwMulti(ps, gs, ms, vs, sizes, {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: 0.1,
    step,
    gradScale: 1,
  });
cuda.synchronize();
console.log('done');
