// The job kinds bitscale runs out of the box, in one place: kind name -> runner. The sweep machinery never
// imports these (it is handed a JobKinds map); the CLI wires this map into `bitscale job`, `sweep` and
// `study`, so a job file naming any of these kinds runs on a local worker or a Slurm node alike.

import { ONEBIT_NTK_JOB, runOnebitNtkJob } from '../experiments/onebit-ntk/job-kind.ts';
import { QUANTA_TRAIN, runQuantaTrainJob } from '../experiments/quanta/jobs.ts';
import { runOnebitDistillJob, runPtqJob, runTrainJob } from '../study/job-kinds.ts';
import { ONEBIT_DISTILL } from '../sweep/expand.ts';
import type { JobKinds } from '../sweep/job-kind.ts';

export const builtinJobKinds: JobKinds = {
  train: runTrainJob,
  ptq: runPtqJob,
  [ONEBIT_DISTILL]: runOnebitDistillJob,
  [QUANTA_TRAIN]: runQuantaTrainJob,
  [ONEBIT_NTK_JOB]: runOnebitNtkJob,
};
