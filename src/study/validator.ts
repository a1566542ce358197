// The trainer's and PTQ's own checks, plugged into the sweep spec parser so a bad grid fails before any run,
// with the field's full path.
import { ConfigError, type ConfigIssue } from '../nn/config.ts';
import { checkPtqSettings } from '../ptq/settings.ts';
import type { SpecIssue } from '../sweep/errors.ts';
import type { ConfigValidator } from '../sweep/spec.ts';
import { runConfigFromJob } from './run-config.ts';

function issuesOf(path: string, check: () => void): SpecIssue[] {
  try {
    check();
    return [];
  } catch (e) {
    if (e instanceof ConfigError)
      return e.issues.map((i) => ({
        path: `${path}.${i.field.replace(/^job\.(model|train|data)\./, '')}`,
        message: i.message,
      }));
    return [{ path, message: (e as Error).message }];
  }
}

export const studyValidator: ConfigValidator = {
  model: (shape, path) =>
    issuesOf(path, () =>
      runConfigFromJob({
        model: shape,
        tokens: 1e6,
        precision: { w: 'fp32', a: 'fp32', kv: 'fp32' },
        seed: 0,
        train: {},
      }),
    ),
  train: (settings, path) =>
    issuesOf(path, () =>
      runConfigFromJob({
        model: { d_model: 8, n_layers: 1, n_heads: 2, context: 8 },
        tokens: 1e6,
        precision: { w: 'fp32', a: 'fp32', kv: 'fp32' },
        seed: 0,
        train: settings,
      }),
    ),
  recipe: (recipe, path, train) =>
    issuesOf(path, () =>
      runConfigFromJob({
        model: { d_model: 8, n_layers: 1, n_heads: 2, context: 8 },
        tokens: 1e6,
        precision: { w: 'fp32', a: 'fp32', kv: 'fp32' },
        seed: 0,
        // Only the backend of the shared settings: what a recipe's dtype is checked against.
        train: train?.backend === undefined ? {} : { backend: train.backend },
        recipe,
      }),
    ),
  ptq: (settings, path) => {
    const found: ConfigIssue[] = [];
    const parsed = checkPtqSettings(settings, `${path}.`, found);
    return {
      issues: found.map((i) => ({ path: i.field, message: i.message })),
      groupSize: parsed?.groupSize ?? 0,
    };
  },
};
