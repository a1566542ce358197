// Can the data pin a parameter down at all? Look at the columns of the Jacobian of log-predictions
// (training points only): a parameter whose column is (near) zero, or (near) a combination of the
// columns before it, moves the predictions in no direction the other parameters cannot. Typical cause:
// a constant column, e.g. every run trained at the same precision, so gamma_w has nothing to fit.

import type { Form } from './form.ts';

const RELATIVE_TOLERANCE = 1e-6;

export function identifiabilityWarnings(
  form: Form,
  columns: readonly Float64Array[],
  n: number,
  weights: Float64Array,
  theta: Float64Array,
): string[] {
  const p = form.params.length;
  const jac = new Float64Array(n * p);
  form.bind(columns, n).logPredict(theta, new Float64Array(n), jac);
  // Modified Gram-Schmidt over parameter columns, training rows only.
  const basis: Float64Array[] = [];
  const warnings: string[] = [];
  for (let j = 0; j < p; j++) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = weights[i] > 0 ? jac[i * p + j] : 0;
    const norm0 = norm2(v);
    for (const u of basis) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += u[i] * v[i];
      for (let i = 0; i < n; i++) v[i] -= dot * u[i];
    }
    const norm = norm2(v);
    const name = form.params[j].name;
    if (!(norm0 > 0) || !Number.isFinite(norm0)) {
      warnings.push(`${name} cannot be identified: the predictions do not depend on it at the optimum`);
    } else if (norm <= RELATIVE_TOLERANCE * norm0) {
      warnings.push(
        `${name} cannot be identified: its effect on the predictions is matched by ${form.params
          .slice(0, j)
          .map((q) => q.name)
          .join(', ')} (is a column constant?)`,
      );
    } else {
      basis.push(v.map((x) => x / norm));
    }
  }
  return warnings;
}

function norm2(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}
