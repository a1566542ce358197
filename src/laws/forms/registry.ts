// Forms by name (what the CLI's --form takes) and by spec (what a fit file stores).

import type { Constraints } from '../constrain.ts';
import { constrainForm } from '../constrain.ts';
import { KNOWN_VARIABLES } from '../dataset.ts';
import { LawsOptionError } from '../errors.ts';
import type { Form, FormSpec } from '../form.ts';
import { chinchillaForm } from './chinchilla.ts';
import { efficiencyForm } from './efficiency.ts';
import { expressionForm } from './expression.ts';
import { floatForm } from './float.ts';
import type { KaplanVariable } from './kaplan.ts';
import { kaplanForm } from './kaplan.ts';
import type { Part } from './kumar.ts';
import { kumarForm } from './kumar.ts';
import { qatForm } from './qat.ts';
import { twoPhaseForm } from './two-phase.ts';

export const FORM_NAMES = [
  'chinchilla',
  'kaplan',
  'kaplan:N',
  'kaplan:D',
  'kaplan:C',
  'precision',
  'ptq',
  'unified',
  'efficiency',
  'float',
  'float:EM',
  'qat',
  'two-phase',
];

export interface FormChoice extends Constraints {
  /** Training-precision parts for the Kumar forms. */
  readonly parts?: readonly Part[];
  /** Columns an expression may use as variables; default the canonical names. */
  readonly variables?: readonly string[];
  /** Expression parameters fitted in linear space. */
  readonly linear?: readonly string[];
  /** Training precisions (bits of Pw) of the efficiency form: one efficiency factor each. */
  readonly levels?: readonly number[];
}

/**
 * A built-in name (chinchilla, kaplan[:N|D|C], precision, ptq, unified, efficiency, float[:EM], qat,
 * two-phase) or an expression.
 */
export function formByName(name: string, choice: FormChoice = {}): Form {
  const trimmed = name.trim();
  let form: Form;
  if (trimmed === 'chinchilla') form = chinchillaForm();
  else if (trimmed === 'kaplan' || trimmed.startsWith('kaplan:')) {
    form = kaplanForm((trimmed.split(':')[1] ?? 'N') as KaplanVariable);
  } else if (trimmed === 'precision' || trimmed === 'ptq' || trimmed === 'unified') {
    form = kumarForm(trimmed, { parts: choice.parts });
  } else if (trimmed === 'efficiency') {
    if (!choice.levels) {
      throw new LawsOptionError(
        'levels',
        undefined,
        "the distinct training precisions (Pw) of the runs, for 'efficiency'",
      );
    }
    form = efficiencyForm(choice.levels);
  } else if (trimmed === 'float' || trimmed === 'float:EM') form = floatForm({ block: trimmed === 'float' });
  else if (trimmed === 'qat') form = qatForm();
  else if (trimmed === 'two-phase') form = twoPhaseForm();
  else if (/^[A-Za-z_][A-Za-z0-9_:]*$/.test(trimmed) && !/[+\-*/^(]/.test(trimmed)) {
    throw new LawsOptionError(
      'form',
      name,
      `one of ${FORM_NAMES.join(', ')}, or an expression such as 'E + A/N^alpha'`,
    );
  } else {
    form = expressionForm(trimmed, { variables: choice.variables ?? KNOWN_VARIABLES, linear: choice.linear });
  }
  return constrainForm(form, choice);
}

export function formFromSpec(spec: FormSpec): Form {
  const options = spec.options ?? {};
  const constraints = { tie: spec.tie, fix: spec.fix };
  switch (spec.kind) {
    case 'chinchilla':
      return constrainForm(chinchillaForm(), constraints);
    case 'kaplan':
      return constrainForm(kaplanForm(options.variable as KaplanVariable), constraints);
    case 'precision':
    case 'ptq':
    case 'unified':
      return constrainForm(kumarForm(spec.kind, { parts: options.parts as Part[] }), constraints);
    case 'efficiency':
      return constrainForm(efficiencyForm(options.levels as (number | null)[]), constraints);
    case 'float':
      return constrainForm(floatForm({ block: options.block !== false }), constraints);
    case 'qat':
      return constrainForm(qatForm(), constraints);
    case 'two-phase':
      return constrainForm(twoPhaseForm(), constraints);
    case 'expression':
      return constrainForm(
        expressionForm(String(options.source), {
          variables: options.variables as string[],
          linear: options.linear as string[],
        }),
        constraints,
      );
    default:
      throw new LawsOptionError(
        'form.kind',
        spec.kind,
        'chinchilla, kaplan, precision, ptq, unified, efficiency, float, qat, two-phase or expression',
      );
  }
}
