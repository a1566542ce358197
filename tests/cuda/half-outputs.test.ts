// Kernels whose outputs products read next (addRmsNorm's out, swiglu and its gradients, rope, rmsNormGrad's gx)
// write the output's 16-bit copy in the same pass, in the bf16 / fp16 matmul modes: the copy must be exactly the
// cast a product would make of the f32 values (nearest even), none in fp32 mode, dropped by the next write, and a
// product reading it must give what it gives on a fresh storage holding the same values. Skips without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matmulArgs } from '../../src/backends/backend.ts';
import { f32ToBf16Bits, f32ToF16Bits } from '../../src/base/half.ts';
import { quantSpec } from '../../src/numerics/spec.ts';
import { cuda, download, normal, skip, upload } from './helpers.ts';

type S = ReturnType<typeof upload>;
const copyOf = (s: S, n: number) => cuda.addon.halfCopyOf!(s, n);

function expectCopy(what: string, s: S, n: number, mode: 'bf16' | 'fp16') {
  const copy = copyOf(s, n); // first: reading the values from the host drops the copy
  const values = download(s, n) as Float32Array;
  assert.ok(copy, `${what}: no 16-bit copy kept`);
  const bits = mode === 'bf16' ? f32ToBf16Bits : f32ToF16Bits;
  for (let i = 0; i < n; i++)
    if (copy[i] !== bits(values[i]))
      assert.fail(`${what}[${i}]: copy ${copy[i]}, cast of ${values[i]} ${bits(values[i])}`);
}

/** Runs every producer once; returns its outputs by name with their lengths. */
function produce(): Record<string, [S, number]> {
  const n = 1030; // a float4 body and a tail
  const [gate, up, gy] = [1, 2, 3].map((seed) => upload(normal(n, seed)));
  const out = cuda.alloc('f32', n);
  cuda.swiglu(gate, up, out, n);
  const [gGate, gUp] = [cuda.alloc('f32', n), cuda.alloc('f32', n)];
  cuda.swigluGrad(gate, up, gy, gGate, gUp, n);
  const [rows, cols] = [70, 512];
  const [x, r, gn] = [4, 5, 6].map((seed) => upload(normal(rows * cols, seed)));
  const w = upload(normal(cols, 7));
  const [sum, normed, rstd] = [
    cuda.alloc('f32', rows * cols),
    cuda.alloc('f32', rows * cols),
    cuda.alloc('f32', rows),
  ];
  cuda.addRmsNorm(x, r, w, sum, normed, rstd, rows, cols, 1e-5);
  const [gx, gw] = [cuda.alloc('f32', rows * cols), cuda.alloc('f32', cols)];
  cuda.rmsNormGrad(sum, w, rstd, gn, gx, gw, rows, cols, false);
  const [B, T, nh, hs] = [1, 20, 2, 64];
  const q = upload(normal(B * T * nh * hs, 8));
  const rotated = cuda.alloc('f32', B * T * nh * hs);
  cuda.rope(q, rotated, B, T, nh, hs, 10000, 0, 1);
  cuda.rope(q, q, B, T, nh, hs, 10000, 0, -1); // in place
  // Fake quantization as QAT runs it: activations per tensor, weights per row, the KV cache per head row.
  const xq = upload(normal(rows * cols, 10));
  const [perTensor, perRow, perHeadRow, perColumn] = [0, 1, 2, 3].map(() => cuda.alloc('f32', rows * cols));
  cuda.fakeQuant(quantSpec('int8', { granularity: { kind: 'tensor' } }), xq, perTensor, rows, cols, null);
  const row = { granularity: { kind: 'row' } } as const;
  cuda.fakeQuant(quantSpec('int4', row), xq, perRow, rows, cols, null);
  cuda.fakeQuant(quantSpec('int4', row), xq, perHeadRow, (rows * cols) / 64, 64, null);
  cuda.fakeQuant(quantSpec('int4', { granularity: { kind: 'col' } }), xq, perColumn, rows, cols, null);
  return {
    swiglu: [out, n],
    'swigluGrad gate': [gGate, n],
    'swigluGrad up': [gUp, n],
    addRmsNorm: [normed, rows * cols],
    rmsNormGrad: [gx, rows * cols],
    rope: [rotated, B * T * nh * hs],
    'rope in place': [q, B * T * nh * hs],
    'fakeQuant per tensor': [perTensor, rows * cols],
    'fakeQuant per row': [perRow, rows * cols],
    'fakeQuant per head row': [perHeadRow, rows * cols],
    // Negative lengths: outputs that must keep no copy.
    'fakeQuant per column (its general path writes none)': [perColumn, -rows * cols],
    'addRmsNorm sum (no product reads it)': [sum, -rows * cols],
  };
}

for (const mode of ['bf16', 'fp16'] as const) {
  test(`${mode} mode: outputs that products read come with their 16-bit copy, equal to the cast`, {
    skip,
  }, () => {
    const previous = cuda.setMatmulMode(mode);
    try {
      for (const [what, [s, n]] of Object.entries(produce())) {
        if (n < 0) assert.equal(copyOf(s, -n), null, what);
        else expectCopy(what, s, n, mode);
      }
    } finally {
      cuda.setMatmulMode(previous);
    }
  });
}

test('fp32 mode keeps no copy; a write drops one; a product reads a written copy as it reads its own cast', {
  skip,
}, () => {
  const previous = cuda.setMatmulMode('fp32');
  try {
    for (const [what, [s, n]] of Object.entries(produce())) assert.equal(copyOf(s, Math.abs(n)), null, what);
    cuda.setMatmulMode('bf16');
    const { swiglu } = produce();
    const [out, n] = swiglu;
    cuda.affine(out, out, n, 2, 0);
    assert.equal(copyOf(out, n), null, 'a kernel writing the storage drops the copy');
    // (m=10, k=103) @ (k, n=7): once from the swiglu output with its written copy, once from the same values uploaded.
    const { swiglu: fresh } = produce();
    const [a] = fresh;
    const b = upload(normal(103 * 7, 9));
    const [viaCopy, viaCast] = [cuda.alloc('f32', 70), cuda.alloc('f32', 70)];
    cuda.matmul(a, b, viaCopy, matmulArgs(10, 7, 103));
    cuda.matmul(upload(download(a, 1030)), b, viaCast, matmulArgs(10, 7, 103));
    assert.deepEqual(download(viaCopy, 70), download(viaCast, 70));
  } finally {
    cuda.setMatmulMode(previous);
  }
});
