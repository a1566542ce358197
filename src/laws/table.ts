// Runs tables as text: CSV (RFC 4180 quoting) and JSON Lines, to records. Pure string handling so it
// runs in a browser; io-node.ts adds the file system.

import type { Row } from './dataset.ts';
import { LawsInputError } from './errors.ts';

export interface Table {
  readonly records: Row[];
  /** 1-based source line of each record, for error messages. */
  readonly lines: number[];
}

export function parseCsv(text: string): Table {
  const rows = splitCsv(text);
  if (rows.length === 0) throw new LawsInputError('the CSV is empty: expected a header line');
  const [header, ...body] = rows;
  const names = header.fields.map((h) => h.trim());
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name))
      throw new LawsInputError(
        `line ${header.line}: the column '${name}' appears twice in the header`,
        header.line,
        name,
      );
    seen.add(name);
  }
  const records: Row[] = [];
  const lines: number[] = [];
  for (const { fields, line } of body) {
    if (fields.length === 1 && fields[0].trim() === '') continue; // blank line
    if (fields.length !== names.length) {
      throw new LawsInputError(
        `line ${line}: ${fields.length} fields, but the header has ${names.length}`,
        line,
      );
    }
    const record: Record<string, string> = {};
    names.forEach((name, k) => {
      setOwn(record, name, fields[k]);
    });
    records.push(record);
    lines.push(line);
  }
  return { records, lines };
}

function splitCsv(text: string): { fields: string[]; line: number }[] {
  const out: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let k = 0; k < text.length; k++) {
    const ch = text[k];
    if (quoted) {
      if (ch === '"' && text[k + 1] === '"') {
        field += '"';
        k++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[k + 1] === '\n') k++;
      fields.push(field);
      out.push({ fields, line: start });
      fields = [];
      field = '';
      line++;
      start = line;
    } else field += ch;
  }
  if (quoted) throw new LawsInputError(`line ${start}: a quoted field is never closed`, start);
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    out.push({ fields, line: start });
  }
  return out;
}

export function parseJsonl(text: string): Table {
  const records: Row[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((raw, k) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new LawsInputError(`line ${k + 1}: not valid JSON (${(err as Error).message})`, k + 1);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new LawsInputError(`line ${k + 1}: expected a JSON object per line`, k + 1);
    }
    records.push(flatten(value as Record<string, unknown>, k + 1));
    lines.push(k + 1);
  });
  return { records, lines };
}

/** Deeper than any runs table nests; the bound keeps a hostile line off the stack limit. */
const MAX_NESTING = 32;

/** Nested objects become dotted keys ({"metrics": {"loss": 3}} -> "metrics.loss"), so columns can be mapped. */
function flatten(
  obj: Record<string, unknown>,
  line: number,
  prefix = '',
  out: Record<string, unknown> = {},
  depth = 0,
): Record<string, unknown> {
  if (depth > MAX_NESTING)
    throw new LawsInputError(`line ${line}: objects nest deeper than ${MAX_NESTING} levels`, line);
  for (const [key, value] of Object.entries(obj)) {
    const name = prefix + key;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      flatten(value as Record<string, unknown>, line, `${name}.`, out, depth + 1);
    } else setOwn(out, name, value);
  }
  return out;
}

/** An own property even for a column named __proto__ (plain assignment would set the prototype). */
function setOwn(record: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
