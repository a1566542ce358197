// The engine's contracts beyond op math: error messages, lifetimes, the tape, storage dtypes, backend choice.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';

const js = T.getBackend('js');
const on = { backend: js };

test('shape and dtype mismatches name the op, the shapes or dtypes, and the backend', () => {
  const a = T.zeros([2, 3], on);
  assert.throws(() => T.add(a, T.zeros([4], on)), /add: shapes \[2, 3\] and \[4\] do not broadcast/);
  assert.throws(
    () => T.matmul(a, T.zeros([4, 5], on)),
    /matmul: \[2, 3\] @ \[4, 5\]: inner dimensions 3 and 4 differ/,
  );
  assert.throws(
    () => T.crossEntropy(a, T.zeros([2], on)),
    /crossEntropy: targets must be i32, got f32 \[2\] on js/,
  );
  assert.throws(() => T.reshape(a, [4, 2]), /reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4, 2\]/);
  assert.throws(() => T.slice(a, 1, 2, 4), /slice: range \[2, 4\) is outside axis 1 of \[2, 3\]/);
  assert.throws(() => T.sum(a, 2), /sum: axis 2 is out of range for rank 2/);
  assert.throws(() => T.tensor([1, 2, 3], [2, 2], on), /tensor: 3 values do not fill shape \[2, 2\]/);
  assert.throws(
    () => T.embedding(a, T.tensor([0, 5], [2], { ...on, dtype: 'i32' })),
    /gather: index 5 at position 1 is outside \[0, 2\)/,
  );
  if ('backend' in T.tryBackend('cpu')) {
    assert.throws(
      () => T.add(a, T.zeros([2, 3], { backend: T.getBackend('cpu') })),
      /add: inputs live on different backends \(js, cpu\)/,
    );
  }
});

test('tidy disposes what it made, except what it returns and what is kept', () => {
  const outside = T.ones([2], on);
  let inner: T.Tensor | undefined;
  let kept: T.Tensor | undefined;
  const result = T.tidy(() => {
    inner = T.exp(outside);
    kept = T.neg(outside).keep();
    return T.add(inner, 1);
  });
  assert.equal(inner!.disposed, true);
  assert.equal(kept!.disposed, false);
  assert.equal(result.disposed, false);
  assert.equal(outside.disposed, false);
  assert.throws(() => inner!.toArray(), /was disposed/);
  // Views share storage: disposing one leaves the other readable.
  const v = T.reshape(result, [1, 2]);
  result.dispose();
  assert.deepEqual([...v.toArray()], [1 + Math.E, 1 + Math.E].map(Math.fround));
});

test('gradients accumulate over backward passes; noGrad records nothing', () => {
  const w = T.requireGrad(T.tensor([1, 2, 3], [3], on));
  for (let i = 0; i < 2; i++) T.tidy(() => T.backward(T.sum(T.square(w))));
  assert.deepEqual([...w.grad!.toArray()], [4, 8, 12]);
  const y = T.noGrad(() => T.mul(w, 2));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.node, null);
});

test("a leaf's first gradient becomes its .grad without a copy unless another tensor shares its storage", () => {
  const copies = { n: 0 };
  const affine = js.affine.bind(js);
  js.affine = (...args: Parameters<typeof js.affine>) => {
    copies.n++;
    return affine(...args);
  };
  try {
    // mul's gradient is a fresh tensor: it is taken as it is.
    const w = T.requireGrad(T.tensor([1, 2, 3], [3], on));
    T.tidy(() => T.backward(T.sum(T.mul(w, T.tensor([2, 3, 4], [3], on)))));
    assert.equal(copies.n, 0);
    assert.deepEqual([...w.grad!.toArray()], [2, 3, 4]);
    // add hands one gradient to both inputs: the first leaf reached copies it, the second then holds the storage
    // alone and takes it, so that accumulating into one in place leaves the other as it is.
    const x = T.requireGrad(T.tensor([1, 2], [2], on));
    const y = T.requireGrad(T.tensor([3, 4], [2], on));
    T.tidy(() => T.backward(T.sum(T.add(x, y))));
    assert.equal(copies.n, 1);
    T.tidy(() => T.backward(T.sum(T.mul(x, T.tensor([5, 6], [2], on)))));
    assert.deepEqual([...x.grad!.toArray()], [6, 7]);
    assert.deepEqual([...y.grad!.toArray()], [1, 1]);
  } finally {
    js.affine = affine;
  }
});

