// bitscale optimize --fit fit.json --compute C: compute-optimal (N*, D*, P*) under C ∝ N·D·P;
// with --critical-data, the token count past which PTQ to Ppost (or training in a float format / QAT group size)
// makes more pretraining data harmful; with --qat-fraction, the optimal QAT share of a two-phase law.

import type { Command } from 'commander';
import { parseMapping, parseNumber, parseNumberList } from '../../laws/cli-args.ts';
import type { CostModel, CostModelName } from '../../laws/cost.ts';
import { KNOWN_VARIABLES } from '../../laws/dataset.ts';
import { LawsError, LawsOptionError } from '../../laws/errors.ts';
import { floatVariables } from '../../laws/float-format.ts';
import { bestFloatSplit } from '../../laws/float-split.ts';
import { readFitFile, readStepBenchThroughput } from '../../laws/io-node.ts';
import type { MeasuredThroughput } from '../../laws/measured-throughput.ts';
import type { ComputeOptimum } from '../../laws/optimize.ts';
import { criticalDataSize, optimumInterval, precisionCurve } from '../../laws/optimize.ts';
import type { QatFraction, QatQuestion } from '../../laws/qat-fraction.ts';
import { optimalQatFraction, qatComputeOptimal, qatFractionInterval } from '../../laws/qat-fraction.ts';

interface OptimizeFlags {
  fit: string;
  compute?: string;
  criticalData?: boolean;
  qatFraction?: boolean;
  floatSplit?: string;
  format?: string;
  var: string[];
  bitsMin: string;
  bitsMax: string;
  integerBits?: boolean;
  flopsPerParamToken: string;
  referenceBits: string;
  cost: string;
  hardware?: string;
  throughput?: string;
  throughputFrom?: string;
  throughputShape?: string;
  json?: boolean;
  [variable: string]: string | string[] | boolean | undefined;
}

