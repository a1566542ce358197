// File input/output for the laws module (Node only; the core stays browser-safe).

import { readFileSync } from 'node:fs';
import { LawsInputError } from './errors.ts';
import { type MeasuredThroughput, throughputFromStepBench } from './measured-throughput.ts';
import type { FittedLaw } from './predict.ts';
import type { Table } from './table.ts';
import { parseCsv, parseJsonl } from './table.ts';

/** A runs table from .csv, or .jsonl / .ndjson (one JSON object per line). */
export function readRunsTable(path: string): Table {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LawsInputError(`cannot read runs file '${path}': ${(err as Error).message}`);
  }
  if (/\.(jsonl|ndjson)$/i.test(path)) return parseJsonl(text);
  if (/\.csv$/i.test(path)) return parseCsv(text);
  throw new LawsInputError(`runs file '${path}': expected a .csv, .jsonl or .ndjson extension`);
}

export function readFitFile(path: string): FittedLaw {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new LawsInputError(`cannot read fit file '${path}': ${(err as Error).message}`);
  }
  const fit = value as Partial<FittedLaw>;
  if (
    typeof fit !== 'object' ||
    fit === null ||
    typeof fit.form?.kind !== 'string' ||
    !Array.isArray(fit.internal)
  ) {
    throw new LawsInputError(
      `'${path}' is not a fit file: expected "form" and "internal" (written by bitscale fit --out)`,
    );
  }
  return fit as FittedLaw;
}

/** The throughput per format that a training-step benchmark's results file measured (measured-throughput.ts). */
export function readStepBenchThroughput(path: string, shape?: string): MeasuredThroughput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LawsInputError(`cannot read step benchmark results '${path}': ${(err as Error).message}`);
  }
  return throughputFromStepBench(text, path, shape);
}
