// Activation and weight statistics (max |x|, kurtosis, LLM.int8 outlier dimensions) and fp16 loss scaling.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { LinearInputStats, weightStats } from '../../src/nn/outliers.ts';
import * as T from '../../src/tensor/index.ts';
import { LossScaler } from '../../src/train/loss-scale.ts';
import { train } from '../../src/train/trainer.ts';
import { smallData, tinyConfig } from './helpers.ts';

const backend = 'backend' in T.tryBackend('cpu') ? 'cpu' : 'js';

function hostKurtosis(x: Float32Array): number {
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  let m2 = 0;
  let m4 = 0;
  for (const v of x) {
    m2 += (v - mean) ** 2;
    m4 += (v - mean) ** 4;
  }
  m2 /= x.length;
  m4 /= x.length;
  return m4 / (m2 * m2);
}

/** (rows, width) normal values with `dim` set to `value` on the first `hitRows` rows. */
function withOutlier(rows: number, width: number, seed: number, dim: number, hitRows: number, value: number) {
  const x = Float32Array.from(T.tidy(() => T.randn([rows, width], { seed }).toArray()));
  for (let r = 0; r < hitRows; r++) x[r * width + dim] = value;
  return x;
}

test('linear-input statistics: max |x|, kurtosis and LLM.int8 outlier dimensions, as the host computes them', () => {
  const rows = 100;
  const width = 16;
  const stats = new LinearInputStats({ threshold: 6, layerFraction: 0.5, positionFraction: 0.06 });
  // Four sites: dim 3 is an outlier (|x| = 9 on 10% of rows) in sites 0 and 1, dim 5 only in site 2 on 3% of
  // rows (under the position fraction), site 3 (another width, like w_down's input) has none.
  const inputs = [
    withOutlier(rows, width, 1, 3, 10, 9),
    withOutlier(rows, width, 2, 3, 10, -9),
    withOutlier(rows, width, 3, 5, 3, 12),
    withOutlier(rows, 24, 4, 0, 0, 0),
  ];
  T.tidy(() => {
    const ts = inputs.map((x, i) => T.tensor(x, [rows, i === 3 ? 24 : width]));
    stats.observe('blocks.0.attn.wq.weight', ts[0]);
    stats.observe('blocks.0.attn.wk.weight', ts[0]); // the same input again: one site
    stats.observe('blocks.0.attn.wo.weight', ts[1]);
    stats.observe('blocks.1.attn.wq.weight', ts[2]);
    stats.observe('blocks.1.mlp.w_down.weight', ts[3]);
  });
  const out = stats.read();
  assert.deepEqual(
    out.sites.map((s) => s.site),
    ['blocks.0.attn.wq', 'blocks.0.attn.wo', 'blocks.1.attn.wq', 'blocks.1.mlp.w_down'],
  );
  out.sites.forEach((s, i) => {
    const x = inputs[i];
    assert.ok(Math.abs(s.maxAbs - Math.max(...x.map(Math.abs))) < 1e-6, `max |x| of ${s.site}`);
    const k = hostKurtosis(x);
    assert.ok(Math.abs(s.kurtosis - k) / k < 1e-3, `kurtosis of ${s.site}: ${s.kurtosis} vs ${k}`);
  });
  assert.deepEqual(out.sites[0].dims, [3]);
  assert.deepEqual(out.sites[2].dims, [], 'dim 5 reaches the threshold on 3% of positions only');
  // Dim 3 is an outlier in 2 of the 3 d_model-wide sites (>= 50%).
  assert.deepEqual(out.outlierDims, [3]);
  assert.ok(out.sites[0].kurtosis > out.sites[3].kurtosis * 3, 'an outlier dimension raises the kurtosis');
});

