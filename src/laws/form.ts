// One interface for every law: built-in forms and user expressions alike.
//
// The optimizer works on an internal vector theta. A parameter in 'log' space is stored as its
// logarithm (so A = e^a stays positive, exactly as Epoch's LSE parametrization does), a 'linear' one
// as itself. Forms predict the LOG of the loss, because the fit is Huber on log-loss residuals.

import { LawsInputError, LawsOptionError } from './errors.ts';

export interface ParamSpec {
  /** The name users see: A, alpha, gamma_w. */
  readonly name: string;
  readonly space: 'log' | 'linear';
  /** Bounds on the internal variable; -Infinity / Infinity for none. */
  readonly lower: number;
  readonly upper: number;
  /** Multi-start grid for this parameter, in internal space. */
  readonly starts: readonly number[];
}

/** A form bound to the columns of one dataset (it may precompute logs once, outside the hot loop). */
export interface BoundForm {
  readonly n: number;
  /**
   * out[i] = log(predicted loss) at point i. If `jac` is given, jac[i * p + j] = d out[i] / d theta[j].
   * Must not allocate: it runs millions of times per fit.
   */
  logPredict(theta: Float64Array, out: Float64Array, jac?: Float64Array): void;
}

/** Enough to rebuild a form from a fit file: its kind plus options. */
export interface FormSpec {
  readonly kind: string;
  readonly options?: Readonly<Record<string, unknown>>;
  /** Parameter constraints applied on top (see constrain.ts). */
  readonly tie?: readonly (readonly string[])[];
  readonly fix?: Readonly<Record<string, number>>;
}

export interface Form {
  readonly spec: FormSpec;
  /** Human-readable formula, e.g. "E + A/N^alpha + B/D^beta". */
  readonly formula: string;
  /** Dataset columns the form reads, in the order bind() expects them. */
  readonly variables: readonly string[];
  readonly params: readonly ParamSpec[];
  /**
   * Which variables each parameter acts through (e.g. alpha -> N, gamma_w -> Pw; E -> none). The design
   * diagnostics use it to name the parameters a collinear or constant column leaves unidentified.
   */
  readonly reads: Readonly<Record<string, readonly string[]>>;
  bind(columns: readonly Float64Array[], n: number): BoundForm;
}

export function toInternal(spec: ParamSpec, value: number): number {
  return spec.space === 'log' ? Math.log(value) : value;
}

export function fromInternal(spec: ParamSpec, internal: number): number {
  return spec.space === 'log' ? Math.exp(internal) : internal;
}

export function paramIndex(form: Form, name: string): number {
  const i = form.params.findIndex((p) => p.name === name);
  if (i < 0) {
    throw new LawsOptionError('parameter', name, `one of ${form.params.map((p) => p.name).join(', ')}`);
  }
  return i;
}

/** Named natural-unit values of an internal vector. */
export function namedParams(form: Form, theta: ArrayLike<number>): Record<string, number> {
  const out: Record<string, number> = {};
  form.params.forEach((p, j) => {
    out[p.name] = fromInternal(p, theta[j]);
  });
  return out;
}

/** Throws naming the first parameter of `names` that `p` lacks (a fit of another form, say). */
export function requireParams(
  p: Readonly<Record<string, number>>,
  names: readonly string[],
  form: string,
): void {
  const missing = names.find((name) => typeof p[name] !== 'number');
  if (missing !== undefined) {
    throw new LawsInputError(
      `the ${form} law's closed form needs parameter '${missing}'; these parameters are ${Object.keys(p).join(', ')}`,
    );
  }
}

export function logParam(
  name: string,
  starts: readonly number[],
  lower = -Infinity,
  upper = Infinity,
): ParamSpec {
  return { name, space: 'log', lower, upper, starts };
}

export function linearParam(
  name: string,
  starts: readonly number[],
  lower = -Infinity,
  upper = Infinity,
): ParamSpec {
  return { name, space: 'linear', lower, upper, starts };
}

/** Evenly spaced values from `from` to `to` inclusive, like numpy's arange with an inclusive end. */
export function steps(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let k = 0; from + k * step <= to + 1e-12; k++) out.push(from + k * step);
  return out;
}

/** Start grids of the Chinchilla terms A/N^alpha + B/D^beta + E that the precision forms build on. */
export function chinchillaTermParams(): ParamSpec[] {
  return [
    logParam('A', [2, 8]),
    logParam('B', [2, 8]),
    logParam('E', [0, 1]),
    linearParam('alpha', [0.3, 0.6], 0),
    linearParam('beta', [0.3, 0.6], 0),
  ];
}
