// The bitscale command line: a thin layer over the library. Each command lives in src/cli/commands/.
import { Command } from 'commander';
import { builtinJobKinds } from '../jobs/builtin.ts';
import { registerData } from './commands/data.ts';
import { registerEval } from './commands/eval.ts';
import { registerExport } from './commands/export.ts';
import { registerFinetune } from './commands/finetune.ts';
import { registerFit } from './commands/fit.ts';
import { registerInspect } from './commands/inspect.ts';
import { registerJob } from './commands/job.ts';
import { registerOnebit } from './commands/onebit.ts';
import { registerOnebitNtk } from './commands/onebit-ntk.ts';
import { registerOptimize } from './commands/optimize.ts';
import { registerPack } from './commands/pack.ts';
import { registerPredict } from './commands/predict.ts';
import { registerPtq } from './commands/ptq.ts';
import { registerQuanta } from './commands/quanta.ts';
import { registerRuns } from './commands/runs.ts';
import { registerSmoke } from './commands/smoke.ts';
import { registerStudy } from './commands/study.ts';
import { registerSweep } from './commands/sweep.ts';
import { registerTrain } from './commands/train.ts';

const program = new Command();
program
  .name('bitscale')
  .description(
    'Precision-aware scaling laws, end to end: train at any precision, quantize, fit the laws, decide.',
  )
  .version('0.1.0')
  .showHelpAfterError();

registerStudy(program, builtinJobKinds);
registerSmoke(program);
registerData(program);
registerTrain(program);
registerPtq(program);
registerEval(program);
registerExport(program);
registerInspect(program);
registerFinetune(program);
registerFit(program);
registerPredict(program);
registerOptimize(program);
registerOnebit(program);
registerOnebitNtk(program);
registerPack(program);
registerQuanta(program);
registerSweep(program, builtinJobKinds);
registerJob(program, builtinJobKinds);
registerRuns(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`bitscale: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
