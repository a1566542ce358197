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

// ---- HalfOnly: a rounded output kept as its 16-bit copy alone -------------------------------------------------

const pending = (s: S) => cuda.addon.f32Pending!(s);
const counts = () => {
  const [kept, widened] = cuda.addon.halfOnlyCounts!();
  return { kept, widened };
};

/** swiglu of fixed inputs into a fresh storage, its output rounded to `to` (with the HalfOnly hint). */
function roundedSwiglu(n: number, to: 'bf16' | 'f16', halfOnly: boolean): S {
  const [gate, up] = [11, 12].map((seed) => upload(normal(n, seed)));
  const out = cuda.alloc('f32', n);
  cuda.swiglu(gate, up, out, n, undefined, to, halfOnly);
  return out;
}

for (const [mode, to] of [
  ['bf16', 'bf16'],
  ['fp16', 'f16'],
] as const) {
  test(`${mode} mode, halfOnly: the output is kept as its copy alone, a product reads it so, a read writes the f32 values exactly`, {
    skip,
  }, () => {
    const previous = cuda.setMatmulMode(mode);
    try {
      const n = 1030;
      const reference = download(roundedSwiglu(n, to, false), n);
      const before = counts();
      const out = roundedSwiglu(n, to, true);
      assert.ok(pending(out), 'the f32 values are pending');
      assert.equal(counts().kept, before.kept + 1);
      // A product reads the copy and leaves the values pending: (m=10, k=103) @ (k, n=7) as on the f32 values.
      const b = upload(normal(103 * 7, 9));
      const [viaCopy, viaValues] = [cuda.alloc('f32', 70), cuda.alloc('f32', 70)];
      cuda.matmul(out, b, viaCopy, matmulArgs(10, 7, 103));
      assert.ok(pending(out), 'a product read the copy only');
      assert.equal(counts().widened, before.widened);
      cuda.matmul(upload(reference), b, viaValues, matmulArgs(10, 7, 103));
      assert.deepEqual(download(viaCopy, 70), download(viaValues, 70));
      // Any other reader gets the values: written from the copy, exactly the rounded output.
      expectCopy('the kept copy', out, n, mode);
      assert.ok(!pending(out));
      assert.equal(counts().widened, before.widened + 1);
      assert.deepEqual(download(out, n), reference);
    } finally {
      cuda.setMatmulMode(previous);
    }
  });
}

test('halfOnly keeps the f32 values where the copy cannot hold them: fp32 mode, the other half type, no rounding', {
  skip,
}, () => {
  const previous = cuda.setMatmulMode('bf16');
  try {
    const n = 1030;
    assert.ok(!pending(roundedSwiglu(n, 'f16', true)), 'f16 values in bf16 mode');
    const [gate, up] = [1, 2].map((seed) => upload(normal(n, seed)));
    const unrounded = cuda.alloc('f32', n);
    cuda.swiglu(gate, up, unrounded, n, undefined, undefined, true);
    assert.ok(!pending(unrounded), 'values not rounded');
    cuda.setMatmulMode('fp32');
    assert.ok(!pending(roundedSwiglu(n, 'bf16', true)), 'fp32 mode keeps no copies');
  } finally {
    cuda.setMatmulMode(previous);
  }
});

test('a pending storage: a whole overwrite or a free writes nothing from the copy; a partial write keeps the rest', {
  skip,
}, () => {
  const previous = cuda.setMatmulMode('bf16');
  try {
    const n = 1030;
    const reference = download(roundedSwiglu(n, 'bf16', false), n) as Float32Array;
    const before = counts();
    const overwritten = roundedSwiglu(n, 'bf16', true);
    cuda.write(overwritten, 'f32', new Float32Array(n).fill(3));
    assert.ok(!pending(overwritten));
    cuda.free(roundedSwiglu(n, 'bf16', true));
    assert.equal(counts().widened, before.widened, 'nothing written from a copy');
    assert.deepEqual(Array.from(download(overwritten, 4)), [3, 3, 3, 3]);
    const partly = roundedSwiglu(n, 'bf16', true);
    cuda.write(partly, 'f32', [5, 6], 7);
    const want = Float32Array.from(reference);
    want.set([5, 6], 7);
    assert.deepEqual(download(partly, n), want);
  } finally {
    cuda.setMatmulMode(previous);
  }
});

/** A product (rows 32, k 64, n 128) of fixed operands from `seed`, its output rounded to bf16: kept as its copy
 *  alone with `halfOnly` (bf16 mode), else in f32. */
function roundedProduct(seed: number) {
  const [rows, k, n] = [32, 64, 128];
  const a = upload(normal(rows * k, seed));
  const b = upload(normal(n * k, seed + 1));
  const product = (halfOnly: boolean) => {
    const out = cuda.alloc('f32', rows * n);
    cuda.matmul(a, b, out, matmulArgs(rows, n, k, { transB: true, roundOutput: 'bf16', halfOnly }));
    return out;
  };
  return { rows, n, size: rows * n, product };
}

