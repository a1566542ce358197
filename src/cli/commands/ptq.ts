// `bitscale ptq <run>`: post-training quantization of a finished run, evaluated on its validation data.
import type { Command } from 'commander';
import { evaluatePtq } from '../../ptq/evaluate-ptq.ts';
import type { PtqMethod } from '../../ptq/quantize-model.ts';

export function registerPtq(program: Command): void {
  program
    .command('ptq')
    .description("quantize a trained run's linear weights after training and report delta_PTQ on validation")
    .argument('<run>', 'run folder')
    .requiredOption('--format <name>', 'int2..int8, fp8_e4m3, nf4, mxfp4, ... (see numerics formats)')
    .option('--method <m>', 'rtn | gptq', 'rtn')
    .option('--group-size <g>', 'columns sharing a scale (0: per output channel)', Number, 0)
    .option('--calibration-tokens <n>', 'GPTQ calibration tokens from the training split', Number, 8192)
    .option('--backend <name>', 'js | cpu | cuda')
    .action(
      (
        run: string,
        opts: {
          format: string;
          method: string;
          groupSize: number;
          calibrationTokens: number;
          backend?: string;
        },
      ) => {
        if (opts.method !== 'rtn' && opts.method !== 'gptq')
          throw new Error(`--method: '${opts.method}' is not rtn or gptq`);
        const result = evaluatePtq(
          run,
          {
            format: opts.format,
            method: opts.method as PtqMethod,
            groupSize: opts.groupSize,
            calibrationTokens: opts.calibrationTokens,
          },
          { backend: opts.backend },
        );
        console.log(JSON.stringify(result, null, 2));
      },
    );
}
