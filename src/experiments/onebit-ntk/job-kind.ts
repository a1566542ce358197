// The sweep job kind 'onebit-ntk': one width / data size / step count, both precisions (src/jobs/builtin.ts
// maps the kind name to this runner). The full result with its trajectory is the run's artifact
// result.json; the final measurement goes to the run store.

import { join } from 'node:path';
import '../../backends/index.ts';
import { writeFileAtomic } from '../../base/atomic-write.ts';
import type { JobRunner } from '../../sweep/job-kind.ts';
import type { JsonObject } from '../../sweep/spec.ts';
import { resolveRunConfig } from './config.ts';
import { trainPair } from './train-pair.ts';

export const ONEBIT_NTK_JOB = 'onebit-ntk';

/** The runner of kind ONEBIT_NTK_JOB; src/jobs/builtin.ts maps the kind name to it. */
export const runOnebitNtkJob: JobRunner = async (config, ctx) => {
  const result = trainPair(resolveRunConfig(config), {
    signal: ctx.signal,
    onProgress: (fraction) => ctx.progress(fraction),
  });
  const path = join(ctx.runDir, 'result.json');
  writeFileAtomic(path, `${JSON.stringify(result)}\n`);
  const f = result.final;
  ctx.log.info(
    `width ${result.config.width}: train loss 1-bit ${f.onebit.trainLoss.toExponential(3)}, ` +
      `fp ${f.fp.trainLoss.toExponential(3)}; NTK drift 1-bit ${f.onebit.ntkDrift.toExponential(3)}; ` +
      `gap ${f.genDiff.toFixed(4)} (${result.seconds.toFixed(1)} s on ${result.backend})`,
  );
  const metrics = {
    parameters: result.parameters,
    compute: result.compute,
    seconds: result.seconds,
    final: f,
  };
  return { metrics: metrics as unknown as JsonObject, artifacts: { result: path } };
};
