// `bitscale inspect`: what a checkpoint holds — every tensor (or quantized layer) with its dtype or format,
// shape, parameters and bits per parameter — for safetensors (plain, int-codes/1, OneBit packed) and GGUF.
// Only headers are read, so a multi-gigabyte file is inspected in milliseconds.
import { readSafetensorsHeader, type SafetensorsEntry } from '../io/safetensors.ts';
import { PACKED_LAYOUT } from '../onebit/packed-file.ts';
import { ggmlTypes, readGgufHeader } from './gguf.ts';
import { INT_LAYOUT } from './int-file.ts';

export interface InspectRow {
  name: string;
  /** A dtype (F32, BF16), a ggml type (Q4_0) or a quantized format (int4 g32, ternary2). */
  format: string;
  shape: number[];
  parameters: number;
  bytes: number;
  bitsPerParameter: number;
}

export interface Inspection {
  path: string;
  kind: string;
  rows: InspectRow[];
  parameters: number;
  bytes: number;
  bitsPerParameter: number;
  metadata: Record<string, string>;
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const row = (name: string, format: string, shape: number[], bytes: number): InspectRow => ({
  name,
  format,
  shape,
  parameters: count(shape),
  bytes,
  bitsPerParameter: count(shape) === 0 ? 0 : (bytes * 8) / count(shape),
});

export function inspectFile(path: string): Inspection {
  const { kind, rows, metadata } = path.endsWith('.gguf') ? inspectGguf(path) : inspectSafetensors(path);
  const parameters = rows.reduce((n, r) => n + r.parameters, 0);
  const bytes = rows.reduce((n, r) => n + r.bytes, 0);
  return {
    path,
    kind,
    rows,
    parameters,
    bytes,
    bitsPerParameter: parameters ? (bytes * 8) / parameters : 0,
    metadata,
  };
}

function inspectSafetensors(path: string) {
  const header = readSafetensorsHeader(path);
  const { metadata } = header;
  const layout = metadata['bitscale.layout'];
  const entries = new Map(header.entries.map((e) => [e.name, e]));
  const used = new Set<string>();
  const rows: InspectRow[] = [];
  const size = (e: SafetensorsEntry | undefined) => (e ? e.to - e.from : 0);
  const layers = (prefix: string, parts: string[], describe: (info: Record<string, unknown>) => string) => {
    for (const [key, value] of Object.entries(metadata)) {
      if (!key.startsWith(prefix)) continue;
      const name = key.slice(prefix.length);
      const info = JSON.parse(value) as Record<string, unknown>;
      let bytes = 0;
      for (const p of parts) {
        bytes += size(entries.get(`${name}.${p}`));
        used.add(`${name}.${p}`);
      }
      rows.push(row(name, describe(info), info.shape as number[], bytes));
    }
  };
  if (layout === INT_LAYOUT)
    layers('bitscale.int.', ['codes', 'scales', 'zero_points'], (i) => {
      const [, cols] = i.shape as number[];
      const g = i.group_size === cols ? 'per-channel' : `g${i.group_size}`;
      return `int${i.bits} ${i.symmetric ? 'sym' : 'asym'} ${g}`;
    });
  if (layout === PACKED_LAYOUT) layers('bitscale.packed.', ['codes', 'g', 'h'], (i) => String(i.format));
  for (const e of header.entries)
    if (!used.has(e.name)) rows.push(row(e.name, e.dtype, e.shape, e.to - e.from));
  const shown = Object.fromEntries(
    Object.entries(metadata).filter(
      ([k]) =>
        !k.startsWith('bitscale.int.') &&
        !k.startsWith('bitscale.packed.') &&
        k !== 'bitscale.tokenizer_json',
    ),
  );
  return { kind: `safetensors${layout ? ` (${layout})` : ''}`, rows, metadata: shown };
}

function inspectGguf(path: string) {
  const file = readGgufHeader(path);
  const rows = file.tensors.map((t) =>
    row(t.name, ggmlTypes[t.type]?.name ?? `type ${t.type}`, [...t.dims].reverse(), t.bytes),
  );
  const metadata: Record<string, string> = {};
  for (const [key, v] of file.metadata)
    metadata[key] = v.type === 'array' ? `[${v.itemType} x ${v.values.length}]` : String(v.value);
  return { kind: `gguf v${file.version}`, rows, metadata };
}

/** The inspection as text: one line per tensor, then the totals. */
export function formatInspection(i: Inspection): string {
  const lines = [`${i.path}: ${i.kind}, ${i.rows.length} tensors`];
  const width = Math.max(...i.rows.map((r) => r.name.length), 4);
  for (const r of i.rows)
    lines.push(
      `  ${r.name.padEnd(width)}  ${r.format.padEnd(18)} [${r.shape.join(', ')}]`.padEnd(width + 44) +
        `${r.bitsPerParameter.toFixed(3)} bits/param`,
    );
  lines.push(
    `  total: ${i.parameters.toLocaleString()} parameters, ${i.bytes.toLocaleString()} bytes, ${i.bitsPerParameter.toFixed(3)} bits/param`,
  );
  return lines.join('\n');
}
