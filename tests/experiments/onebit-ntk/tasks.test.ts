// Synthetic tasks: deterministic per seed, unit-norm inputs, standardized targets, noise on training labels
// only; configs reject bad values naming the field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveRunConfig } from '../../../src/experiments/onebit-ntk/config.ts';
import { OnebitNtkConfigError } from '../../../src/experiments/onebit-ntk/errors.ts';
import { makeTask } from '../../../src/experiments/onebit-ntk/tasks.ts';

const base = { inputDim: 6, nTrain: 200, nTest: 300, noise: 0, seed: 4 };

test('inputs lie on the unit sphere; the same seed gives the same data, another seed other data', () => {
  const a = makeTask({ ...base, task: 'teacher' });
  for (let i = 0; i < 200; i++) {
    const norm = Math.hypot(...a.xTrain.subarray(i * 6, (i + 1) * 6));
    assert.ok(Math.abs(norm - 1) < 1e-5);
  }
  assert.deepEqual(makeTask({ ...base, task: 'teacher' }), a);
  assert.notDeepEqual(makeTask({ ...base, task: 'teacher', seed: 5 }).yTrain, a.yTrain);
});

test('regression targets are standardized; noise perturbs training labels only, with the given std', () => {
  for (const task of ['teacher', 'smooth'] as const) {
    const clean = makeTask({ ...base, task });
    const all = [...clean.yTrain, ...clean.yTest];
    const mean = all.reduce((s, v) => s + v, 0) / all.length;
    const variance = all.reduce((s, v) => s + (v - mean) ** 2, 0) / all.length;
    assert.ok(
      Math.abs(mean) < 1e-6 && Math.abs(variance - 1) < 1e-5,
      `${task}: mean ${mean}, variance ${variance}`,
    );
    const noisy = makeTask({ ...base, task, noise: 0.5 });
    assert.deepEqual(noisy.yTest, clean.yTest);
    const residual = noisy.yTrain.map((v, i) => v - clean.yTrain[i]);
    const std = Math.sqrt(residual.reduce((s, v) => s + v * v, 0) / residual.length);
    assert.ok(std > 0.4 && std < 0.6, `${task}: noise std ${std}`);
  }
});

test('classification labels are ±1 and noise flips about that fraction of training labels', () => {
  const clean = makeTask({ ...base, task: 'classification', nTrain: 2000 });
  assert.ok([...clean.yTrain, ...clean.yTest].every((y) => y === 1 || y === -1));
  const noisy = makeTask({ ...base, task: 'classification', nTrain: 2000, noise: 0.2 });
  const flipped = noisy.yTrain.filter((y, i) => y !== clean.yTrain[i]).length / 2000;
  assert.ok(flipped > 0.16 && flipped < 0.24, `flipped ${flipped}`);
  assert.deepEqual(noisy.yTest, clean.yTest);
});

test('config errors name the field, the value and what is allowed', () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ task: 'parity' }, 'task'],
    [{ width: 7 }, 'width'], // odd width cannot be split into mirrored pairs
    [{ lr: 0 }, 'lr'],
    [{ parameterization: 'mup' }, 'parameterization'],
    [{ task: 'classification', noise: 0.7 }, 'noise'],
    [{ widht: 64 }, 'widht'],
  ];
  for (const [overrides, field] of bad) {
    assert.throws(
      () => resolveRunConfig(overrides),
      (e: unknown) =>
        e instanceof OnebitNtkConfigError && e.field === field && e.message.includes('expected'),
    );
  }
  assert.equal(resolveRunConfig({ width: 7, symmetricInit: false }).width, 7);
});
