// The experiment end to end on a tiny preset: sweep jobs through the sweep machinery (in this process),
// power-law fits, the report section and its files; a second run reuses the finished runs.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../../src/backends/index.ts';
import { OnebitNtkConfigError } from '../../../src/experiments/onebit-ntk/errors.ts';
import { runOnebitNtkExperiment } from '../../../src/experiments/onebit-ntk/experiment.ts';
import { fitPowerLaw } from '../../../src/experiments/onebit-ntk/power-law.ts';
import { loadPreset, validatePreset } from '../../../src/experiments/onebit-ntk/preset.ts';

test('power-law fit recovers a known slope, with an interval around it', () => {
  const points = [64, 128, 256, 512, 1024, 2048].flatMap((x, i) =>
    [0.97, 1.03].map((wobble) => ({ x, y: 3 * x ** -0.5 * (i % 2 ? wobble : 2 - wobble) })),
  );
  const fit = fitPowerLaw(points, { bootstrap: 100 });
  assert.ok(Math.abs(fit.exponent + 0.5) < 0.02, `slope ${fit.exponent}`);
  assert.ok(fit.interval[0] <= fit.exponent && fit.exponent <= fit.interval[1]);
  assert.ok(fit.interval[1] < 0 && fit.interval[1] - fit.interval[0] < 0.1, `interval ${fit.interval}`);
});

test('the shipped preset is valid; bad presets name the field', () => {
  const preset = loadPreset('onebit-ntk');
  assert.equal(preset.widths[0], 64);
  assert.throws(
    () => validatePreset({ widths: [] }),
    (e: unknown) => e instanceof OnebitNtkConfigError && e.field === 'widths',
  );
  assert.throws(
    () =>
      validatePreset({
        widths: [8],
        data: { width: 8, nTrain: [4] },
        steps: { width: 8, steps: [1] },
        base: { lr: -1 },
      }),
    (e: unknown) => e instanceof OnebitNtkConfigError && e.field === 'lr',
  );
});

test('a tiny experiment runs through the sweep machinery and writes results, report and charts', async () => {
  const out = mkdtempSync(join(tmpdir(), 'onebit-ntk-'));
  try {
    const preset = validatePreset({
      name: 'tiny',
      base: { inputDim: 4, nTrain: 8, nTest: 8, probeSize: 4, steps: 20, lr: 2, measurements: 2 },
      seeds: [0],
      widths: [8, 32, 128],
      data: { width: 32, nTrain: [4, 8, 16] },
      steps: { width: 32, steps: [5, 10, 20] },
      bootstrap: 20,
      executor: 'in-process',
    });
    const results = await runOnebitNtkExperiment(preset, { out, command: 'test' });
    assert.equal(results.runs.width.length, 3);
    assert.deepEqual(
      results.runs.data.map((r) => r.config.nTrain),
      [4, 8, 16],
    );
    const { fits } = results.analysis;
    assert.equal(fits.ntkDriftVsWidth.onebit.points.length, 3);
    assert.equal(fits.trainLossVsC.fp.points.length, 3);
    // The run of width 32, 8 examples, 20 steps is in all three sweeps: one job, not three (9 - 2 = 7).
    assert.equal(readdirSync(join(out, 'sweep', 'jobs')).length, 7);
    const saved = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.equal(saved.analysis.fits.genDiffVsWidth.exponent, fits.genDiffVsWidth.exponent);
    for (const name of ['ntk-drift-vs-width', 'gen-diff-vs-width', 'train-loss-vs-n']) {
      const svg = readFileSync(join(out, `${name}.svg`), 'utf8');
      assert.match(svg, /^<svg[^>]*>.*<circle.*<\/svg>$/s);
    }
    assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /NTK drift vs width, 1-bit/);
    // Re-running reuses every finished run: the same results.
    const again = await runOnebitNtkExperiment(preset, { out });
    assert.deepEqual(
      again.runs.width.map((r) => r.final),
      results.runs.width.map((r) => r.final),
    );
    assert.ok(existsSync(join(out, 'report.html')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
