// bitscale fit <runs.csv|.jsonl> --form ...: fit a scaling law, print parameters ± intervals, write JSON.

import type { Command } from 'commander';
import { writeJsonAtomic } from '../../base/atomic-write.ts';
import { mappingRecord, parseMapping, parseNumber, parseNumberList } from '../../laws/cli-args.ts';
import { datasetFromRows, KNOWN_VARIABLES } from '../../laws/dataset.ts';
import { LawsError } from '../../laws/errors.ts';
import type { FitResult } from '../../laws/fit.ts';
import { fitLaw } from '../../laws/fit.ts';
import { withFloatColumns } from '../../laws/float-format.ts';
import type { Part } from '../../laws/forms/kumar.ts';
import { formByName } from '../../laws/forms/registry.ts';
import { readRunsTable } from '../../laws/io-node.ts';
import { dropHighestLoss, tokensFromCompute } from '../../laws/transforms.ts';

interface FitFlags {
  form: string;
  col: string[];
  bootstrap: string;
  seed: string;
  holdout?: string;
  holdoutBy?: string;
  delta: string;
  tie: string[];
  fix: string[];
  parts?: string;
  formatCol?: string;
  linear: string[];
  start: string[];
  maxStarts?: string;
  tokensFromCompute?: boolean;
  profile?: boolean;
  allowCollinear?: boolean;
  dropHighestLoss?: string;
  out?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerFit(program: Command): void {
  program
    .command('fit')
    .description('fit a scaling law to runs (Huber on log-loss, multi-start L-BFGS-B, bootstrap intervals)')
    .argument('<runs>', 'runs table: .csv or .jsonl, one run per row')
    .requiredOption(
      '--form <form>',
      "chinchilla | kaplan[:N|D|C] | precision | ptq | unified | efficiency | float | float:EM | qat | two-phase | an expression, e.g. 'E + A/N^alpha'",
    )
    .option(
      '--col <VAR=column>',
      'map a variable (N, D, C, Pw, Pa, Pkv, Ppost, E, M, B, G, f, loss) to a column name; repeatable',
      collect,
      [],
    )
    .option('--bootstrap <K>', 'bootstrap resamples for intervals', '0')
    .option('--seed <n>', 'seed for bootstrap and start subsampling', '0')
    .option('--holdout <x>', 'hold out the largest runs: a fraction (<1) or a count')
    .option('--holdout-by <column>', 'variable ordering runs by size (default N*D)')
    .option('--delta <d>', 'Huber delta on log-loss residuals', '1e-3')
    .option('--tie <a,b>', 'tie parameters, e.g. alpha,beta; repeatable', collect, [])
    .option('--fix <name=value>', 'hold a parameter at a value; repeatable', collect, [])
    .option('--parts <w,a,kv>', 'training-precision parts for precision/unified (default w)')
    .option(
      '--format-col <column>',
      'float forms: column of format names (fp8_e4m3, bf16, mxfp4, ...) giving E, M and B where the runs lack them',
      'format',
    )
    .option(
      '--linear <name>',
      'fit an expression parameter in linear space (may be negative); repeatable',
      collect,
      [],
    )
    .option('--start <name=v1,v2>', 'start values for a parameter (natural units); repeatable', collect, [])
    .option('--max-starts <n>', 'use a seeded subset of the start grid above this size')
    .option('--tokens-from-compute', 'derive D = C / (6 N) (Epoch)')
    .option('--drop-highest-loss <k>', 'drop the k highest-loss rows first (Epoch: 5)')
    .option('--profile', 'profile-likelihood 95% intervals next to the bootstrap')
    .option(
      '--allow-collinear',
      'fit even when the design cannot separate some parameters (constant or collinear columns); warn instead',
    )
    .option('--out <file.json>', 'write the fit as JSON')
    .option('--json', 'print the fit as JSON instead of a table')
    .action((runs: string, flags: FitFlags) => {
      try {
        const result = runFit(runs, flags);
        console.log(flags.json ? JSON.stringify(result, null, 2) : formatFit(result));
        if (flags.out) writeJsonAtomic(flags.out, result);
      } catch (err) {
        if (!(err instanceof LawsError)) throw err;
        console.error(`bitscale fit: ${err.message}`);
        process.exitCode = 1;
      }
    });
}

export function runFit(runs: string, flags: FitFlags): FitResult {
  const columns = mappingRecord('--col', flags.col);
  const parts = flags.parts?.split(',').map((s) => s.trim()) as Part[] | undefined;
  const fix = Object.fromEntries(
    flags.fix.map((f) => parseMapping('--fix', f)).map(([k, v]) => [k, parseNumber('--fix', v)]),
  );
  const table = readRunsTable(runs);
  // The efficiency form has one factor per training precision of the runs.
  const levels =
    flags.form.trim() === 'efficiency'
      ? [...new Set(datasetFromRows(table.records, ['Pw'], { columns, rowNumbers: table.lines }).columns.Pw)]
      : undefined;
  const form = formByName(flags.form, {
    levels,
    parts,
    tie: flags.tie.map((t) => t.split(',').map((s) => s.trim())),
    fix,
    linear: flags.linear,
    variables: [...new Set([...KNOWN_VARIABLES, ...Object.keys(columns).filter((k) => k !== 'loss')])],
  });
  // The float law reads exponent / mantissa bits and block size; runs may name their format instead.
  const records =
    form.spec.kind === 'float'
      ? withFloatColumns(table.records, flags.formatCol ?? 'format', {
          block: form.spec.options?.block !== false,
          rowNumbers: table.lines,
          columns,
        })
      : table.records;
  // With --tokens-from-compute the table supplies C and D is derived.
  const needed = flags.tokensFromCompute
    ? [...new Set([...form.variables.filter((v) => v !== 'D'), 'N', 'C'])]
    : [...form.variables];
  let data = datasetFromRows(records, needed, { columns, rowNumbers: table.lines });
  if (flags.dropHighestLoss)
    data = dropHighestLoss(data, parseNumber('--drop-highest-loss', flags.dropHighestLoss));
  if (flags.tokensFromCompute) data = tokensFromCompute(data);
  const starts = Object.fromEntries(
    flags.start.map((s) => parseMapping('--start', s)).map(([k, v]) => [k, parseNumberList('--start', v)]),
  );
  return fitLaw(form, data, {
    delta: parseNumber('--delta', flags.delta),
    bootstrap: parseNumber('--bootstrap', flags.bootstrap),
    seed: parseNumber('--seed', flags.seed),
    holdout: flags.holdout === undefined ? undefined : parseNumber('--holdout', flags.holdout),
    holdoutBy: flags.holdoutBy,
    starts,
    maxStarts: flags.maxStarts === undefined ? undefined : parseNumber('--max-starts', flags.maxStarts),
    profile: Boolean(flags.profile),
    design: flags.allowCollinear ? 'warn' : 'refuse',
  });
}

export function formatFit(fit: FitResult): string {
  const lines = [`form: ${fit.formula}`];
  const width = Math.max(...Object.keys(fit.params).map((k) => k.length));
  for (const [name, value] of Object.entries(fit.params)) {
    const iv = fit.intervals?.[name];
    const flag =
      iv?.flag === 'at-bound'
        ? '  (at its bound)'
        : iv?.flag === 'collapsed'
          ? '  (bootstrap never moved it)'
          : '';
    const spread = iv ? `  ± ${num(iv.stderr)}  [${num(iv.lower)}, ${num(iv.upper)}]${flag}` : '';
    const pr = fit.profile?.[name];
    const end = (side: 'lower' | 'upper', v: number) =>
      !pr?.open.includes(side) ? num(v) : Number.isFinite(v) && v !== 0 ? `${num(v)} (bound)` : 'open';
    const profile = pr ? `  profile [${end('lower', pr.lower)}, ${end('upper', pr.upper)}]` : '';
    lines.push(`  ${name.padEnd(width)}  ${num(value)}${spread}${profile}`);
  }
  const q = fit.quality;
  lines.push(
    `residuals: mean |log| ${(100 * q.meanAbsLog).toFixed(2)}%, spread ${num(q.rmsLog)} against the data's ${num(q.spreadLog)} (R² ${q.r2.toFixed(4)})`,
  );
  lines.push(
    `objective ${num(fit.objective)} (sum of Huber, delta ${fit.delta}) on ${fit.points} points; ` +
      `${fit.starts.converged}/${fit.starts.total} starts converged`,
  );
  if (fit.intervals)
    lines.push(
      `intervals: 95% bootstrap over ${fit.bootstrap?.samples.length} resamples (± is the standard error)`,
    );
  if (fit.profile)
    lines.push(
      'profile: 95% profile likelihood, Gaussian on log loss (open: the data never close that side)',
    );
  if (fit.holdout) {
    const h = fit.holdout;
    lines.push(
      `held out ${h.rows.length} largest runs: RMSE(log loss) ${num(h.rmseLog)}, ` +
        `mean |rel. error| ${(100 * h.meanRelativeError).toFixed(2)}%, max ${(100 * h.maxRelativeError).toFixed(2)}%`,
    );
  }
  for (const w of fit.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

function num(v: number): string {
  return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0)
    ? v.toExponential(4)
    : Number(v.toPrecision(5)).toString();
}
