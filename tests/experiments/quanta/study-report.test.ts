import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  loadQuantaPreset,
  type QuantaPreset,
  validatePreset,
} from '../../../src/experiments/quanta/preset.ts';
import { quantaReportSection } from '../../../src/experiments/quanta/report-section.ts';
import { runQuantaCommand } from '../../../src/experiments/quanta/run-study.ts';

const tinyPreset: QuantaPreset = {
  name: 'quanta-tiny',
  task: { nTasks: 4, n: 16, k: 3, zipfExponent: 1.4, seed: 1 },
  model: { depth: 1, activation: 'relu' },
  train: { steps: 240, batchSize: 128, lr: 1e-2, weightDecay: 0, evalEvery: 40, heldOutPerTask: 32, seed: 0 },
  sweeps: { width: { widths: [4, 16, 64] }, data: { width: 16, samples: [100, 1000, 10000] } },
  fit: { bootstrap: 10, seed: 0 },
  chartTasks: 4,
  qdg: null,
  execution: { executor: 'in-process', workers: 1 },
};

test('the shipped preset is valid and uses the reference task', () => {
  const p = loadQuantaPreset('quanta');
  assert.deepEqual(
    {
      nTasks: p.task.nTasks,
      n: p.task.n,
      k: p.task.k,
      zipf: p.task.zipfExponent,
      depth: p.model.depth,
      act: p.model.activation,
    },
    { nTasks: 500, n: 100, k: 3, zipf: 1.4, depth: 1, act: 'relu' },
  );
});

test('bad presets name the field', () => {
  const bad = (patch: (p: QuantaPreset) => void) => {
    const p = structuredClone(tinyPreset);
    patch(p);
    return () => validatePreset(p);
  };
  assert.throws(
    bad((p) => (p.sweeps.width.widths = [4, 0])),
    /sweeps\.width\.widths\[1\] = 0/,
  );
  assert.throws(
    bad((p) => (p.task.k = 17)),
    /task\.k = 17/,
  );
  assert.throws(
    bad((p) => (p.model.activation = 'swish' as 'relu')),
    /model\.activation = "swish"/,
  );
  assert.throws(
    bad((p) => (p.execution.executor = 'slurm' as 'local')),
    /execution\.executor/,
  );
  assert.throws(() => loadQuantaPreset('/nonexistent/quanta.json'), /preset = "\/nonexistent\/quanta.json"/);
});

test('the study runs end to end on a tiny preset and writes results, charts and the report section', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quanta-study-'));
  try {
    const presetPath = join(dir, 'tiny.json');
    writeFileSync(presetPath, JSON.stringify(tinyPreset));
    const results = await runQuantaCommand({ preset: presetPath, out: join(dir, 'out') });
    assert.equal(results.widthRuns.length, 3);
    assert.equal(results.dataRuns.length, 3);
    assert.ok(results.widthRuns[2].parameters > results.widthRuns[0].parameters);
    assert.equal(results.emergence.width, 64);
    assert.equal(results.emergence.perTaskLoss.length, 4);
    assert.ok(results.emergence.order.learned >= 1);
    assert.ok(results.fits.N !== null || results.fits.errors.some((e) => e.startsWith('L(N)')));
    assert.ok(results.fits.S !== null, results.fits.errors.join('; '));
    assert.ok(Math.abs(results.fits.S.predicted - 0.4 / 1.4) < 1e-12);
    const saved = JSON.parse(readFileSync(join(dir, 'out', 'quanta-results.json'), 'utf8'));
    assert.equal(saved.widthRuns.length, 3);
    const svg = readFileSync(join(dir, 'out', 'quanta-emergence.svg'), 'utf8');
    assert.match(svg, /^<svg/);
    assert.equal((svg.match(/<path /g) ?? []).length, 4, 'one line per charted task');
    const section = quantaReportSection(results);
    assert.match(section.html, /Spearman rho/);
    assert.match(section.html, /alpha_S/);
    assert.ok('quanta-scaling-S.svg' in section.svgs);
    assert.ok(!('quanta-qdg-rank-frequency.svg' in section.svgs), 'no QDG chart without QDG');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
