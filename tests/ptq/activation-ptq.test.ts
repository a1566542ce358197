// Activation PTQ (W8A8, per-token scales) with and without LLM.int8's decomposition, on a trained tiny model
// and on the same model with an outlier dimension injected (the function unchanged, its activations not).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { llmInt8Criterion } from '../../src/nn/outliers.ts';
import { evaluatePtq, evaluatePtqVariants } from '../../src/ptq/evaluate-ptq.ts';
import * as T from '../../src/tensor/index.ts';
import { saveCheckpoint } from '../../src/train/checkpoint.ts';
import { activationStats } from '../../src/train/evaluate.ts';
import { loadRun } from '../../src/train/run.ts';
import { configHash, train } from '../../src/train/trainer.ts';
import { smallData, tinyConfig } from '../train/helpers.ts';

const backend = 'backend' in T.tryBackend('cpu') ? 'cpu' : 'js';
const OUTLIER_DIM = 5;
const GAIN = 1000;

/**
 * Scales dimension OUTLIER_DIM of every norm gain by GAIN and the matching input columns of the layers reading
 * it by 1/GAIN: the model computes the same function, but that input dimension is now GAIN times larger.
 */
function injectOutlier(runDir: string): void {
  const { config, params, step } = loadRun(runDir, backend);
  const edit = (name: string, f: (v: Float32Array) => void) => {
    const p = params.get(name)!;
    const v = Float32Array.from(p.toArray());
    f(v);
    p.backend.write(p.handle, 'f32', v);
  };
  const C = config.model.dModel;
  for (let l = 0; l < config.model.nLayers; l++) {
    const b = `blocks.${l}.`;
    for (const norm of ['attn_norm', 'mlp_norm']) edit(`${b}${norm}.weight`, (v) => (v[OUTLIER_DIM] *= GAIN));
    for (const w of ['attn.wq', 'attn.wk', 'attn.wv', 'mlp.w_gate', 'mlp.w_up'])
      edit(`${b}${w}.weight`, (v) => {
        for (let r = 0; r < v.length / C; r++) v[r * C + OUTLIER_DIM] /= GAIN;
      });
  }
  saveCheckpoint(join(runDir, 'checkpoint.safetensors'), params, null, {
    step,
    configHash: configHash(config),
  });
  for (const p of params.values()) p.dispose();
}

test('W8A8 with the LLM.int8 decomposition recovers what an injected outlier dimension costs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-w8a8-'));
  const config = tinyConfig({
    model: { dModel: 64, nHeads: 4 },
    train: { tokens: 16 * 32 * 150, checkpointEvery: 0 },
  });
  train(config, { outDir: dir, backend, data: smallData() });
  const settings = { backend, evalTokens: 4096 };
  const variants = [
    { format: 'int8', method: 'rtn' as const },
    { format: 'int8', method: 'rtn' as const, activations: 'int8' },
    { format: 'int8', method: 'rtn' as const, activations: 'int8', decompose: true, calibrationTokens: 2048 },
    { format: 'int4', method: 'rtn' as const },
  ];
  const before = evaluatePtqVariants(dir, variants, settings);
  console.log(
    'trained: ' +
      before.map((r) => `${r.format}/${r.activations}${r.decomposed ? '+dec' : ''} ${r.deltaPtq.toFixed(4)}`),
  );
  assert.ok(Math.abs(before[0].deltaPtq) < 0.01, 'W8 is nearly lossless');
  assert.ok(Math.abs(before[1].deltaPtq) < 0.05, 'W8A8 per token is nearly lossless without outliers');
  assert.equal(before[3].activations, 'fp32', 'W4 is weight-only');
  assert.equal(before[1].activations, 'int8');
  assert.equal(before[2].decomposed, true);

  injectOutlier(dir);
  const after = evaluatePtqVariants(dir, variants, settings);
  console.log(
    'outlier injected: ' +
      after.map(
        (r) =>
          `${r.format}/${r.activations}${r.decomposed ? '+dec' : ''} ${r.deltaPtq.toFixed(4)} (kept ${r.keptColumns ?? '-'})`,
      ),
  );
  assert.ok(
    Math.abs(after[0].baseValLoss - before[0].baseValLoss) < 1e-3,
    'the injection keeps the function',
  );
  assert.ok(after[1].deltaPtq > 3 * Math.max(before[1].deltaPtq, 0.005), 'the outlier makes W8A8 degrade');
  assert.ok(after[2].deltaPtq <= after[1].deltaPtq, 'decomposition degrades no more than plain W8A8');
  assert.ok(after[2].deltaPtq < after[1].deltaPtq / 2, 'and recovers most of the loss');
  // The outlier dimension is what calibration keeps: one column per linear layer reading the residual stream.
  assert.ok(after[2].keptColumns! >= 2 * config.model.nLayers);

  // The statistics see it too: dimension OUTLIER_DIM is an outlier feature by the LLM.int8 criterion.
  const { config: c, params } = loadRun(dir, backend);
  const stats = activationStats(c.model, params, smallData().val, 8, llmInt8Criterion);
  for (const p of params.values()) p.dispose();
  assert.ok(stats.outlierDims.includes(OUTLIER_DIM), `outlier dims ${stats.outlierDims}`);
  assert.ok(stats.maxAbs >= 6);
});

test('activation PTQ options are checked before any work', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-w8a8-bad-'));
  train(tinyConfig({ train: { tokens: 16 * 32 * 2, checkpointEvery: 0 } }), {
    outDir: dir,
    backend,
    data: smallData(),
  });
  const settings = { backend, evalTokens: 1024 };
  assert.throws(
    () => evaluatePtq(dir, { format: 'int8', method: 'rtn', activations: 'int9' }, settings),
    /activations: "int9" is not a precision \(allowed: fp32, /,
  );
  assert.throws(
    () => evaluatePtq(dir, { format: 'int8', method: 'rtn', decompose: true }, settings),
    /decompose: the LLM.int8 decomposition .* needs quantized activations/,
  );
  assert.throws(
    () =>
      evaluatePtq(dir, { format: 'int8', method: 'gptq', activations: 'int8', decompose: true }, settings),
    /decompose: the LLM.int8 decomposition runs with rtn weights/,
  );
});
