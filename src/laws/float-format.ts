// Exponent bits E, mantissa bits M and block size B of a floating-point format name, for the float law:
// fp8_e4m3 -> E 4, M 3; bf16 -> E 8, M 7; mxfp4 -> E 2, M 1, B 32. Names come from the precision list of
// src/numerics (fp32 added, as the study writes it); 'e4m3' / 'E5M2' spell a format by its bits.

import { parseFormat } from '../numerics/spec.ts';
import type { Row } from './dataset.ts';
import { LawsInputError, LawsOptionError } from './errors.ts';

export interface FloatBits {
  readonly E: number;
  readonly M: number;
  /** Elements sharing one scale; undefined when the format has no blocks (per-tensor or cast). */
  readonly B?: number;
}

const IEEE: Record<string, FloatBits> = {
  fp32: { E: 8, M: 23 },
  bf16: { E: 8, M: 7 },
  fp16: { E: 5, M: 10 },
};

/** The bits of a format name, or undefined when it is not a floating-point format. */
export function floatBits(name: string): FloatBits | undefined {
  const t = name.trim().toLowerCase();
  if (Object.hasOwn(IEEE, t)) return IEEE[t];
  const spelled = /^(?:fp\d+_)?e(\d+)m(\d+)$/.exec(t);
  if (spelled) return { E: Number(spelled[1]), M: Number(spelled[2]) };
  try {
    const f = parseFormat(t);
    if (f.kind === 'fp') return { E: f.exponent, M: f.mantissa };
    if (f.kind === 'mx' && f.element.kind === 'fp')
      return { E: f.element.exponent, M: f.element.mantissa, B: f.blockSize };
  } catch {
    // not a numerics format name: fall through
  }
  return undefined;
}

/** E, M (and B when the format has blocks) of a format name given on the command line, as variables. */
export function floatVariables(flag: string, name: string): Record<string, number> {
  const bits = floatBits(name);
  if (!bits) {
    throw new LawsOptionError(flag, name, `a floating-point format: ${FLOAT_FORMATS}`);
  }
  return { E: bits.E, M: bits.M, ...(bits.B !== undefined && { B: bits.B }) };
}

const FLOAT_FORMATS =
  'fp32, bf16, fp16, fp8_e4m3, fp8_e5m2, fp6_e3m2, fp6_e2m3, fp4_e2m1, mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, or eXmY';

/**
 * Records with E, M (and B when `block`) filled from the format name in column `formatKey`, for rows that do
 * not give them. An unknown or non-float name, or a format without blocks when B is needed, is an error naming
 * the row and column.
 */
export function withFloatColumns(
  records: readonly Row[],
  formatKey: string,
  options: { block: boolean; rowNumbers?: readonly number[]; columns?: Readonly<Record<string, string>> },
): Row[] {
  const keyOf = (v: string) => options.columns?.[v] ?? v;
  return records.map((record, i) => {
    const row = options.rowNumbers?.[i] ?? i + 1;
    const needs = (v: string) => record[keyOf(v)] === undefined || record[keyOf(v)] === '';
    if (!needs('E') && !needs('M') && !(options.block && needs('B'))) return record;
    const raw = record[formatKey];
    if (raw === undefined) {
      throw new LawsInputError(
        `row ${row}: no E/M${options.block ? '/B' : ''} columns and no format column '${formatKey}' to derive them from`,
        row,
        formatKey,
      );
    }
    const bits = floatBits(String(raw));
    if (!bits) {
      throw new LawsInputError(
        `row ${row}, column '${formatKey}': ${JSON.stringify(raw)} is not a floating-point format (${FLOAT_FORMATS})`,
        row,
        formatKey,
      );
    }
    if (options.block && needs('B') && bits.B === undefined) {
      throw new LawsInputError(
        `row ${row}, column '${formatKey}': ${JSON.stringify(raw)} has no block size; give a B column (elements per scale) or fit 'float:EM'`,
        row,
        'B',
      );
    }
    return {
      ...record,
      ...(needs('E') && { [keyOf('E')]: bits.E }),
      ...(needs('M') && { [keyOf('M')]: bits.M }),
      ...(options.block && needs('B') && { [keyOf('B')]: bits.B }),
    };
  });
}
