// The points a law is fitted to: one Float64Array per variable plus the observed loss.
// Validation happens here, once, so the hot loops downstream can trust every number.

import { LawsInputError } from './errors.ts';

/** Canonical variable names: parameters, tokens, compute, and training / post-training precisions (bits). */
export const KNOWN_VARIABLES = ['N', 'D', 'C', 'Pw', 'Pa', 'Pkv', 'Ppost'] as const;

/** Exponent and mantissa bits of the float law may be 0 (a format without mantissa bits). */
export function mayBeZero(name: string): boolean {
  return name === 'E' || name === 'M';
}

/** Precision columns may be +Infinity, meaning "not quantized" (full precision). */
export function isPrecisionVariable(name: string): boolean {
  return name === 'Pw' || name === 'Pa' || name === 'Pkv' || name === 'Ppost';
}

export interface Dataset {
  readonly n: number;
  readonly columns: Readonly<Record<string, Float64Array>>;
  readonly loss: Float64Array;
  /** Source row (file line, or 1-based record index) of each point, for errors and residual reports. */
  readonly rows: readonly number[];
}

export type Row = Readonly<Record<string, unknown>>;

/**
 * Build a dataset from records. `columns` maps each variable the form needs to the record key holding it,
 * `lossKey` names the loss column. Every value must be a finite positive number (precisions may also be
 * +Infinity); the error names the row and the column otherwise.
 */
export function datasetFromRows(
  records: readonly Row[],
  variables: readonly string[],
  options: {
    columns?: Readonly<Record<string, string>>;
    lossKey?: string;
    rowNumbers?: readonly number[];
  } = {},
): Dataset {
  const keyOf = (v: string) => options.columns?.[v] ?? v;
  const lossKey = options.lossKey ?? options.columns?.loss ?? 'loss';
  const rowOf = (i: number) => options.rowNumbers?.[i] ?? i + 1;
  if (records.length > 0) {
    const present = new Set(Object.keys(records[0]));
    for (const key of [...variables.map(keyOf), lossKey]) {
      if (!present.has(key)) {
        throw new LawsInputError(
          `column '${key}' is missing; the data has columns: ${[...present].join(', ')}`,
          undefined,
          key,
        );
      }
    }
  }
  const columns: Record<string, Float64Array> = {};
  for (const v of variables) columns[v] = new Float64Array(records.length);
  const loss = new Float64Array(records.length);
  records.forEach((record, i) => {
    const row = rowOf(i);
    for (const v of variables)
      columns[v][i] = readPositive(record, keyOf(v), row, isPrecisionVariable(v), mayBeZero(v));
    loss[i] = readPositive(record, lossKey, row, false);
  });
  return { n: records.length, columns, loss, rows: records.map((_, i) => rowOf(i)) };
}

/**
 * Bits of the number formats a precision column may name instead of a number (fp32 counts as 32 bits, as
 * the study writes it; intN / fpN / uintN name any width). Anything else is an error naming row and column.
 */
export function formatBits(name: string): number | undefined {
  const t = name.trim().toLowerCase();
  const fixed: Record<string, number> = {
    bf16: 16,
    tf32: 19,
    fp8_e4m3: 8,
    fp8_e5m2: 8,
    e4m3: 8,
    e5m2: 8,
    mxfp4: 4,
    nvfp4: 4,
  };
  if (t in fixed) return fixed[t];
  const m = /^(?:u?int|fp)(\d{1,2})$/.exec(t);
  return m && Number(m[1]) >= 1 && Number(m[1]) <= 64 ? Number(m[1]) : undefined;
}

function readPositive(
  record: Row,
  key: string,
  row: number,
  infinityAllowed: boolean,
  zeroAllowed = false,
): number {
  const raw = record[key];
  if (
    infinityAllowed &&
    typeof raw === 'string' &&
    /^[a-z]/i.test(raw.trim()) &&
    !/^\+?inf/i.test(raw.trim())
  ) {
    const bits = formatBits(raw);
    if (bits === undefined) {
      throw new LawsInputError(
        `row ${row}, column '${key}': ${JSON.stringify(raw)} is not a known number format (intN, uintN, fpN, bf16, tf32, e4m3, e5m2, mxfp4, nvfp4), a number of bits, or inf`,
        row,
        key,
      );
    }
    return bits;
  }
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseNumber(raw) : Number.NaN;
  const ok =
    (value > 0 || (zeroAllowed && value === 0)) &&
    (Number.isFinite(value) || (infinityAllowed && value === Number.POSITIVE_INFINITY));
  if (!ok) {
    const allowed = infinityAllowed
      ? 'a positive number or inf'
      : zeroAllowed
        ? 'a finite number >= 0'
        : 'a finite positive number';
    throw new LawsInputError(
      `row ${row}, column '${key}': ${JSON.stringify(raw)} is not ${allowed}`,
      row,
      key,
    );
  }
  return value;
}

function parseNumber(text: string): number {
  const t = text.trim().toLowerCase();
  if (t === 'inf' || t === '+inf' || t === 'infinity') return Number.POSITIVE_INFINITY;
  return t === '' ? Number.NaN : Number(t);
}

/** The subset of points at the given indices (repeats allowed). */
export function selectPoints(data: Dataset, indices: readonly number[]): Dataset {
  const columns: Record<string, Float64Array> = {};
  for (const [name, col] of Object.entries(data.columns))
    columns[name] = Float64Array.from(indices, (i) => col[i]);
  return {
    n: indices.length,
    columns,
    loss: Float64Array.from(indices, (i) => data.loss[i]),
    rows: indices.map((i) => data.rows[i]),
  };
}
