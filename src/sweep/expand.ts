// Expansion of a sweep spec into jobs: one training job per (model, tokens, precision, recipe, seed), and one PTQ
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
  // and `recipe` (a JsonObject), the run's entry of the recipe axis when the grid has one: see recipeOf.
}

/** A training job's entry of the recipe axis (given to the trainer over `train`), or undefined. */
export function recipeOf(job: TrainConfig): JsonObject | undefined {
  const recipe = job.recipe;
  return recipe !== null && typeof recipe === 'object' && !Array.isArray(recipe) ? recipe : undefined;
}

/** The resolved config of a PTQ job: which training run it quantizes, to what, how. `activations` (a precision,
 *  quantized per token) and `decompose` (LLM.int8) are present only when activations are quantized, so weight-only
 *  jobs keep the ids they had before activation PTQ existed. */
export interface PtqConfig extends JsonObject {
  source: string;
  precision: string;
  method: string;
  settings: JsonObject;
}

/** The resolved config of a OneBit student job: the training job it is distilled from, and how. */
export interface OnebitDistillConfig extends JsonObject {
  teacher: string;
  tokens: number;
  init: string;
  loss: string;
  train: JsonObject;
  distill: JsonObject;
}

export const ONEBIT_DISTILL = 'onebit-distill';

const FULL_PRECISION_NAMES = ['fp32', 'bf16', 'fp16'];
/** A training precision that can teach a OneBit student: nothing quantized below 16 bits. */
const isTeacherPrecision = (p: TrainPrecision) =>
  [p.w, p.a, p.kv].every((part) => FULL_PRECISION_NAMES.includes(part));

/**
 * The OneBit jobs of one full-precision training job: a student per (token budget, variant), and the
 * round-to-nearest 1-bit model (sign x mean |W| per row) it is compared with.
 */
function onebitJobs(spec: SweepSpec, train: Job): Job[] {
  const onebit = spec.onebit;
  if (!onebit) return [];
  const jobs: Job[] = [];
  for (const tokens of onebit.tokens) {
    for (const { init, loss } of onebit.students) {
      const config: OnebitDistillConfig = {
        teacher: train.id,
        tokens,
        init,
        loss,
        train: onebit.train,
        distill: onebit.distill,
      };
      jobs.push(makeJob(ONEBIT_DISTILL, config, [train.id]));
    }
  }
  const rtn1: PtqConfig = {
    source: train.id,
    precision: 'binary',
    method: 'rtn',
    settings: spec.ptq.settings,
  };
  jobs.push(makeJob('ptq', rtn1, [train.id]));
  return jobs;
}

/** The PTQ variants of a spec: (P_post, method, activations, decompose), decomposition only where it applies. */
function ptqVariants(spec: SweepSpec): JsonObject[] {
  const variants: JsonObject[] = [];
  for (const precision of spec.ptq.precisions)
    for (const method of spec.ptq.methods)
      for (const activations of spec.ptq.activations)
        for (const decompose of spec.ptq.decompose) {
          if (activations === 'fp32' && decompose) continue;
          if (decompose && method !== 'rtn') continue;
          variants.push({
            precision,
            method,
            ...(activations === 'fp32' ? {} : { activations, decompose }),
          });
        }
  return variants;
}

export function expandSweep(spec: SweepSpec): Job[] {
  const jobs: Job[] = [];
  for (const model of spec.grid.model) {
    for (const tokens of spec.grid.tokens) {
      for (const p of spec.grid.precision) {
        // Without a recipe axis, job configs (and so run ids) are what they were before the axis existed.
        for (const recipe of spec.grid.recipe.length > 0 ? spec.grid.recipe : [null]) {
          for (const seed of spec.seeds) {
            const config: TrainConfig = {
              model,
              tokens,
              precision: { w: p.w, a: p.a, kv: p.kv },
              seed,
              train: spec.train,
              ...(recipe === null ? {} : { recipe }),
            };
            const train = makeJob('train', config);
            jobs.push(train);
            for (const variant of ptqVariants(spec)) {
              const { precision, method, ...acts } = variant as { precision: string; method: string };
              const ptq: PtqConfig = {
                source: train.id,
                precision,
                method,
                settings: spec.ptq.settings,
                ...acts,
              };
              jobs.push(makeJob('ptq', ptq, [train.id]));
            }
            if (isTeacherPrecision(p)) jobs.push(...onebitJobs(spec, train));
          }
        }
      }
    }
  }
  // The OneBit section's RTN 1-bit job may repeat one the ptq section asked for: one job per id.
  return [...new Map(jobs.map((j) => [j.id, j])).values()];
}
