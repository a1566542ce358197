import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuantaConfigError } from '../../../src/experiments/quanta/errors.ts';
import { validateMlp } from '../../../src/experiments/quanta/mlp.ts';
import { MultitaskSparseParity } from '../../../src/experiments/quanta/sparse-parity.ts';
import { checkZipf, zipfProbabilities } from '../../../src/experiments/quanta/zipf.ts';

const reference = { nTasks: 500, n: 100, k: 3, zipfExponent: 1.4, seed: 7 };

test('each task has k distinct sorted bit positions in [0, n), fixed by the seed', () => {
  const a = new MultitaskSparseParity(reference);
  const b = new MultitaskSparseParity(reference);
  const c = new MultitaskSparseParity({ ...reference, seed: 8 });
  for (const [t, subset] of a.subsets.entries()) {
    assert.equal(subset.length, 3);
    assert.equal(new Set(subset).size, 3);
    for (let i = 0; i < 3; i++) assert.ok(subset[i] >= 0 && subset[i] < 100);
    assert.ok(subset[0] < subset[1] && subset[1] < subset[2]);
    assert.deepEqual([...subset], [...b.subsets[t]]);
  }
  const differing = a.subsets.filter((s, t) => s.join() !== c.subsets[t].join()).length;
  assert.ok(differing > 450, `another seed should change most subsets (changed ${differing})`);
});

test('labels are the parity of the task subset bits (recomputed independently)', () => {
  const world = new MultitaskSparseParity(reference);
  for (const batch of [world.trainBatch(3, 2000), world.heldOut(4), world.trainingPool(500)]) {
    let ones = 0;
    for (let b = 0; b < batch.size; b++) {
      const subset = world.subsets[batch.tasks[b]];
      let sum = 0;
      for (const i of subset) sum += batch.bits[b * 100 + i];
      assert.equal(batch.labels[b], sum % 2, `row ${b}`);
      ones += batch.labels[b];
      for (let i = 0; i < 100; i++) assert.ok(batch.bits[b * 100 + i] === 0 || batch.bits[b * 100 + i] === 1);
    }
    // Labels are balanced: parity of random bits is a fair coin.
    assert.ok(Math.abs(ones / batch.size - 0.5) < 0.06, `label balance ${ones / batch.size}`);
  }
});

test('batches are a pure function of (seed, step); held-out sets are task-major', () => {
  const world = new MultitaskSparseParity(reference);
  assert.deepEqual(world.trainBatch(5, 64), world.trainBatch(5, 64));
  assert.notDeepEqual(world.trainBatch(5, 64).bits, world.trainBatch(6, 64).bits);
  const held = world.heldOut(3);
  assert.equal(held.size, 1500);
  assert.deepEqual([...held.tasks.subarray(0, 7)], [0, 0, 0, 1, 1, 1, 2]);
});

test('task frequencies follow the Zipf law (chi-square, fixed seed)', () => {
  const world = new MultitaskSparseParity(reference);
  const p = zipfProbabilities(500, 1.4);
  const draws = 200_000;
  const counts = new Float64Array(500);
  for (let step = 0; step < draws / 10_000; step++) {
    const batch = world.trainBatch(step, 10_000);
    for (const t of batch.tasks) counts[t]++;
  }
  // Bins: the top 30 ranks one by one, then the rest pooled (expected counts all >= 5).
  const bins = 30;
  let chi2 = 0;
  let restObserved = draws;
  let restExpected = draws;
  for (let t = 0; t < bins; t++) {
    const expected = draws * p[t];
    chi2 += (counts[t] - expected) ** 2 / expected;
    restObserved -= counts[t];
    restExpected -= expected;
  }
  chi2 += (restObserved - restExpected) ** 2 / restExpected;
  // df = 30; the 0.999 quantile of chi-square(30) is 59.7.
  assert.ok(chi2 < 59.7, `chi-square ${chi2.toFixed(1)} rejects Zipf`);
  // And a wrong exponent is rejected by the same statistic.
  const q = zipfProbabilities(500, 1.2);
  let wrong = 0;
  for (let t = 0; t < bins; t++) wrong += (counts[t] - draws * q[t]) ** 2 / (draws * q[t]);
  assert.ok(wrong > 1000, `chi-square against exponent 1.2 only ${wrong.toFixed(1)}`);
});

test('Zipf probabilities are normalized and decay as rank^-exponent', () => {
  const p = zipfProbabilities(500, 1.4);
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.ok(Math.abs(p[9] / p[0] - 10 ** -1.4) < 1e-12);
});

const fieldOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof QuantaConfigError, `expected QuantaConfigError, got ${err}`);
    return (err as QuantaConfigError).field;
  }
  assert.fail('expected an error');
};

test('bad input: errors name the field', () => {
  assert.equal(
    fieldOf(() => new MultitaskSparseParity({ ...reference, k: 101 })),
    'task.k',
  );
  assert.match(String(fieldOf(() => new MultitaskSparseParity({ ...reference, k: 0 }))), /task\.k/);
  assert.equal(
    fieldOf(() => checkZipf(Number.POSITIVE_INFINITY, 1)),
    'task.zipfExponent',
  );
  assert.equal(
    fieldOf(() => checkZipf(Number.POSITIVE_INFINITY, 0.9)),
    'task.zipfExponent',
  );
  checkZipf(Number.POSITIVE_INFINITY, 1.4); // converges: fine
  assert.equal(
    fieldOf(() => new MultitaskSparseParity({ ...reference, zipfExponent: 0 })),
    'task.zipfExponent',
  );
  assert.equal(
    fieldOf(() => new MultitaskSparseParity({ ...reference, nTasks: 0 })),
    'task.nTasks',
  );
  assert.equal(
    fieldOf(() => validateMlp({ width: 0, depth: 1, activation: 'relu' })),
    'model.width',
  );
  assert.equal(
    fieldOf(() => validateMlp({ width: 2.5, depth: 1, activation: 'relu' })),
    'model.width',
  );
  assert.throws(() => new MultitaskSparseParity({ ...reference, k: 101 }), /task\.k = 101 .*\[1, n = 100\]/);
});
