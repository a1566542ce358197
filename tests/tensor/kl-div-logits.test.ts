// T.klDivLogits, the fused KL(teacher ‖ student) on logits, against the generic-op formulation it replaces
// in distillation (two logSoftmax, exp, sub, mul, sum) computed in float64 on js64: values and student
// gradients on every float32 backend available (js, cpu), on rows that are ordinary, very peaked, very
// flat and at ±80, with V not a multiple of any block size.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';
import { testedBackends, uniform } from './fixtures.ts';

const reference = T.getBackend('js64');

const V = 1000; // not a multiple of 32, 256 or a SIMD width
/** Row kinds (student row, teacher row); every pair of kinds is exercised by crossing the lists. */
function rowOf(kind: string, seed: number): number[] {
  const u = uniform(V, seed);
  const hot = (seed * 7919) % V;
  switch (kind) {
    case 'normal':
      return u.map((x) => 3 * x);
    case 'peaked': // one logit far above the rest: p ≈ one-hot
      return u.map((x, i) => (i === hot ? 80 : 2 * x - 40));
    case 'flat': // nearly uniform
      return u.map((x) => 1e-4 * x + 5);
    case 'large': // logits spread over ±80
      return u.map((x) => 80 * x);
    default:
      throw new Error(kind);
  }
}
const kinds = ['normal', 'peaked', 'flat', 'large'];
const pairs = kinds.flatMap((a) => kinds.map((b) => [a, b] as const));
const rows = pairs.length; // 16 rows: (2, 8, V)
const studentData = pairs.flatMap(([a], i) => rowOf(a, 2 * i + 1));
const teacherData = pairs.flatMap(([, b], i) => rowOf(b, 2 * i + 2));
const upstream = uniform(rows, 99).map((x) => x + 1.5);
const shape = [2, rows / 2, V];

/** Per-row KL and the student gradient of Σ_r w_r KL_r, by the fused op or by the generic ops. */
function run(backend: ReturnType<typeof T.getBackend>, fused: boolean) {
  return T.tidy(() => {
    const s = T.requireGrad(T.tensor(studentData, shape, { backend }));
    const t = T.tensor(teacherData, shape, { backend });
    let kl: T.Tensor;
    if (fused) kl = T.klDivLogits(s, t, 'none');
    else {
      const logPs = T.logSoftmax(s);
      const logPt = T.logSoftmax(t);
      kl = T.sum(T.mul(T.exp(logPt), T.sub(logPt, logPs)), -1);
    }
    assert.deepEqual(kl.shape, shape.slice(0, -1));
    T.backward(T.sum(T.mul(kl, T.tensor(upstream, shape.slice(0, -1), { backend }))));
    return { kl: Array.from(kl.toArray()), grad: Array.from(s.grad!.toArray()) };
  });
}

function close(what: string, ours: number[], ref: number[], abs: number, rel: number) {
  assert.equal(ours.length, ref.length, `${what}: length`);
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(ours[i] - ref[i]);
    assert.ok(err <= abs + rel * Math.abs(ref[i]), `${what}[${i}]: ${ours[i]} vs reference ${ref[i]}`);
  }
}

const expected = run(reference, false);

test('the reference rows cover near-zero and large divergences', () => {
  assert.ok(Math.min(...expected.kl) < 1e-6, 'a flat–flat row has KL ≈ 0');
  assert.ok(Math.max(...expected.kl) > 50, 'a peaked–peaked row with different peaks has a large KL');
  assert.ok(
    expected.kl.every((k) => k >= -1e-12),
    'KL is not negative',
  );
});

test('js64: the fused op equals the generic formulation', () => {
  const ours = run(reference, true);
  close('kl', ours.kl, expected.kl, 1e-9, 1e-9);
  close('grad', ours.grad, expected.grad, 1e-12, 1e-9);
});

for (const name of testedBackends) {
  test(`${name}: the fused op matches the generic formulation in float64`, () => {
    const ours = run(T.getBackend(name), true);
    // float32 logits up to ±80: each log-probability carries ~1e-5 of rounding
    close('kl', ours.kl, expected.kl, 2e-4, 1e-5);
    close('grad', ours.grad, expected.grad, 1e-6, 1e-4);
    // and is at least as close to it as the generic ops on the same backend
    const generic = run(T.getBackend(name), false);
    const worst = (a: number[]) => Math.max(...a.map((x, i) => Math.abs(x - expected.kl[i])));
    assert.ok(
      worst(ours.kl) <= 2 * worst(generic.kl) + 1e-5,
      `${worst(ours.kl)} vs generic ${worst(generic.kl)}`,
    );
  });

  test(`${name}: 'sum' adds the rows and passes one gradient to each`, () => {
    const backend = T.getBackend(name);
    T.tidy(() => {
      const s = T.requireGrad(T.tensor(studentData, shape, { backend }));
      const t = T.tensor(teacherData, shape, { backend });
      const total = T.klDivLogits(s, t);
      assert.deepEqual(total.shape, []);
      const sum = expected.kl.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(total.item() - sum) <= 1e-3 + 1e-5 * sum, `${total.item()} vs ${sum}`);
      T.backward(T.affine(total, 0.25));
      const perRow = run(backend, true);
      // d(0.25 Σ KL)/ds against the per-row gradient with weights w: rescale row by row
      const g = Array.from(s.grad!.toArray());
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < V; c += 97) {
          const i = r * V + c;
          const want = (0.25 * perRow.grad[i]) / upstream[r];
          assert.ok(Math.abs(g[i] - want) <= 1e-7 + 1e-5 * Math.abs(want), `grad[${i}] ${g[i]} vs ${want}`);
        }
    });
  });
}

test('the teacher is a target: one requiring gradients is refused, under noGrad it is accepted', () => {
  const s = T.requireGrad(T.tensor(uniform(12, 1), [3, 4], { backend: reference }));
  const t = T.requireGrad(T.tensor(uniform(12, 2), [3, 4], { backend: reference }));
  assert.throws(() => T.klDivLogits(s, t), /klDivLogits: the teacher requires gradients/);
  const kl = T.noGrad(() => T.klDivLogits(s, t));
  assert.equal(kl.requiresGrad, false);
});

test('shapes and dtypes are checked', () => {
  const s = T.tensor(uniform(12, 1), [3, 4], { backend: reference });
  assert.throws(
    () => T.klDivLogits(s, T.tensor(uniform(12, 2), [4, 3], { backend: reference })),
    /teacher has shape/,
  );
  assert.throws(
    () => T.klDivLogits(s, T.tensor([1, 2, 3], [3], { backend: reference, dtype: 'i32' })),
    /klDivLogits/,
  );
});
