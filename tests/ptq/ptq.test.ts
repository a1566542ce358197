import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { evaluatePtq, evaluatePtqVariants } from '../../src/ptq/evaluate-ptq.ts';
import { tryBackend } from '../../src/tensor/index.ts';
import { train } from '../../src/train/trainer.ts';
import { smallData, tinyConfig } from '../train/helpers.ts';

const backend = 'backend' in tryBackend('cpu') ? 'cpu' : 'js';

test('post-training quantization: loss grows as bits fall, and GPTQ beats RTN at 3 bits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-ptq-'));
  const config = tinyConfig({
    model: { dModel: 64, nHeads: 4 },
    train: { tokens: 16 * 32 * 300, checkpointEvery: 0 },
  });
  train(config, { outDir: dir, backend, data: smallData() });
  const settings = { backend, evalTokens: 4096 };
  const variants = ['int8', 'int4', 'int3', 'int2'].map((format) => ({ format, method: 'rtn' as const }));
  const rtn = Object.fromEntries(
    evaluatePtqVariants(dir, variants, settings).map((r) => [r.format, r.deltaPtq]),
  );
  console.log('RTN delta_PTQ', rtn);
  assert.ok(Math.abs(rtn.int8) < 0.01, `int8 should be nearly lossless, delta ${rtn.int8}`);
  assert.ok(
    rtn.int2 > rtn.int3 && rtn.int3 > rtn.int4 && rtn.int4 > rtn.int8,
    'degradation must grow as bits fall',
  );
  const gptq3 = evaluatePtq(
    dir,
    { format: 'int3', method: 'gptq', calibrationTokens: 4096 },
    settings,
  ).deltaPtq;
  console.log(`int3: RTN ${rtn.int3.toFixed(4)}, GPTQ ${gptq3.toFixed(4)}`);
  assert.ok(gptq3 < rtn.int3, `GPTQ (${gptq3}) should degrade less than RTN (${rtn.int3}) at 3 bits`);
  assert.throws(
    () => evaluatePtq(dir, { format: 'fp8_e4m3', method: 'gptq' }, settings),
    /method: gptq quantizes to integer formats \(int2, .*int8\); fp8_e4m3 needs rtn/,
  );
});
