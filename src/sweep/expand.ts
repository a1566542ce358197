// Expansion of a sweep spec into jobs: one training job per (model, tokens, precision, seed), and one PTQ
// job per (training job, P_post, method). The order is deterministic: the grid order of the spec.

import { type Job, makeJob } from './job.ts';
import type { JsonObject, SweepSpec, TrainPrecision } from './spec.ts';

/** The resolved config of a training job. */
export interface TrainConfig extends JsonObject {
  model: JsonObject;
  tokens: number;
  precision: TrainPrecision & JsonObject;
  seed: number;
  train: JsonObject;
}

/** The resolved config of a PTQ job: which training run it quantizes, to what, how. */
export interface PtqConfig extends JsonObject {
  source: string;
  precision: string;
  method: string;
  settings: JsonObject;
}

export function expandSweep(spec: SweepSpec): Job[] {
  const jobs: Job[] = [];
  for (const model of spec.grid.model) {
    for (const tokens of spec.grid.tokens) {
      for (const p of spec.grid.precision) {
        for (const seed of spec.seeds) {
          const config: TrainConfig = {
            model,
            tokens,
            precision: { w: p.w, a: p.a, kv: p.kv },
            seed,
            train: spec.train,
          };
          const train = makeJob('train', config);
          jobs.push(train);
          for (const precision of spec.ptq.precisions) {
            for (const method of spec.ptq.methods) {
              const ptq: PtqConfig = { source: train.id, precision, method, settings: spec.ptq.settings };
              jobs.push(makeJob('ptq', ptq, [train.id]));
            }
          }
        }
      }
    }
  }
  return jobs;
}
