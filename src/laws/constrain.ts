// Tie and fix parameters of any form, e.g. alpha = beta as Kumar et al. fit, or E held at a known value.
// The result is again a Form: tied parameters share one internal variable (their gradients add up),
// fixed ones disappear from the optimizer's vector.

import { LawsOptionError } from './errors.ts';
import type { BoundForm, Form, ParamSpec } from './form.ts';
import { paramIndex, toInternal } from './form.ts';

export interface Constraints {
  /** Groups of parameter names that must be equal; the first name of a group is the one reported. */
  readonly tie?: readonly (readonly string[])[];
  /** Parameters held at a value (natural units). */
  readonly fix?: Readonly<Record<string, number>>;
}

export function constrainForm(form: Form, constraints: Constraints): Form {
  const tie = constraints.tie ?? [];
  const fix = constraints.fix ?? {};
  if (tie.length === 0 && Object.keys(fix).length === 0) return form;
  const full = form.params.length;
  // source[j] = index into the reduced vector for full parameter j, or -1 if fixed.
  const source = new Int32Array(full).fill(-2);
  const fixedInternal = new Float64Array(full);
  for (const [name, value] of Object.entries(fix)) {
    const j = paramIndex(form, name);
    const spec = form.params[j];
    if (!(Number.isFinite(value) && (spec.space === 'linear' || value > 0))) {
      throw new LawsOptionError(
        `fix.${name}`,
        value,
        spec.space === 'log' ? 'a finite positive number' : 'a finite number',
      );
    }
    source[j] = -1;
    fixedInternal[j] = toInternal(spec, value);
  }
  const params: ParamSpec[] = [];
  const leaderOf = new Int32Array(full).fill(-1);
  for (const group of tie) {
    const members = group.map((name) => paramIndex(form, name));
    const lead = members[0];
    for (const j of members) {
      if (source[j] === -1)
        throw new LawsOptionError(
          'tie',
          group,
          `parameters that are not also fixed ('${form.params[j].name}' is fixed)`,
        );
      if (leaderOf[j] >= 0)
        throw new LawsOptionError(
          'tie',
          group,
          `each parameter in at most one group ('${form.params[j].name}' repeats)`,
        );
      if (form.params[j].space !== form.params[lead].space) {
        throw new LawsOptionError('tie', group, 'parameters in the same space (all log or all linear)');
      }
      leaderOf[j] = lead;
    }
  }
  for (let j = 0; j < full; j++) {
    if (source[j] === -1 || (leaderOf[j] >= 0 && leaderOf[j] !== j)) continue;
    source[j] = params.length;
    params.push(form.params[j]);
  }
  for (let j = 0; j < full; j++) if (leaderOf[j] >= 0 && leaderOf[j] !== j) source[j] = source[leaderOf[j]];
  const p = params.length;
  // A tied group reads what its members read; fixed parameters read nothing the fit could move.
  const reads: Record<string, string[]> = {};
  for (let j = 0; j < full; j++) {
    if (source[j] < 0) continue;
    const lead = form.params[leaderOf[j] >= 0 ? leaderOf[j] : j].name;
    reads[lead] = [...new Set([...(reads[lead] ?? []), ...(form.reads[form.params[j].name] ?? [])])];
  }

  return {
    spec: { ...form.spec, tie: tie.map((g) => [...g]), fix: { ...fix } },
    formula: form.formula,
    variables: form.variables,
    params,
    reads,
    bind(columns, n): BoundForm {
      const inner = form.bind(columns, n);
      const thetaFull = Float64Array.from(fixedInternal);
      const jacFull = new Float64Array(n * full);
      return {
        n,
        logPredict(theta, out, jac) {
          for (let j = 0; j < full; j++) if (source[j] >= 0) thetaFull[j] = theta[source[j]];
          if (!jac) return inner.logPredict(thetaFull, out);
          inner.logPredict(thetaFull, out, jacFull);
          jac.fill(0, 0, n * p);
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < full; j++)
              if (source[j] >= 0) jac[i * p + source[j]] += jacFull[i * full + j];
          }
        },
      };
    },
  };
}
