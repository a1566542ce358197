// Can this design separate the parameters of this form at all? Checked on the data, before fitting, in log
// space (the laws are power laws): a variable that never varies, or two variables that move together
// (D = 100 N on every run; Pw = Pa on every run), leave the parameters acting only through them unidentified.
// The fit refuses such a design by default (or only warns, if asked), naming the variables and the
// parameters, so nobody reads a bootstrap standard error of 1e-15 on a parameter the data cannot see.

import type { Form } from './form.ts';

/** |correlation| of two log columns above which they count as one direction of the design. */
export const COLLINEAR = 0.999;
/** Above this the pair is reported as nearly collinear (a warning, never a refusal). */
export const NEARLY_COLLINEAR = 0.98;

export interface DesignIssue {
  readonly kind: 'constant' | 'collinear' | 'nearly-collinear';
  readonly variables: readonly string[];
  /** Free parameters the data cannot separate because of it (may be empty: then it is harmless). */
  readonly params: readonly string[];
  readonly message: string;
}

/**
 * Design issues among the form's variables over the training rows (weight > 0). Precisions of +Infinity
 * (unquantized) are read as 64 bits, beyond any format, so a column mixing fp32 and int4 still varies.
 */
export function designIssues(
  form: Form,
  columns: readonly Float64Array[],
  weights: Float64Array,
): DesignIssue[] {
  const rows = [...weights.keys()].filter((i) => weights[i] > 0);
  // A column holding zeros (mantissa bits of the float law) is read as log(x + 0.5), as that law reads it.
  const logs = columns.map((col) => {
    const shift = rows.some((i) => col[i] === 0) ? 0.5 : 0;
    return rows.map((i) =>
      Math.log((Number.isFinite(col[i]) ? col[i] : Math.max(64, 2 * finiteMax(col))) + shift),
    );
  });
  const readers = (v: string) => form.params.map((q) => q.name).filter((q) => form.reads[q]?.includes(v));
  const issues: DesignIssue[] = [];
  const constant = new Set<number>();
  form.variables.forEach((_, k) => {
    if (spread(logs[k]) > 1e-9) return;
    constant.add(k);
  });
  // A parameter is lost when every variable it acts through is constant (alpha still has N when Pw is fixed).
  form.variables.forEach((v, k) => {
    if (!constant.has(k)) return;
    const params = readers(v).filter((q) =>
      form.reads[q].every((u) => constant.has(form.variables.indexOf(u))),
    );
    if (params.length === 0) return;
    issues.push({
      kind: 'constant',
      variables: [v],
      params,
      message: `${v} never varies (${fmt(columns[k][rows[0]])} on every run): ${params.join(', ')} cannot be separated from the other parameters`,
    });
  });
  for (let a = 0; a < form.variables.length; a++) {
    for (let b = a + 1; b < form.variables.length; b++) {
      if (constant.has(a) || constant.has(b)) continue;
      const r = correlation(logs[a], logs[b]);
      if (!(Math.abs(r) > NEARLY_COLLINEAR)) continue;
      const [u, v] = [form.variables[a], form.variables[b]];
      // Parameters acting through exactly one of the two: the data cannot tell them apart.
      const params = form.params
        .map((q) => q.name)
        .filter((q) => (form.reads[q]?.includes(u) ?? false) !== (form.reads[q]?.includes(v) ?? false));
      if (params.length === 0) continue;
      const exact = Math.abs(r) > COLLINEAR;
      issues.push({
        kind: exact ? 'collinear' : 'nearly-collinear',
        variables: [u, v],
        params,
        message: `${u} and ${v} ${exact ? 'move together' : 'nearly move together'} in log space (${relation(u, v, logs[a], logs[b])}, r = ${r.toFixed(4)}): ${params.join(', ')} ${exact ? 'cannot' : 'can barely'} be separated`,
      });
    }
  }
  return issues;
}

/** "D/N = 100 on every run" when the ratio is constant, else the slope of log v on log u. */
function relation(u: string, v: string, lu: readonly number[], lv: readonly number[]): string {
  const ratio = lv.map((x, i) => x - lu[i]);
  if (spread(ratio) < 1e-6) return `${v}/${u} = ${fmt(Math.exp(ratio[0]))} on every run`;
  const mu = mean(lu);
  const mv = mean(lv);
  let num = 0;
  let den = 0;
  lu.forEach((x, i) => {
    num += (x - mu) * (lv[i] - mv);
    den += (x - mu) ** 2;
  });
  return `${v} ∝ ${u}^${fmt(num / den)}`;
}

function correlation(x: readonly number[], y: readonly number[]): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  x.forEach((xi, i) => {
    sxy += (xi - mx) * (y[i] - my);
    sxx += (xi - mx) ** 2;
    syy += (y[i] - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}

const mean = (x: readonly number[]) => x.reduce((s, v) => s + v, 0) / x.length;

function spread(x: readonly number[]): number {
  return x.length === 0 ? 0 : Math.max(...x) - Math.min(...x);
}

function finiteMax(col: Float64Array): number {
  let m = 0;
  for (const v of col) if (Number.isFinite(v) && v > m) m = v;
  return m;
}

function fmt(v: number): string {
  return Number(v.toPrecision(4)).toString();
}
