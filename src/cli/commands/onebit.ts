// `bitscale onebit <teacher-run>`: a OneBit student distilled from a finished full-precision run (issue 16).
// Initializes it by SVID (NMF or SVD) or randomly, trains it by OneBit's distillation or plain CE for a token
// budget, evaluates student and teacher on the same validation tokens, and writes the student's run folder
// with its packed file; prints the result (retention, exact bits per parameter) as JSON.
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { distillOnebit } from '../../onebit/distill-run.ts';
import { OneBitError } from '../../onebit/errors.ts';
import { checkStudentInit, checkStudentLoss } from '../../onebit/student.ts';
import { formatSeconds, progressLine } from '../progress.ts';

export function registerOnebit(program: Command): void {
  program
    .command('onebit')
    .description('distill a OneBit (1-bit weights + value vectors) student from a finished run and pack it')
    .argument('<teacher-run>', 'finished full-precision run folder')
    .option('--tokens <n>', "student token budget (default: the teacher's)", Number)
    .option('--init <kind>', 'svid-nmf | svid-svd | random', 'svid-nmf')
    .option('--loss <kind>', 'distill (KL + hidden states, OneBit defaults) | ce', 'distill')
    .option('--lr <x>', "student learning rate (default: the teacher's)", Number)
    .option('--out <dir>', 'student run folder (default: <teacher-run>-onebit-<init>-<loss>)')
    .option('--backend <name>', 'js | cpu | cuda')
    .action(
      (
        teacher: string,
        opts: { tokens?: number; init: string; loss: string; lr?: number; out?: string; backend?: string },
      ) => {
        const init = checkStudentInit(opts.init, '--init');
        const loss = checkStudentLoss(opts.loss, '--loss');
        if (opts.tokens !== undefined && !(Number.isSafeInteger(opts.tokens) && opts.tokens > 0))
          throw new OneBitError('--tokens', opts.tokens, 'a positive integer');
        const outDir =
          opts.out ?? join(resolve(teacher, '..'), `${basename(resolve(teacher))}-onebit-${init}-${loss}`);
        const line = progressLine();
        const result = distillOnebit({
          teacher,
          outDir,
          tokens: opts.tokens,
          init,
          loss,
          train: opts.lr === undefined ? {} : { lr: opts.lr },
          backend: opts.backend,
          onProgress: (p) =>
            line.update(
              `student step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} ` +
                `${Math.round(p.tokensPerSecond)} tok/s eta ${formatSeconds(p.etaSeconds)}`,
            ),
        });
        line.done();
        const { summary: _, ...shown } = result;
        console.log(JSON.stringify({ outDir, ...shown }, null, 2));
      },
    );
}
