// bitscale predict --fit fit.json --N ... --D ... --Pw ...: predicted loss with its bootstrap interval.

import type { Command } from 'commander';
import { parseMapping, parseNumberList } from '../../laws/cli-args.ts';
import { KNOWN_VARIABLES } from '../../laws/dataset.ts';
import { LawsError, LawsOptionError } from '../../laws/errors.ts';
import { floatVariables } from '../../laws/float-format.ts';
import { readFitFile } from '../../laws/io-node.ts';
import type { Point, Prediction } from '../../laws/predict.ts';
import { predictLoss } from '../../laws/predict.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerPredict(program: Command): void {
  const command = program
    .command('predict')
    .description('predict loss from a fit (with a 95% interval when the fit was bootstrapped)')
    .requiredOption('--fit <fit.json>', 'a fit written by bitscale fit --out')
    .option('--var <name=v1,v2>', 'a value (or list) for any variable of the form; repeatable', collect, [])
    .option(
      '--format <names>',
      'float law: format name(s) giving E, M (and B for MX formats), e.g. fp8_e4m3,mxfp4',
    )
    .option('--json', 'print JSON lines');
  for (const v of KNOWN_VARIABLES) command.option(`--${v} <values>`, `${v}: one value or a comma list`);
  command.action((flags: Record<string, string | string[] | boolean | undefined>) => {
    try {
      const fit = readFitFile(String(flags.fit));
      const given: Record<string, string> = {};
      for (const v of KNOWN_VARIABLES) if (typeof flags[v] === 'string') given[v] = flags[v] as string;
      for (const item of flags.var as string[]) {
        const [k, value] = parseMapping('--var', item);
        given[k] = value;
      }
      if (typeof flags.format === 'string') Object.assign(given, formatLists(flags.format, given));
      const points = zipPoints(given);
      const predictions = predictLoss(fit, points);
      points.forEach((pt, i) => {
        console.log(
          flags.json ? JSON.stringify({ ...pt, ...predictions[i] }) : formatPrediction(pt, predictions[i]),
        );
      });
    } catch (err) {
      if (!(err instanceof LawsError)) throw err;
      console.error(`bitscale predict: ${err.message}`);
      process.exitCode = 1;
    }
  });
}

/** E, M and B lists from a comma list of format names (B only when every format has blocks and none is given). */
export function formatLists(names: string, given: Readonly<Record<string, string>>): Record<string, string> {
  const bits = names.split(',').map((name) => floatVariables('--format', name));
  const list = (v: string) => bits.map((b) => b[v]).join(',');
  return {
    E: list('E'),
    M: list('M'),
    ...(given.B === undefined && bits.every((b) => b.B !== undefined) && { B: list('B') }),
  };
}

/** Lists of equal length are zipped into points; single values repeat. */
export function zipPoints(given: Readonly<Record<string, string>>): Point[] {
  const lists = Object.entries(given).map(([k, text]) => [k, parseNumberList(`--${k}`, text)] as const);
  const length = Math.max(1, ...lists.map(([, l]) => l.length));
  for (const [k, l] of lists) {
    if (l.length !== 1 && l.length !== length) {
      throw new LawsOptionError(`--${k}`, given[k], `one value or ${length} values (like the longest list)`);
    }
  }
  return Array.from({ length }, (_, i) =>
    Object.fromEntries(lists.map(([k, l]) => [k, l.length === 1 ? l[0] : l[i]])),
  );
}

function formatPrediction(point: Point, p: Prediction): string {
  const where = Object.entries(point)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const interval = p.lower === undefined ? '' : `  [${p.lower.toFixed(4)}, ${p.upper?.toFixed(4)}]`;
  return `${where}  loss ${p.loss.toFixed(4)}${interval}`;
}
