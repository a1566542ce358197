// `bitscale ptq <run>`: post-training quantization of a finished run, evaluated on its validation data.
import type { Command } from 'commander';
import type { ConfigIssue } from '../../nn/fields.ts';
import { evaluatePtq } from '../../ptq/evaluate-ptq.ts';
import { checkPtqVariant, PtqError, type PtqMethod, ptqFormats } from '../../ptq/settings.ts';

export function registerPtq(program: Command): void {
  program
    .command('ptq')
    .description("quantize a trained run's linear weights after training and report delta_PTQ on validation")
    .argument('<run>', 'run folder')
    .requiredOption('--format <name>', `one of ${ptqFormats.join(', ')}`)
    .option('--method <m>', 'rtn | gptq', 'rtn')
    .option('--group-size <g>', 'columns sharing a scale (0: per output channel)', Number, 0)
    .option('--calibration-tokens <n>', 'GPTQ calibration tokens from the training split', Number, 8192)
    .option('--activations <name>', 'quantize linear inputs per token to this precision (W8A8: int8)', 'fp32')
    .option(
      '--decompose',
      "LLM.int8 decomposition: keep calibration's outlier input dimensions in full precision",
    )
    .option('--outlier-threshold <x>', 'decomposition: |x| marking an outlier dimension', Number, 6)
    .option('--backend <name>', 'js | cpu | cuda')
    .action(
      (
        run: string,
        opts: {
          format: string;
          method: string;
          groupSize: number;
          calibrationTokens: number;
          activations: string;
          decompose?: boolean;
          outlierThreshold: number;
          backend?: string;
        },
      ) => {
        // The flags alone are checked first; the group size against the model's widths once it is loaded.
        const issues: ConfigIssue[] = [];
        const flags = {
          format: '--format',
          method: '--method',
          groupSize: '--group-size',
          activations: '--activations',
          decompose: '--decompose',
        };
        const decompose = opts.decompose === true;
        checkPtqVariant({ ...opts, decompose }, flags, issues);
        if (issues.length > 0) throw new PtqError(issues);
        const result = evaluatePtq(
          run,
          {
            format: opts.format,
            method: opts.method as PtqMethod,
            groupSize: opts.groupSize,
            calibrationTokens: opts.calibrationTokens,
            activations: opts.activations,
            decompose,
            outlierThreshold: opts.outlierThreshold,
          },
          { backend: opts.backend },
        );
        console.log(JSON.stringify(result, null, 2));
      },
    );
}