test("a product or a norm adds into the gradient gathered from its input's other uses, with no add pass", () => {
  // x + r feeds an RMSNorm whose output feeds three products (q, k, v), and the stream after it: each gradient
  // against the same graph with folding off (every gradient summed by an add).
  const calls = { binary: 0, accumulated: 0, normAccumulated: 0 };
  const { binary, matmul, rmsNormGrad } = js;
  js.binary = (...args: Parameters<typeof js.binary>) => {
    calls.binary++;
    return binary.apply(js, args);
  };
  js.matmul = (...args: Parameters<typeof js.matmul>) => {
    if (args[3].accumulate) calls.accumulated++;
    return matmul.apply(js, args);
  };
  js.rmsNormGrad = (...args: Parameters<typeof js.rmsNormGrad>) => {
    if (args[8]) calls.normAccumulated++;
    return rmsNormGrad.apply(js, args);
  };
  const values = (n: number, seed: number) =>
    Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.7));
  const x = T.requireGrad(T.tensor(values(12, 1), [3, 4], on));
  const r = T.requireGrad(T.tensor(values(12, 2), [3, 4], on));
  const wn = T.requireGrad(T.tensor(values(4, 3), [4], on));
  const ws = [4, 5, 6].map((seed) => T.requireGrad(T.tensor(values(20, seed), [5, 4], on)));
  const run = (fold: boolean) => {
    const previous = T.setGradientFolding(fold);
    Object.assign(calls, { binary: 0, accumulated: 0, normAccumulated: 0 });
    for (const t of [x, r, wn, ...ws]) t.grad = null;
    try {
      T.tidy(() => {
        const { sum, out } = T.addRmsNorm(x, r, wn);
        const products = ws.map((w) => T.sum(T.square(T.matmul(out, w, { transB: true }))));
        T.backward(T.add(T.add(T.add(products[0], products[1]), products[2]), T.sum(T.square(sum))));
      });
    } finally {
      T.setGradientFolding(previous);
    }
    return { grads: [x, r, wn, ...ws].map((t) => [...t.grad!.toArray()]), ...calls };
  };
  try {
    const reference = run(false);
    assert.equal(reference.accumulated + reference.normAccumulated, 0);
    const folded = run(true);
    // out's gradient from three products: the second and third accumulate into the first's; sum's gradient
    // from the stream (square) is added to by the norm's backward. Three adds fewer.
    assert.equal(folded.accumulated, 2);
    assert.equal(folded.normAccumulated, 1);
    assert.equal(folded.binary, reference.binary - 3);
    folded.grads.forEach((g, i) => {
      for (const [j, v] of g.entries())
        assert.ok(Math.abs(v - reference.grads[i][j]) <= 1e-6 * (1 + Math.abs(v)), `${i} ${j}`);
    });
  } finally {
    Object.assign(js, { binary, matmul, rmsNormGrad });
  }
});

test('custom gradients: record() attaches any rule, e.g. a straight-through round', () => {
  const x = T.requireGrad(T.tensor([0.2, 1.7, -0.6], [3], on));
  const [g] = T.grad(
    (t) => {
      const forward = T.noGrad(() => T.round(t));
      return T.sum(
        T.mul(
          T.record(forward, 'steRound', [t], (gy) => [gy]),
          T.tensor([1, 2, 3], [3], on),
        ),
      );
    },
    [x],
  );
  assert.deepEqual([...g.toArray()], [1, 2, 3]);
});

