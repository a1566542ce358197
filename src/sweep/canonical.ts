// Content addressing: a config's identity is the sha256 of its canonical JSON (keys sorted, no spaces).
// Two configs that differ only in key order get the same id; any change in a value gets a new one.

import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every depth. Rejects values JSON cannot represent faithfully. */
export function canonicalJson(value: unknown, path = 'config'): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} is not a finite number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, `${path}.${k}`)}`).join(',')}}`;
  }
  throw new TypeError(`${path}: a ${typeof value} cannot be part of a config (allowed: JSON values)`);
}

/** Short content id: the first 16 hex digits (64 bits) of sha256 over the canonical JSON. */
export function contentId(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}