test('bf16 mode: rope, swiglu, its gradient, addRmsNorm and fakeQuant read a product output kept as its copy alone, as its values', {
  skip,
}, () => {
  const previous = cuda.setMatmulMode('bf16');
  try {
    // Two products of the same operands: one kept as its bf16 copy alone, one in f32 and rounded after; each
    // reader runs once on either, with the same other inputs.
    const { rows, n, size, product } = roundedProduct(21);
    const kept = product(true);
    const values = product(false);
    assert.ok(pending(kept) && !pending(values));
    const before = counts().widened;
    const gy = upload(normal(size, 23));
    const x = upload(normal(size, 24));
    const w = upload(normal(n, 25));
    const readers: Record<string, (y: S) => [S, number][]> = {
      rope: (y) => {
        const out = cuda.alloc('f32', size);
        cuda.rope(y, out, 1, rows, n / 64, 64, 10000, 0, 1, 'bf16');
        return [[out, size]];
      },
      swiglu: (y) => {
        const out = cuda.alloc('f32', size);
        cuda.swiglu(y, y, out, size, 'bf16');
        return [[out, size]];
      },
      swigluGrad: (y) => {
        const [gGate, gUp] = [cuda.alloc('f32', size), cuda.alloc('f32', size)];
        cuda.swigluGrad(y, y, gy, gGate, gUp, size, 'bf16');
        return [
          [gGate, size],
          [gUp, size],
        ];
      },
      // QAT's activations (per tensor) and its rows (per row, as the KV cache), without an STE mask
      fakeQuant: (y) => {
        const [tensor, row] = [cuda.alloc('f32', size), cuda.alloc('f32', size)];
        cuda.fakeQuant(quantSpec('int8'), y, tensor, rows, n, null, 'bf16');
        cuda.fakeQuant(quantSpec('int4', { granularity: { kind: 'row' } }), y, row, rows, n, null);
        return [
          [tensor, size],
          [row, size],
        ];
      },
      addRmsNorm: (y) => {
        const [sum, out, rstd] = [cuda.alloc('f32', size), cuda.alloc('f32', size), cuda.alloc('f32', rows)];
        cuda.addRmsNorm(x, y, w, sum, out, rstd, rows, n, 1e-5, 'bf16');
        return [
          [sum, size],
          [out, size],
          [rstd, rows],
        ];
      },
    };
    for (const [what, read] of Object.entries(readers)) {
      const got = read(kept).map(([s, len]) => download(s, len));
      assert.ok(pending(kept), `${what} read the copy`);
      const want = read(values).map(([s, len]) => download(s, len));
      for (let i = 0; i < want.length; i++) assert.deepEqual(got[i], want[i], what);
    }
    assert.equal(counts().widened, before, 'no f32 values written from the copy');
  } finally {
    cuda.setMatmulMode(previous);
  }
});

test('a pending input that is also the output, or read in another mode, is read as its values', {
  skip,
}, () => {
  const previous = cuda.setMatmulMode('bf16');
  try {
    const { rows, n, size, product } = roundedProduct(31);
    const kept = () => {
      const out = product(true);
      assert.ok(pending(out));
      return out;
    };
    const values = download(kept(), size) as Float32Array;
    const same = (what: string, got: S, want: S, len = size) =>
      assert.deepEqual(download(got, len), download(want, len), what);
    // rope in place
    const x = kept();
    cuda.rope(x, x, 1, rows, n / 64, 64, 10000, 0, 1);
    const rotated = cuda.alloc('f32', size);
    cuda.rope(upload(values), rotated, 1, rows, n / 64, 64, 10000, 0, 1);
    same('rope in place', x, rotated);
    // swiglu into its gate
    const gate = kept();
    const up = upload(normal(size, 33));
    cuda.swiglu(gate, up, gate, size);
    const want = cuda.alloc('f32', size);
    cuda.swiglu(upload(values), up, want, size);
    same('swiglu into its gate', gate, want);
    // crossEntropyGrad over its logits, without HalfOnly
    const logits = kept();
    const targets = upload(
      Array.from({ length: rows }, (_, r) => (r * 37) % n),
      'i32',
    );
    const [loss, lse, gLoss] = [
      cuda.alloc('f32', rows),
      cuda.alloc('f32', rows),
      upload(new Array(rows).fill(0.5)),
    ];
    cuda.crossEntropy(upload(values), targets, loss, lse, rows, n);
    cuda.crossEntropyGrad(logits, targets, lse, gLoss, logits, rows, n);
    const grads = cuda.alloc('f32', size);
    cuda.crossEntropyGrad(upload(values), targets, lse, gLoss, grads, rows, n);
    same('crossEntropyGrad over its logits', logits, grads);
    // fakeQuant in place, its output kept as its copy alone: per tensor (reads x as it finds it) and per row in
    // fp8 (a kernel that reads f32 values, which must be read before the output's copy is marked as holding them)
    for (const spec of [quantSpec('int8'), quantSpec('fp8_e4m3', { granularity: { kind: 'row' } })]) {
      const inPlace = kept();
      cuda.fakeQuant(spec, inPlace, inPlace, rows, n, null, 'bf16', true);
      const quantized = cuda.alloc('f32', size);
      cuda.fakeQuant(spec, upload(values), quantized, rows, n, null, 'bf16');
      same(`fakeQuant ${spec.format.kind} in place`, inPlace, quantized);
    }
    // a product in fp16 mode reads the values of a storage kept as its bf16 copy
    const bf16Kept = kept();
    cuda.setMatmulMode('fp16');
    const [viaKept, viaValues] = [cuda.alloc('f32', rows * 8), cuda.alloc('f32', rows * 8)];
    const c = upload(normal(8 * n, 34));
    cuda.matmul(bf16Kept, c, viaKept, matmulArgs(rows, 8, n, { transB: true }));
    cuda.matmul(upload(values), c, viaValues, matmulArgs(rows, 8, n, { transB: true }));
    same('fp16 product of a bf16-kept storage', viaKept, viaValues, rows * 8);
  } finally {
    cuda.setMatmulMode(previous);
  }
});
