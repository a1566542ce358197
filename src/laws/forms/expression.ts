// A user-written law, e.g. "E + A/N^alpha + B/D^beta". Names that are data columns are variables;
// every other name is a parameter. Parameters are fitted in log space (positive) unless listed as
// linear, since the constants of scaling laws are almost always positive.

import { ExpressionError, LawsOptionError } from '../errors.ts';
import type { Expr } from '../expr/parse.ts';
import { namesIn, parseExpression } from '../expr/parse.ts';
import { Tape } from '../expr/tape.ts';
import type { Form } from '../form.ts';
import { linearParam, logParam } from '../form.ts';

export interface ExpressionFormOptions {
  /** Names that are data columns (everything else is a parameter). */
  readonly variables: readonly string[];
  /** Parameters fitted as plain numbers (may be negative) instead of in log space. */
  readonly linear?: readonly string[];
}

/** Default multi-start values: log space e^-1, e^2, e^5 (0.37, 7.4, 148); linear -1, 0.5, 2. */
const LOG_STARTS = [-1, 2, 5];
const LINEAR_STARTS = [-1, 0.5, 2];

export function expressionForm(source: string, options: ExpressionFormOptions): Form {
  const ast = parseExpression(source);
  const names = namesIn(ast);
  const variables = names.filter((n) => options.variables.includes(n));
  const paramNames = names.filter((n) => !options.variables.includes(n));
  for (const name of options.linear ?? []) {
    if (!paramNames.includes(name)) {
      throw new LawsOptionError(
        'linear',
        name,
        `a parameter of '${source}': ${paramNames.join(', ') || 'none'}`,
      );
    }
  }
  if (paramNames.length === 0)
    throw new ExpressionError('the expression has no parameters to fit', source, 0);
  if (variables.length === 0) {
    throw new ExpressionError(
      `the expression uses none of the data columns (${options.variables.join(', ')})`,
      source,
      0,
    );
  }
  const linear = new Set(options.linear ?? []);
  const params = paramNames.map((n) =>
    linear.has(n) ? linearParam(n, LINEAR_STARTS) : logParam(n, LOG_STARTS),
  );
  const logSpace = params.map((q) => q.space === 'log');
  const p = params.length;
  return {
    spec: { kind: 'expression', options: { source, variables: [...options.variables], linear: [...linear] } },
    formula: source,
    variables,
    params,
    reads: readsByTerm(ast, variables, paramNames),
    bind(columns, n) {
      const tape = new Tape(ast, variables, paramNames, source);
      const point = new Float64Array(variables.length);
      const natural = new Float64Array(p);
      const grad = new Float64Array(p);
      return {
        n,
        logPredict(theta, out, jac) {
          for (let j = 0; j < p; j++) natural[j] = logSpace[j] ? Math.exp(theta[j]) : theta[j];
          for (let i = 0; i < n; i++) {
            for (let v = 0; v < point.length; v++) point[v] = columns[v][i];
            if (jac) grad.fill(0);
            const value = tape.evaluate(natural, point, jac ? grad : undefined);
            // log of a non-positive prediction is undefined: NaN makes the objective Infinity.
            out[i] = value > 0 ? Math.log(value) : Number.NaN;
            if (jac) {
              // d log f / d theta_j = (df/dx_j) (dx_j/dtheta_j) / f, with dx/dtheta = x in log space.
              for (let j = 0; j < p; j++) jac[i * p + j] = (grad[j] * (logSpace[j] ? natural[j] : 1)) / value;
            }
          }
        },
      };
    },
  };
}

/** A parameter reads the variables of the top-level additive terms it appears in ("E + A/N^alpha": A -> N). */
function readsByTerm(
  ast: Expr,
  variables: readonly string[],
  paramNames: readonly string[],
): Record<string, string[]> {
  const terms: Expr[] = [];
  const split = (e: Expr) => {
    if (e.kind === 'binary' && (e.op === '+' || e.op === '-')) {
      split(e.left);
      split(e.right);
    } else terms.push(e);
  };
  split(ast);
  const reads: Record<string, string[]> = Object.fromEntries(paramNames.map((q) => [q, []]));
  for (const term of terms) {
    const names = namesIn(term);
    const vars = names.filter((n) => variables.includes(n));
    for (const q of names.filter((n) => paramNames.includes(n))) {
      reads[q] = [...new Set([...reads[q], ...vars])];
    }
  }
  return reads;
}
