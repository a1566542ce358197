// T.linearCrossEntropy, the LM head fused with its cross-entropy in chunks of rows, against the unfused
// T.crossEntropy(T.matmul(x, w, { transB: true }), targets) on the same backend (js, cpu): loss and both
// gradients at chunk sizes that do and do not divide the rows, a prime vocabulary, ignored targets, an
// upstream gradient other than 1, tied embeddings (w is also the embedding table, its gradients add up).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';
import { uniform } from './fixtures.ts';

// The fp32 backends (cuda multiplies in bf16 by default: tests/cuda/linear-cross-entropy.test.ts covers it).
const backends = ['js', 'js64', 'cpu'].filter((name) => 'backend' in T.tryBackend(name));

const [B, S, C, V] = [2, 13, 24, 997]; // 26 rows; V prime
const rows = B * S;
const xData = uniform(rows * C, 1).map((u) => 2 * u);
const wData = uniform(V * C, 2).map((u) => 0.5 * u);
/** Targets over the whole vocabulary, a few ignored (-1, -100). */
const targetData = uniform(rows, 3).map((u, i) =>
  i % 7 === 3 ? -1 : i === 11 ? -100 : Math.floor(((u + 1) / 2) * V),
);
const tokenData = uniform(rows, 4).map((u) => Math.floor(((u + 1) / 2) * V));

type Backend = ReturnType<typeof T.getBackend>;
interface Result {
  loss: number;
  dx: number[] | null;
  dw: number[] | null;
}

/** Loss of the head on x (or, tied, on tanh(embedding(w, tokens) @ m)), times `upstream`, and its gradients. */
function run(
  backend: Backend,
  fused: number | 'default' | false,
  how: {
    gradX?: boolean;
    gradW?: boolean;
    tied?: boolean;
    upstream?: number;
    targets?: number[];
    round?: 'bf16' | 'f16';
  } = {},
): Result {
  const { gradX = true, gradW = true, tied = false, upstream = 1, targets = targetData, round } = how;
  return T.tidy(() => {
    const w = T.tensor(wData, [V, C], { backend });
    if (gradW) T.requireGrad(w);
    let x: T.Tensor;
    let leaf: T.Tensor;
    if (tied) {
      leaf = T.requireGrad(T.tensor(uniform(C * C, 5), [C, C], { backend }));
      const tokens = T.tensor(tokenData, [B, S], { dtype: 'i32', backend });
      x = T.tanh(T.matmul(T.embedding(w, tokens), leaf));
    } else {
      leaf = T.tensor(xData, [B, S, C], { backend });
      if (gradX) T.requireGrad(leaf);
      x = leaf;
    }
    const t = T.tensor(targets, [B, S], { dtype: 'i32', backend });
    const half = (y: T.Tensor) => (round ? T.cast(T.cast(y, round), 'f32') : y);
    const chunking = fused === 'default' ? {} : { chunkRows: fused as number };
    const loss =
      fused === false
        ? T.crossEntropy(half(T.matmul(x, w, { transB: true })), t)
        : T.linearCrossEntropy(x, w, t, { ...chunking, round });
    const value = loss.item();
    if (gradX || gradW) T.backward(T.affine(loss, upstream));
    const grad = (t: T.Tensor) => (t.grad ? Array.from(t.grad.toArray()) : null);
    return { loss: value, dx: grad(leaf), dw: grad(w) };
  });
}

function assertClose(what: string, ours: number[] | null, want: number[] | null, tol: number) {
  assert.equal(ours === null, want === null, `${what}: one has a gradient, the other not`);
  if (!ours || !want) return;
  assert.equal(ours.length, want.length);
  const scale = Math.max(...want.map(Math.abs));
  assert.ok(scale > 0, `${what}: the reference gradient is all zero`);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(ours[i] - want[i]);
    if (!(err <= tol * scale))
      assert.fail(`${what}[${i}]: ${ours[i]} vs ${want[i]} (tolerance ${tol} × ${scale})`);
  }
}

function assertSame(what: string, ours: Result, want: Result) {
  assert.ok(
    Math.abs(ours.loss - want.loss) <= 1e-6 * Math.abs(want.loss),
    `${what} loss ${ours.loss} vs ${want.loss}`,
  );
  assertClose(`${what} dx`, ours.dx, want.dx, 1e-5);
  assertClose(`${what} dw`, ours.dw, want.dw, 1e-5);
}

