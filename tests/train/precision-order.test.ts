// With everything else fixed, final validation loss rises as training precision of the weights falls.
// Measured on a small run (d_model 64, 2 layers, 300 steps), not asserted from constants. Per-tensor weight
// scales make the effect of each bit clear of run-to-run noise at this size; 8 bits is as good as full
// precision within that noise, so the two are compared with a tolerance.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { prepareData } from '../../src/data/index.ts';
import '../../src/backends/index.ts';
import { tryBackend } from '../../src/tensor/index.ts';
import { resolveRunConfig } from '../../src/train/config.ts';
import { train } from '../../src/train/trainer.ts';

const backend = 'backend' in tryBackend('cpu') ? 'cpu' : 'js';

test('final validation loss is ordered as weight precision falls: full, 8, 4, 3, 2 bits', {
  skip: backend === 'js' && 'needs the native cpu backend (js is too slow for 1,500 steps)',
}, () => {
  const data = prepareData({ corpus: 'tinystories', vocabSize: 512 });
  const loss: Record<string, number> = {};
  for (const weights of ['fp32', 'int8', 'int4', 'int3', 'int2']) {
    const config = resolveRunConfig({
      model: {
        dModel: 64,
        nLayers: 2,
        nHeads: 4,
        context: 64,
        precision: { weights, weightGranularity: 'tensor' },
      },
      data: { vocabSize: 512 },
      train: {
        tokens: 16 * 64 * 300,
        batchSize: 16,
        lr: 2e-3,
        warmupSteps: 20,
        checkpointEvery: 0,
        evalTokens: 16384,
      },
    });
    loss[weights] = train(config, { outDir: mkdtempSync(join(tmpdir(), 'bitscale-order-')), backend, data })
      .valLoss!;
  }
  console.log('validation loss by weight precision', loss);
  assert.ok(
    Math.abs(loss.int8 - loss.fp32) < 0.03,
    `8 bits should match full precision within noise: ${loss.int8} vs ${loss.fp32}`,
  );
  assert.ok(Math.max(loss.fp32, loss.int8) < loss.int4, 'int4 must be worse than full precision and int8');
  assert.ok(loss.int4 < loss.int3, 'int3 must be worse than int4');
  assert.ok(loss.int3 < loss.int2, 'int2 must be worse than int3');
});