test('bf16 and f16 are storage formats: casts round to nearest, ties to even', () => {
  const roundTrip = (values: number[], dtype: 'bf16' | 'f16') => [
    ...T.cast(T.cast(T.tensor(values, [values.length], on), dtype), 'f32').toArray(),
  ];
  // bf16 keeps 7 mantissa bits: 1 + 2^-8 is a tie (to 1), 1 + 3 * 2^-8 a tie (to the even 1 + 2^-6).
  // 1e-8 is 0x322BCC77 in f32; its low half 0xCC77 rounds the high half up to 0x322C.
  const bits = new Float32Array(new Uint32Array([0x322c0000]).buffer)[0];
  assert.deepEqual(roundTrip([1 + 2 ** -8, 1 + 3 * 2 ** -8, 65519, 1e-8], 'bf16'), [
    1,
    1 + 2 ** -6,
    65536,
    bits,
  ]);
  // f16 keeps 10: ties at 2^-11; 65519 is below the midpoint to 65536 (which would overflow); 1e-8 underflows.
  assert.deepEqual(roundTrip([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, 1e-8], 'f16'), [
    1,
    1 + 2 ** -9,
    65504,
    0,
  ]);
  const bf = T.cast(T.tensor([1], [1], on), 'bf16');
  assert.equal(bf.dtype, 'bf16');
  assert.throws(() => T.exp(bf), /exp: input must be f32, got bf16/);
});

test('a backend that cannot load falls back to js with one message', () => {
  const code = `import '../../src/backends/index.ts'; import { defaultBackend } from '../../src/tensor/index.ts'; console.log(defaultBackend().name);`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: new URL('.', import.meta.url).pathname,
    env: { ...process.env, BITSCALE_BACKEND: 'cuda-on-a-machine-without-it' },
    encoding: 'utf8',
  });
  assert.equal(run.stdout.trim(), 'js');
  assert.match(run.stderr, /backend 'cuda-on-a-machine-without-it' is unavailable \(unknown backend/);
});

test('mean cross-entropy averages over targets >= 0; an all-ignored batch gives 0 and a zero gradient', () => {
  const logits = [0.5, -1, 2, 0.25, 3, 0.1, -0.7, 1.2, -2, 0.4, 1.5, 0.3];
  const rowLse = (r: number) => Math.log(logits.slice(r * 4, r * 4 + 4).reduce((s, v) => s + Math.exp(v), 0));
  const backends = [js, ...('backend' in T.tryBackend('cpu') ? [T.getBackend('cpu')] : [])];
  for (const backend of backends) {
    const run = (targets: number[]) => {
      const x = T.requireGrad(T.tensor(logits, [3, 4], { backend }));
      const [g] = T.grad((l) => T.crossEntropy(l, T.tensor(targets, [3], { backend, dtype: 'i32' })), [x]);
      const loss = T.crossEntropy(x, T.tensor(targets, [3], { backend, dtype: 'i32' })).item();
      return { loss, grad: [...g.toArray()] };
    };
    // Rows 0 and 2 count (targets 2 and 0), row 1 is ignored: the mean divides by 2, not 3.
    const partly = run([2, -1, 0]);
    const want = (rowLse(0) - logits[2] + rowLse(2) - logits[8]) / 2;
    assert.ok(Math.abs(partly.loss - want) < 1e-6, `${backend.name}: loss ${partly.loss} vs ${want}`);
    const wantGrad = logits.map((v, i) => {
      const r = Math.floor(i / 4);
      if (r === 1) return 0;
      return (Math.exp(v - rowLse(r)) - (i === [2, -1, 8][r] ? 1 : 0)) / 2;
    });
    partly.grad.forEach((g, i) => {
      assert.ok(Math.abs(g - wantGrad[i]) < 1e-6, `${backend.name}: grad[${i}] ${g} vs ${wantGrad[i]}`);
    });
    const none = run([-1, -1, -5]);
    assert.equal(none.loss, 0, `${backend.name}: all ignored`);
    assert.deepEqual(none.grad, new Array(12).fill(0), `${backend.name}: all-ignored gradient`);
  }
});