test('weight statistics per linear layer', () => {
  const w = Float32Array.from({ length: 12 }, (_, i) => (i === 7 ? -5 : (i % 3) - 1));
  const params = new Map([
    ['blocks.0.attn.wq.weight', T.tensor(w, [3, 4]).keep()],
    ['blocks.0.attn_norm.weight', T.ones([4]).keep()],
  ]);
  const stats = weightStats(params);
  assert.equal(stats.length, 1, 'norm gains are not linear weights');
  assert.equal(stats[0].name, 'blocks.0.attn.wq');
  assert.equal(stats[0].maxAbs, 5);
  assert.ok(Math.abs(stats[0].kurtosis - hostKurtosis(w)) < 1e-4);
  for (const p of params.values()) p.dispose();
});

test(`training records statistics on sampled steps and at the end (${backend})`, () => {
  const config = tinyConfig({ train: { statsEvery: 10, outlierThreshold: 2 } });
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-stats-'));
  const summary = train(config, { outDir: dir, backend, data: smallData() });
  const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const sampled = rows.filter((r) => r.stats).map((r) => r.step);
  assert.deepEqual(sampled, [0, 10, 20, 30]);
  const first = rows[0].stats;
  // Two blocks, four sites each (qkv, wo, gate/up, down); six linear weights each.
  assert.equal(first.activations.sites.length, 8);
  assert.equal(first.weights.length, 14);
  assert.ok(first.activations.sites.every((s: { maxAbs: number }) => s.maxAbs > 0));
  assert.ok(summary.outliers && summary.activationStats && summary.weightStats);
  assert.equal(summary.outliers.outlierDims, summary.activationStats.outlierDims.length);
  assert.ok(summary.outliers.actMaxAbs > 0 && summary.outliers.weightKurtosis > 0);
  assert.equal(summary.dtype, 'fp32');
});

test('the loss scaler halves on overflow, skips, and doubles after a window of good steps', () => {
  const s = new LossScaler({ initial: 1024, window: 3 });
  assert.equal(s.update(Number.POSITIVE_INFINITY), false);
  assert.equal(s.scale, 512);
  assert.equal(s.update(Number.NaN), false);
  assert.equal(s.scale, 256);
  assert.equal(s.update(1), true);
  assert.equal(s.update(1), true);
  assert.equal(s.scale, 256);
  assert.equal(s.update(1), true);
  assert.equal(s.scale, 512);
  assert.equal(s.overflowSteps, 2);
});

test(`fp16 training skips the steps whose scaled gradients overflow, then recovers (${backend})`, () => {
  // A loss scale of 2^24 makes the fp16 gradients overflow; each overflow halves it until they fit.
  const config = tinyConfig({ train: { dtype: 'fp16', lossScale: 2 ** 24, lossScaleWindow: 1000 } });
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-fp16-'));
  const summary = train(config, { outDir: dir, backend, data: smallData() });
  assert.equal(summary.status, 'done');
  assert.equal(summary.dtype, 'fp16');
  const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const skipped = rows.filter((r) => r.skipped);
  assert.ok(skipped.length >= 1, 'at least one step overflowed');
  assert.equal(summary.overflowSteps, skipped.length);
  assert.equal(rows[0].skipped, true, 'the first step overflows at 2^24');
  // Each overflow halves the scale the next step uses; the window (1000) is never reached, so it never grows.
  rows.forEach((r, i) => {
    const before = rows.slice(0, i).filter((x) => x.skipped).length;
    assert.equal(r.lossScale, 2 ** 24 / 2 ** before, `the scale of step ${i}`);
  });
  assert.equal(summary.lossScale, 2 ** 24 / 2 ** skipped.length);
  const firstGood = rows.findIndex((r) => !r.skipped);
  assert.ok(
    rows.slice(-20).every((r) => !r.skipped),
    'once the scale fits, every step is applied',
  );
  // Training went on: the loss fell well below its start.
  assert.ok(rows[rows.length - 1].loss < rows[firstGood].loss - 0.5, 'the loss falls after the skips');
});
