import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHANCE_LOSS, detectEmergence, learningOrder } from '../../../src/experiments/quanta/emergence.ts';
import { fitScaling, predictedExponent } from '../../../src/experiments/quanta/scaling-fit.ts';
import { ranks, spearman } from '../../../src/experiments/quanta/spearman.ts';

const steps = Array.from({ length: 100 }, (_, i) => (i + 1) * 10);
/** A loss curve at chance until `at`, then a sigmoid drop of width `width` steps to near zero. */
const drop = (at: number, width: number) =>
  steps.map((s) => 0.01 + (CHANCE_LOSS - 0.01) / (1 + Math.exp((s - at) / (width / 8))));

test('ranks average ties; spearman is +1, -1 and in between as expected', () => {
  assert.deepEqual(ranks([10, 30, 20, 20]), [1, 4, 2.5, 2.5]);
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 35, 100]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  const rho = spearman([1, 2, 3, 4, 5], [1, 3, 2, 5, 4]);
  assert.ok(Math.abs(rho - 0.8) < 1e-12);
  assert.ok(Number.isNaN(spearman([1, 2, 3], [5, 5, 5])));
});

test('emergence: the step of an abrupt drop, and never for a flat curve', () => {
  const e = detectEmergence(0, steps, drop(400, 40));
  assert.ok(e.step !== null && Math.abs(e.step - 400) <= 10, `step ${e.step}`);
  assert.ok(e.transition !== null && e.transition <= 60, `transition ${e.transition}`);
  assert.equal(e.abrupt, true);
  const slow = detectEmergence(1, steps, drop(300, 1600));
  assert.equal(slow.abrupt, false, `a drop over ~1600 steps is not abrupt (transition ${slow.transition})`);
  const flat = detectEmergence(
    2,
    steps,
    steps.map(() => CHANCE_LOSS),
  );
  assert.deepEqual(flat, { task: 2, step: null, transition: null, abrupt: false });
});

test('order of learning: frequency order gives rho = 1, shuffled order lower', () => {
  const inOrder = learningOrder(steps, [
    drop(100, 20),
    drop(300, 20),
    drop(600, 20),
    steps.map(() => CHANCE_LOSS),
  ]);
  assert.equal(inOrder.learned, 3);
  assert.equal(inOrder.rhoLearned, 1);
  assert.equal(inOrder.rhoAll, 1);
  assert.equal(inOrder.abruptFraction, 1);
  const shuffled = learningOrder(steps, [drop(600, 20), drop(100, 20), drop(300, 20)]);
  assert.ok(shuffled.rhoLearned < 0);
});

test('power-law fits recover a planted exponent, with an interval around it', () => {
  const xs = [1e3, 3e3, 1e4, 3e4, 1e5, 3e5];
  // A fixed multiplicative wobble (±3%) so the bootstrap has something to resample.
  const wobble = [1.03, 0.98, 1.01, 0.97, 1.02, 0.99];
  const points = xs.map((x, i) => ({ x, loss: (50 / x) ** 0.4 * wobble[i] }));
  const fit = fitScaling('N', points, 1.4, { bootstrap: 40, seed: 1 });
  assert.ok(Math.abs(fit.exponent - 0.4) < 0.03, `alpha_N ${fit.exponent}`);
  assert.ok(fit.interval && fit.interval.lower <= fit.exponent && fit.exponent <= fit.interval.upper);
  assert.ok(Math.abs(fit.predicted - 0.4) < 1e-12);
  assert.throws(
    () => fitScaling('D', points.slice(0, 2), 1.4, { bootstrap: 0, seed: 0 }),
    /L\(D\).*2 usable points/,
  );
});

test('predicted exponents from the Zipf exponent: alpha_N = alpha, alpha_D = alpha_S = alpha / (alpha + 1)', () => {
  assert.ok(Math.abs(predictedExponent('N', 1.4) - 0.4) < 1e-12);
  assert.ok(Math.abs(predictedExponent('D', 1.4) - 0.4 / 1.4) < 1e-12);
  assert.ok(Math.abs(predictedExponent('S', 1.4) - 0.4 / 1.4) < 1e-12);
  assert.throws(() => predictedExponent('N', 1), /alpha/);
});
