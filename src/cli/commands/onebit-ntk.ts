// `bitscale onebit-ntk [--preset name|file.json] [--out dir]`: 1-bit two-layer networks in the kernel
// regime (issue 8). Runs the preset's width, data and step sweeps, fits the power laws, writes
// results.json, report.html and the charts to --out, and prints the claims as one JSON line.

import type { Command } from 'commander';
import {
  loadPreset,
  OnebitNtkConfigError,
  runOnebitNtkExperiment,
} from '../../experiments/onebit-ntk/index.ts';

export function registerOnebitNtk(program: Command): void {
  program
    .command('onebit-ntk')
    .description(
      '1-bit networks in the kernel regime: NTK drift, 1-bit vs full-precision gap, power laws vs width',
    )
    .option('--preset <name>', 'preset name in experiments/ or a .json file', 'onebit-ntk')
    .option('--out <dir>', 'output directory (re-running it reuses finished runs)', 'runs/onebit-ntk')
    .option('--executor <kind>', "'local' (worker processes) or 'in-process'; overrides the preset")
    .action(async (opts: { preset: string; out: string; executor?: string }) => {
      const preset = loadPreset(opts.preset);
      const executor = opts.executor ?? preset.executor;
      if (executor !== 'local' && executor !== 'in-process') {
        throw new OnebitNtkConfigError('--executor', executor, "'local' or 'in-process'");
      }
      const command = `bitscale onebit-ntk --preset ${opts.preset} --out ${opts.out}`;
      const results = await runOnebitNtkExperiment(
        { ...preset, executor },
        { out: opts.out, command, log: (m) => process.stderr.write(`${m}\n`) },
      );
      const { claims, fits } = results.analysis;
      process.stdout.write(
        `${JSON.stringify({
          out: opts.out,
          seconds: Math.round(results.seconds),
          ntkDriftSlope1bit: [fits.ntkDriftVsWidth.onebit.exponent, ...fits.ntkDriftVsWidth.onebit.interval],
          ntkDriftSlopeFp: [fits.ntkDriftVsWidth.fp.exponent, ...fits.ntkDriftVsWidth.fp.interval],
          genDiffSlope: [fits.genDiffVsWidth.exponent, ...fits.genDiffVsWidth.interval],
          ...claims,
        })}\n`,
      );
    });
}