export function registerOptimize(program: Command): void {
  const command = program
    .command('optimize')
    .description(
      'compute-optimal N, D and training precision for a budget, or the critical data size for PTQ',
    )
    .requiredOption('--fit <fit.json>', 'a fit written by bitscale fit --out')
    .option('--compute <C>', 'budget(s) in FLOPs at the reference precision; a comma list gives P*(C)')
    .option(
      '--critical-data',
      'find the D past which more data raises the loss (PTQ to --Ppost; float law at E, M, B; qat law at G)',
    )
    .option(
      '--qat-fraction',
      'two-phase law: the optimal QAT fraction f* at --N and --D, or (N*, D*, f*) for --compute',
    )
    .option(
      '--float-split <bits>',
      'float law: the best exponent / mantissa split of <bits> per value (sign + E + M) at --N, --D (and --var B=)',
    )
    .option('--format <name>', 'float law: a format name giving E, M (and B for MX formats), e.g. mxfp4')
    .option(
      '--var <name=value>',
      'fixed value of any other variable of the form (E, M, B, G); repeatable',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option('--bits-min <b>', 'lowest training precision searched', '1')
    .option('--bits-max <b>', 'highest training precision searched', '32')
    .option('--integer-bits', 'search whole bits only')
    .option('--flops-per-param-token <k>', 'cost model C = k N D P / P_ref', '6')
    .option('--reference-bits <b>', 'P_ref: precision at which C = k N D', '16')
    .option(
      '--cost <model>',
      'compute (C = 6·N·D·P/16, all parts at P) | memory (weights-only, M = N·P_w bits at --D) | hardware (C = 6·N·D / throughput per format)',
      'compute',
    )
    .option('--hardware <name>', 'hardware cost model: hopper | ampere | blackwell (throughput per format)')
    .option(
      '--throughput <fmt=x,...>',
      'hardware cost model: throughput per format relative to bf16, e.g. fp8=2,bf16=1',
    )
    .option(
      '--throughput-from <results.json>',
      'hardware cost model: throughput per format measured by bench/cuda-train-step.ts (bf16 step time / the step time in that format, natively computed rows); --throughput entries override it',
    )
    .option('--throughput-shape <shape>', 'the shape of --throughput-from results that hold several')
    .option('--json', 'print JSON lines');
  for (const v of KNOWN_VARIABLES) command.option(`--${v} <value>`, `fixed value of ${v}`);
  command.action((flags: OptimizeFlags) => {
    try {
      const fit = readFitFile(flags.fit);
      const fixed: Record<string, number> = {};
      for (const v of KNOWN_VARIABLES)
        if (typeof flags[v] === 'string') fixed[v] = parseNumber(`--${v}`, flags[v] as string);
      if (flags.format !== undefined) Object.assign(fixed, floatVariables('--format', flags.format));
      for (const item of flags.var) {
        const [k, value] = parseMapping('--var', item);
        fixed[k] = parseNumber('--var', value);
      }
      if (flags.floatSplit !== undefined) {
        const r = bestFloatSplit(fit, {
          bits: parseNumber('--float-split', flags.floatSplit),
          N: required(fixed, 'N', '--float-split'),
          D: required(fixed, 'D', '--float-split'),
          B: fixed.B,
        });
        if (flags.json) console.log(JSON.stringify(r));
        else {
          console.log(`best split of ${flags.floatSplit} bits: E${r.E}M${r.M}  loss ${r.loss.toFixed(4)}`);
          for (const s of r.splits.slice(1)) console.log(`  E${s.E}M${s.M}  loss ${s.loss.toFixed(4)}`);
        }
        return;
      }
      if (flags.qatFraction) {
        const k = parseNumber('--flops-per-param-token', flags.flopsPerParamToken);
        const questions: QatQuestion[] = flags.compute
          ? parseNumberList('--compute', flags.compute).map((compute) => ({
              compute,
              flopsPerParamToken: k,
              N: fixed.N,
            }))
          : [
              {
                N: required(fixed, 'N', '--qat-fraction without --compute'),
                D: required(fixed, 'D', '--qat-fraction without --compute'),
              },
            ];
        for (const q of questions) {
          const r = 'compute' in q ? qatComputeOptimal(fit, q.compute, q) : optimalQatFraction(fit, q);
          // The spread of the answer over the fit's bootstrap refits (when it has them).
          const interval = qatFractionInterval(fit, q);
          console.log(flags.json ? JSON.stringify({ ...r, interval }) : formatQatFraction(r, interval));
        }
        return;
      }
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
      const precision = {
        min: parseNumber('--bits-min', flags.bitsMin),
        max: parseNumber('--bits-max', flags.bitsMax),
        integer: Boolean(flags.integerBits),
      };
      const curve = precisionCurve(fit, parseNumberList('--compute', flags.compute), {
        cost: costModel(flags),
        precision,
        fixed,
      });
      if (!flags.json) console.log(`cost model: ${curve[0].cost}`);
      for (const r of curve) {
        // The spread of the answer over the fit's bootstrap refits (when it has them).
        const interval = optimumInterval(fit, r.compute, { cost: costModel(flags), precision, fixed });
        console.log(flags.json ? JSON.stringify({ ...r, interval }) : formatOptimum(r, interval));
      }
    } catch (err) {
      if (!(err instanceof LawsError)) throw err;
      const cannot = err.name === 'LawsUndecidedError' ? 'cannot decide: ' : '';
      console.error(`bitscale optimize: ${cannot}${err.message}`);
      process.exitCode = 1;
    }
  });
}

function required(fixed: Record<string, number>, v: string, forWhat: string): number {
  if (fixed[v] === undefined) throw new LawsOptionError(`--${v}`, undefined, `a value, for ${forWhat}`);
  return fixed[v];
}

function formatQatFraction(
  r: QatFraction,
  interval?: { f: readonly [number, number]; N: readonly [number, number] },
): string {
  const lines = [
    `N = ${r.N.toExponential(3)}  D = ${r.D.toExponential(3)}: QAT fraction f* = ${r.f.toFixed(3)} ` +
      `(${(r.f * r.D).toExponential(3)} QAT tokens)  loss ${r.loss.toFixed(4)}`,
  ];
  if (interval) {
    lines.push(
      `  95% over bootstrap refits: f* ${num(interval.f[0])}..${num(interval.f[1])}` +
        (interval.N[0] === interval.N[1] ? '' : `, N* ${num(interval.N[0])}..${num(interval.N[1])}`),
    );
  }
  if (r.extrapolated === undefined) lines.push('  (measured ranges unknown: the fit file predates them)');
  for (const e of r.extrapolated ?? []) {
    lines.push(
      `  extrapolation: ${e.variable} = ${num(e.value)} is outside the measured ${num(e.range[0])}..${num(e.range[1])}`,
    );
  }
  return lines.join('\n');
}

function costModel(flags: OptimizeFlags): CostModel {
  const name = flags.cost as CostModelName;
  if (!['compute', 'memory', 'hardware'].includes(name))
    throw new LawsOptionError('--cost', flags.cost, 'compute, memory or hardware');
  const throughput = flags.throughput
    ? Object.fromEntries(
        flags.throughput.split(',').map((item) => {
          const [format, value] = parseMapping('--throughput', item);
          return [format, parseNumber('--throughput', value)];
        }),
      )
    : undefined;
  if (flags.throughputShape !== undefined && flags.throughputFrom === undefined)
    throw new LawsOptionError('--throughput-shape', flags.throughputShape, 'only with --throughput-from');
  const measured = flags.throughputFrom === undefined ? undefined : measuredThroughput(flags, name);
  return {
    name,
    flopsPerParamToken: parseNumber('--flops-per-param-token', flags.flopsPerParamToken),
    referenceBits: parseNumber('--reference-bits', flags.referenceBits),
    ...(flags.hardware !== undefined && { hardware: flags.hardware }),
    ...((throughput || measured) && { throughput: { ...measured?.throughput, ...throughput } }),
    ...(measured && {
      source: `measured (${flags.throughputFrom}, ${measured.shape}${measured.machine ? `, ${measured.machine}` : ''})`,
    }),
  };
}

/** --throughput-from: the rates a step benchmark's results measured (hardware cost model only). */
function measuredThroughput(flags: OptimizeFlags, cost: CostModelName): MeasuredThroughput {
  if (cost !== 'hardware')
    throw new LawsOptionError('--throughput-from', flags.throughputFrom, 'only with --cost hardware');
  return readStepBenchThroughput(flags.throughputFrom!, flags.throughputShape);
}

/** One answer, its extrapolations marked, with the nearest answer inside the measured range. */
export function formatOptimum(
  r: ComputeOptimum,
  interval?: { P?: readonly [number, number]; N: readonly [number, number] },
): string {
  const answer = (a: { N: number; D: number; P?: number; format?: string; loss: number }) =>
    `N* = ${a.N.toExponential(3)}  D* = ${a.D.toExponential(3)}` +
    (a.format ? `  format ${a.format}` : '') +
    (a.P === undefined ? '' : `  P* = ${a.P.toFixed(2)} bits`) +
    `  loss ${a.loss.toFixed(4)}`;
  const budget = r.cost.startsWith('weights-only memory')
    ? `M = ${r.compute.toExponential(2)} bits`
    : `C = ${r.compute.toExponential(2)}`;
  const lines = [`${budget}: ${answer(r)}`];
  if (interval) {
    lines.push(
      `  95% over bootstrap refits: N* ${num(interval.N[0])}..${num(interval.N[1])}${interval.P ? `, P* ${num(interval.P[0])}..${num(interval.P[1])} bits` : ''}`,
    );
  }
  if (r.extrapolated === undefined) lines.push('  (measured ranges unknown: the fit file predates them)');
  for (const e of r.extrapolated ?? []) {
    lines.push(
      `  extrapolation: ${e.variable} = ${num(e.value)} is outside the measured ${num(e.range[0])}..${num(e.range[1])}`,
    );
  }
  if (r.inside) lines.push(`  nearest answer inside the measured precisions: ${answer(r.inside)}`);
  return lines.join('\n');
}

function num(v: number): string {
  return !Number.isFinite(v)
    ? 'inf'
    : Math.abs(v) >= 1e4
      ? v.toExponential(2)
      : String(Number(v.toPrecision(4)));
}
