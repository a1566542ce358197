// The kernel regime: with the NTK parameterization the NTK moves less the wider the network, for the 1-bit
// network as for its full-precision twin (fixed seeds, a short run at two widths).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../../src/backends/index.ts';
import { resolveRunConfig } from '../../../src/experiments/onebit-ntk/config.ts';
import { trainPair } from '../../../src/experiments/onebit-ntk/train-pair.ts';

const small = { inputDim: 8, nTrain: 16, nTest: 16, probeSize: 8, steps: 30, lr: 2, measurements: 1 };

test('NTK drift of a wide network is below that of a narrow one (NTK parameterization, 3 seeds)', () => {
  for (const seed of [0, 1, 2]) {
    const narrow = trainPair(resolveRunConfig({ ...small, seed, width: 16 })).final;
    const wide = trainPair(resolveRunConfig({ ...small, seed, width: 1024 })).final;
    for (const p of ['onebit', 'fp'] as const) {
      assert.ok(narrow[p].ntkDrift > 0, `seed ${seed} ${p}: the narrow network's kernel moved`);
      assert.ok(
        wide[p].ntkDrift < narrow[p].ntkDrift / 2,
        `seed ${seed} ${p}: drift at width 1024 (${wide[p].ntkDrift}) should be well below width 16 (${narrow[p].ntkDrift})`,
      );
    }
    // The 1-bit network only moves by flipping signs, and flips fewer of them when wide.
    assert.ok(
      wide.flippedSigns < narrow.flippedSigns,
      `seed ${seed}: flipped signs ${wide.flippedSigns} vs ${narrow.flippedSigns}`,
    );
  }
});

test('training lowers the loss of both networks, and the gap starts at 0 with symmetric init', () => {
  const r = trainPair(resolveRunConfig({ ...small, width: 256, steps: 60, measurements: 3 }));
  assert.equal(r.trajectory[0].step, 0);
  assert.ok(r.trajectory[0].genDiff < 1e-5, 'both networks output 0 at init (up to float32 rounding)');
  for (const p of ['onebit', 'fp'] as const) {
    assert.ok(r.final[p].trainLoss < r.trajectory[0][p].trainLoss / 4, `${p}: ${r.final[p].trainLoss}`);
  }
  assert.ok(r.final.genDiff > 0);
  assert.equal(r.compute, 6 * r.parameters * 16 * 60);
});

test('mean-field parameterization: drift does not fall like in the NTK parameterization', () => {
  const drift = (parameterization: 'ntk' | 'mean-field', width: number) =>
    trainPair(
      resolveRunConfig({ ...small, parameterization, width, lr: parameterization === 'ntk' ? 2 : 0.5 }),
    ).final.fp.ntkDrift;
  const ntkRatio = drift('ntk', 1024) / drift('ntk', 16);
  const meanFieldRatio = drift('mean-field', 1024) / drift('mean-field', 16);
  assert.ok(meanFieldRatio > 2 * ntkRatio, `mean-field ratio ${meanFieldRatio} vs NTK ratio ${ntkRatio}`);
});

test('classification: held-out error rates are reported and training beats chance', () => {
  const r = trainPair(
    resolveRunConfig({ ...small, task: 'classification', nTrain: 64, nTest: 200, width: 512, steps: 100 }),
  );
  for (const p of ['onebit', 'fp'] as const) {
    const error = r.final[p].testError!;
    assert.ok(error >= 0 && error < 0.4, `${p}: held-out error ${error}`);
    assert.equal(r.trajectory[0][p].testError !== undefined, true);
  }
});
