// The sweep job kind 'onebit-ntk': one width / data size / step count, both precisions. Importing this
// module registers it (sweep workers load it through $BITSCALE_JOB_KINDS). The full result with its
// trajectory is the run's artifact result.json; the final measurement goes to the run store.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../backends/index.ts';
import { writeFileAtomic } from '../../base/atomic-write.ts';
import { registerJobKind } from '../../sweep/registry.ts';
import type { JsonObject } from '../../sweep/spec.ts';
import { resolveRunConfig } from './config.ts';
import { trainPair } from './train-pair.ts';

export const ONEBIT_NTK_JOB = 'onebit-ntk';

/** This module's path, for $BITSCALE_JOB_KINDS. */
export const onebitNtkJobKindsModule = fileURLToPath(import.meta.url);

registerJobKind(ONEBIT_NTK_JOB, async (config, ctx) => {
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
});
