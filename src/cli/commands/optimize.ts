// bitscale optimize --fit fit.json --compute C: compute-optimal (N*, D*, P*) under C ∝ N·D·P;
// with --critical-data, the token count past which PTQ to Ppost makes more pretraining data harmful.

import type { Command } from 'commander';
import { parseNumber, parseNumberList } from '../../laws/cli-args.ts';
import { KNOWN_VARIABLES } from '../../laws/dataset.ts';
import { LawsError, LawsOptionError } from '../../laws/errors.ts';
import { readFitFile } from '../../laws/io-node.ts';
import { criticalDataSize, precisionCurve } from '../../laws/optimize.ts';

interface OptimizeFlags {
  fit: string;
  compute?: string;
  criticalData?: boolean;
  bitsMin: string;
  bitsMax: string;
  integerBits?: boolean;
  flopsPerParamToken: string;
  referenceBits: string;
  json?: boolean;
  [variable: string]: string | boolean | undefined;
}

export function registerOptimize(program: Command): void {
  const command = program
    .command('optimize')
    .description(
      'compute-optimal N, D and training precision for a budget, or the critical data size for PTQ',
    )
    .requiredOption('--fit <fit.json>', 'a fit written by bitscale fit --out')
    .option('--compute <C>', 'budget(s) in FLOPs at the reference precision; a comma list gives P*(C)')
    .option('--critical-data', 'find the D past which post-training quantization makes more data harmful')
    .option('--bits-min <b>', 'lowest training precision searched', '1')
    .option('--bits-max <b>', 'highest training precision searched', '32')
    .option('--integer-bits', 'search whole bits only')
    .option('--flops-per-param-token <k>', 'cost model C = k N D P / P_ref', '6')
    .option('--reference-bits <b>', 'P_ref: precision at which C = k N D', '16')
    .option('--json', 'print JSON lines');
  for (const v of KNOWN_VARIABLES) command.option(`--${v} <value>`, `fixed value of ${v}`);
  command.action((flags: OptimizeFlags) => {
    try {
      const fit = readFitFile(flags.fit);
      const fixed: Record<string, number> = {};
      for (const v of KNOWN_VARIABLES)
        if (typeof flags[v] === 'string') fixed[v] = parseNumber(`--${v}`, flags[v] as string);
      if (flags.criticalData) {
        const r = criticalDataSize(fit, fixed);
        console.log(
          flags.json
            ? JSON.stringify({ ...fixed, criticalD: r.D, loss: r.loss })
            : `critical data size D* = ${r.D.toExponential(3)} tokens (loss ${r.loss.toFixed(4)} there)`,
        );
        return;
      }
      if (!flags.compute)
        throw new LawsOptionError('--compute', undefined, 'a budget in FLOPs, or use --critical-data');
      const curve = precisionCurve(fit, parseNumberList('--compute', flags.compute), {
        flopsPerParamToken: parseNumber('--flops-per-param-token', flags.flopsPerParamToken),
        referenceBits: parseNumber('--reference-bits', flags.referenceBits),
        precision: {
          min: parseNumber('--bits-min', flags.bitsMin),
          max: parseNumber('--bits-max', flags.bitsMax),
          integer: Boolean(flags.integerBits),
        },
        fixed,
      });
      for (const r of curve) {
        const bits = r.P === undefined ? '' : `  P* = ${r.P.toFixed(2)} bits`;
        console.log(
          flags.json
            ? JSON.stringify(r)
            : `C = ${r.compute.toExponential(2)}: N* = ${r.N.toExponential(3)}  D* = ${r.D.toExponential(3)}${bits}  loss ${r.loss.toFixed(4)}`,
        );
      }
    } catch (err) {
      if (!(err instanceof LawsError)) throw err;
      console.error(`bitscale optimize: ${err.message}`);
      process.exitCode = 1;
    }
  });
}