for (const name of backends) {
  const backend = T.getBackend(name);

  test(`${name}: loss and gradients equal the unfused head at every chunk size`, () => {
    const want = run(backend, false, { upstream: 2.5 });
    assert.ok(want.loss > 1, 'a loss worth comparing');
    for (const chunk of [1, 3, 7, 13, 25, 26, 1000, 'default'] as const)
      assertSame(`chunkRows ${chunk}`, run(backend, chunk, { upstream: 2.5 }), want);
  });

  test(`${name}: rounding the logits and their gradient to half equals the head that casts them`, () => {
    // bf16 at an upstream power of two; f16 at 1 (what fp16 loss scaling would break, so the model does not)
    for (const [round, upstream] of [
      ['bf16', 4],
      ['f16', 1],
    ] as const) {
      const want = run(backend, false, { round, upstream });
      assert.notEqual(want.loss, run(backend, false, { upstream }).loss, 'the rounding shows in the loss');
      for (const chunk of [5, 26])
        assertSame(`${round} chunkRows ${chunk}`, run(backend, chunk, { round, upstream }), want);
    }
  });

  test(`${name}: only the gradients asked for are made, and they equal the unfused ones`, () => {
    for (const how of [{ gradX: false }, { gradW: false }, { gradX: false, gradW: false }]) {
      const want = run(backend, false, how);
      const ours = run(backend, 5, how);
      assertSame(JSON.stringify(how), ours, want);
    }
  });

  test(`${name}: tied embeddings: w's gradient from the head adds to the embedding's`, () => {
    const want = run(backend, false, { tied: true });
    const untiedHeadOnly = run(backend, false);
    assert.notDeepEqual(want.dw, untiedHeadOnly.dw, 'the embedding contributes to w');
    for (const chunk of [4, 9])
      assertSame(`tied chunkRows ${chunk}`, run(backend, chunk, { tied: true }), want);
  });

  test(`${name}: ignored targets are neither counted nor given gradients; all ignored gives 0`, () => {
    const ignored = targetData.map((t, i) => (i < 20 ? -1 : t));
    assertSame(
      'mostly ignored',
      run(backend, 4, { targets: ignored }),
      run(backend, false, { targets: ignored }),
    );
    const none = run(backend, 4, { targets: targetData.map(() => -1) });
    assert.equal(none.loss, 0);
    assert.ok(none.dx!.every((v) => v === 0) && none.dw!.every((v) => v === 0));
  });

  test(`${name}: under noGrad nothing is recorded and the loss is the same`, () => {
    const want = run(backend, false, { gradX: false, gradW: false });
    T.tidy(() => {
      const x = T.requireGrad(T.tensor(xData, [B, S, C], { backend }));
      const w = T.requireGrad(T.tensor(wData, [V, C], { backend }));
      const t = T.tensor(targetData, [B, S], { dtype: 'i32', backend });
      const loss = T.noGrad(() => T.linearCrossEntropy(x, w, t, { chunkRows: 6 }));
      assert.equal(loss.requiresGrad, false);
      assert.ok(Math.abs(loss.item() - want.loss) <= 1e-6 * want.loss);
    });
  });
}

test('no storage as large as the full logits is ever allocated, forward or backward', () => {
  const js = T.getBackend('js');
  let largest = 0;
  const watched = {
    ...js,
    alloc: (dtype: Parameters<typeof js.alloc>[0], size: number) => {
      largest = Math.max(largest, size);
      return js.alloc(dtype, size);
    },
  };
  const chunk = 4;
  const fused = run(watched, chunk);
  assert.ok(largest <= Math.max(chunk * V, V * C), `largest storage ${largest} elements`);
  assertSame('watched', fused, run(js, false));
  largest = 0;
  run(watched, false);
  assert.equal(largest, rows * V, 'the unfused head allocates the full logits (the check can fail)');
});

test('a second backward through one linearCrossEntropy is refused, naming why', () => {
  T.tidy(() => {
    const x = T.requireGrad(T.tensor(xData, [B, S, C]));
    const w = T.tensor(wData, [V, C]);
    const loss = T.linearCrossEntropy(x, w, T.tensor(targetData, [B, S], { dtype: 'i32' }));
    T.backward(loss);
    assert.throws(() => T.backward(loss), /linearCrossEntropy: back-propagated twice/);
  });
});

test('bad input: errors name the argument, its value and what is allowed', () => {
  T.tidy(() => {
    const x = T.tensor(xData, [B, S, C]);
    const w = T.tensor(wData, [V, C]);
    const t = T.tensor(targetData, [B, S], { dtype: 'i32' });
    const lce = T.linearCrossEntropy;
    assert.throws(() => lce(x, T.reshape(w, [V * C]), t), /w has shape \[23928\], expected \(V, C\)/);
    assert.throws(
      () => lce(T.reshape(x, [B, S * C]), w, t),
      /x has shape \[2, 312\], expected \(\.\.\., 24\)/,
    );
    assert.throws(() => lce(x, w, T.reshape(t, [S, B])), /targets has shape \[13, 2\], expected \[2, 13\]/);
    assert.throws(() => lce(x, w, T.tensor(targetData, [B, S])), /targets must be i32, got f32/);
    assert.throws(
      () => lce(x, w, t, { chunkRows: 0 }),
      /options\.chunkRows is 0, expected a positive integer/,
    );
    assert.throws(() => lce(x, w, t, { chunkRows: 2.5 }), /options\.chunkRows is 2\.5/);
    const fp8 = { round: 'fp8' } as unknown as T.LinearCrossEntropyOptions;
    assert.throws(() => lce(x, w, t, fp8), /options\.round is fp8, expected 'bf16', 'f16' or absent/);
    const far = T.tensor(
      targetData.map((v, i) => (i === 5 ? V : v)),
      [B, S],
      { dtype: 'i32' },
    );
    assert.throws(() => lce(x, w, far, { chunkRows: 4 }), new RegExp(`${V}`));
  });
});
