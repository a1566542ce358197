// The sweep job kind 'quanta-train': one MLP trained on multitask sparse parity (src/jobs/builtin.ts maps the
// kind name to this runner). The full result, with per-task curves, is the run's artifact result.json; the
// summary metrics go to the run store.

import { join } from 'node:path';
import { writeFileAtomic } from '../../base/atomic-write.ts';
import type { JobRunner } from '../../sweep/job-kind.ts';
import type { JsonObject } from '../../sweep/spec.ts';
import { type QuantaRunConfig, trainQuanta } from './train.ts';

export const QUANTA_TRAIN = 'quanta-train';

/** The runner of kind QUANTA_TRAIN; src/jobs/builtin.ts maps the kind name to it. */
export const runQuantaTrainJob: JobRunner = async (config, ctx) => {
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
};
