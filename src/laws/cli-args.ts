// Parsing of the laws CLI's small argument languages (pure, so it is testable without a process).

import { LawsOptionError } from './errors.ts';

/** "N=params" -> ['N', 'params']; the flag name goes into the error. */
export function parseMapping(flag: string, text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) throw new LawsOptionError(flag, text, 'NAME=VALUE');
  return [text.slice(0, eq).trim(), text.slice(eq + 1).trim()];
}

export function parseNumber(flag: string, text: string): number {
  const t = text.trim().toLowerCase();
  const value =
    t === 'inf' || t === 'infinity' ? Number.POSITIVE_INFINITY : t === '' ? Number.NaN : Number(t);
  if (Number.isNaN(value)) throw new LawsOptionError(flag, text, 'a number (1e9, 0.5, inf)');
  return value;
}

/** "1e20,1e21" -> [1e20, 1e21]. */
export function parseNumberList(flag: string, text: string): number[] {
  return text.split(',').map((part) => parseNumber(flag, part));
}

/** Repeatable NAME=VALUE flags to a record of strings. */
export function mappingRecord(flag: string, items: readonly string[]): Record<string, string> {
  return Object.fromEntries(items.map((item) => parseMapping(flag, item)));
}
