// The sweep job kind 'quanta-train': one MLP trained on multitask sparse parity. Importing this module
// registers it (a sweep worker loads it through $BITSCALE_JOB_KINDS). The full result, with per-task
// curves, is the run's artifact result.json; the summary metrics go to the run store.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../base/atomic-write.ts';
import { registerJobKind } from '../../sweep/registry.ts';
import type { JsonObject } from '../../sweep/spec.ts';
import { type QuantaRunConfig, trainQuanta } from './train.ts';

export const QUANTA_TRAIN = 'quanta-train';

/** This module's path, for $BITSCALE_JOB_KINDS. */
export const quantaJobKindsModule = fileURLToPath(import.meta.url);

registerJobKind(QUANTA_TRAIN, async (config, ctx) => {
  const result = await trainQuanta(config as unknown as QuantaRunConfig, {
    signal: ctx.signal,
    onProgress: (fraction, message) => {
      ctx.progress(fraction, message);
    },
  });
  const path = join(ctx.runDir, 'result.json');
  writeFileAtomic(path, `${JSON.stringify(result)}\n`);
  const metrics: JsonObject = {
    parameters: result.parameters,
    steps: result.steps,
    samplesSeen: result.samplesSeen,
    testLoss: result.testLoss,
    bestTestLoss: result.bestTestLoss,
    wallSeconds: result.wallSeconds,
  };
  ctx.log.info(`test loss ${result.testLoss.toFixed(4)} (${result.parameters} parameters)`);
  return { metrics, artifacts: { result: path } };
});
