import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { tryBackend } from '../../src/tensor/index.ts';
import { train } from '../../src/train/trainer.ts';
import { smallData, tinyConfig } from './helpers.ts';

const backend = 'backend' in tryBackend('cpu') ? 'cpu' : 'js';
const losses = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .map((r) => [r.step, r.loss]);

test(`resuming from a checkpoint continues the same loss curve (${backend})`, () => {
  const config = tinyConfig({ model: { dropout: 0.1 } });
  const data = smallData();
  const whole = mkdtempSync(join(tmpdir(), 'bitscale-whole-'));
  train(config, { outDir: whole, backend, data });

  const parts = mkdtempSync(join(tmpdir(), 'bitscale-parts-'));
  // Interrupted after step 23: the last checkpoint is at step 20, so steps 20..22 are redone on resume.
  const first = train(config, { outDir: parts, backend, data, stopAfterStep: 23 });
  assert.equal(first.status, 'stopped');
  const second = train(config, { outDir: parts, backend, data });
  assert.equal(second.status, 'done');

  assert.deepEqual(losses(parts), losses(whole));
  assert.equal(second.valLoss, JSON.parse(readFileSync(join(whole, 'summary.json'), 'utf8')).valLoss);
});

test('a run whose loss becomes NaN is recorded as diverged at that step', () => {
  // fp16 weights overflow to infinity once huge steps push them past 65504; inf - inf gives NaN.
  const config = tinyConfig({
    model: { precision: { weights: 'fp16' } },
    train: { lr: 100, warmupSteps: 0, gradClip: 0 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-diverge-'));
  const summary = train(config, { outDir: dir, backend, data: smallData() });
  assert.equal(summary.status, 'diverged');
  assert.ok(
    summary.divergedAtStep !== undefined && summary.divergedAtStep > 0 && summary.divergedAtStep < 40,
  );
  const saved = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  assert.equal(saved.status, 'diverged');
});
