// Emergence: the step at which a task's held-out loss drops from chance (ln 2 for a parity) to near zero.
// A task has emerged at the first evaluation where its loss falls below half of chance; the transition
// runs from the last evaluation before that still above `high` x chance to the first one at or below
// `low` x chance. "Abrupt" means the drop takes no longer than the plateau before it (on a log-step
// axis: within a factor of two in steps).

import { spearman } from './spearman.ts';

export const CHANCE_LOSS = Math.LN2;

export interface Emergence {
  task: number;
  /** First evaluation step with loss < chance / 2; null if never. */
  step: number | null;
  /** Steps from leaving the plateau (> high x chance) to arriving (<= low x chance); null if it never arrives. */
  transition: number | null;
  /** transition <= abruptFraction x step (default 1). */
  abrupt: boolean;
}

export interface EmergenceOptions {
  high?: number;
  low?: number;
  abruptFraction?: number;
}

/** Emergence of one task from its loss curve at steps `steps`. */
export function detectEmergence(
  task: number,
  steps: readonly number[],
  losses: readonly number[],
  options: EmergenceOptions = {},
): Emergence {
  const high = (options.high ?? 0.9) * CHANCE_LOSS;
  const low = (options.low ?? 0.1) * CHANCE_LOSS;
  const mid = CHANCE_LOSS / 2;
  const at = losses.findIndex((l) => l < mid);
  if (at < 0) return { task, step: null, transition: null, abrupt: false };
  let start = 0;
  for (let i = at; i >= 0; i--) {
    if (losses[i] > high) {
      start = i;
      break;
    }
  }
  let end = -1;
  for (let i = at; i < losses.length; i++) {
    if (losses[i] <= low) {
      end = i;
      break;
    }
  }
  const transition = end < 0 ? null : steps[end] - steps[start];
  const abrupt = transition !== null && transition <= (options.abruptFraction ?? 1) * steps[at];
  return { task, step: steps[at], transition, abrupt };
}

export interface LearningOrder {
  emergences: Emergence[];
  learned: number;
  /** Spearman rho of frequency rank vs emergence step over the tasks that emerged. */
  rhoLearned: number;
  /** Same over all tasks, never-learned tasks tied at +Infinity. */
  rhoAll: number;
  /** Fraction of emerged tasks whose transition was abrupt. */
  abruptFraction: number;
}

/** Emergence of every task (tasks indexed by frequency rank, 0 = most frequent) and the order of learning. */
export function learningOrder(
  steps: readonly number[],
  perTaskLoss: readonly (readonly number[])[],
  options: EmergenceOptions = {},
): LearningOrder {
  const emergences = perTaskLoss.map((curve, t) => detectEmergence(t, steps, curve, options));
  const learned = emergences.filter((e) => e.step !== null);
  const rhoLearned = spearman(
    learned.map((e) => e.task),
    learned.map((e) => e.step as number),
  );
  const rhoAll = spearman(
    emergences.map((e) => e.task),
    emergences.map((e) => e.step ?? Number.POSITIVE_INFINITY),
  );
  const abruptFraction = learned.length
    ? learned.filter((e) => e.abrupt).length / learned.length
    : Number.NaN;
  return { emergences, learned: learned.length, rhoLearned, rhoAll, abruptFraction };
}
