// A packed OneBit model on disk, as safetensors (src/io/safetensors.ts) with one documented layout:
//
//   metadata "bitscale.layout" = "onebit-packed/1"
//   for every packed linear layer NAME (weight W of shape (rows, cols), y = h ⊙ (S (x ⊙ g))):
//     NAME.codes  U8  [rows, rowBytes]  S packed as in packed.ts (row-major, rows padded to whole bytes,
//                                       LSB first; sign1: bit 1 = +1; ternary2: 0 -> 0, 1 -> +1, 2 -> -1)
//     NAME.g      F16 or F32 [cols]     input value vector
//     NAME.h      F16 or F32 [rows]     output value vector
//     metadata "bitscale.packed.NAME" = {"format":"sign1"|"ternary2","shape":[rows,cols]}
//   every other tensor (embeddings, norms) stored as it is (F32, F16, BF16, ...), counted at its width.
//   optional, for decoding (packed-run.ts writes them): metadata "bitscale.model" = the ModelConfig as JSON,
//   "bitscale.tokenizer" = the run's tokenizer.json (Hugging Face format) as compact JSON text.
//
// Reading checks every packed entry against its data: a codes tensor whose byte length disagrees with the
// metadata's shape and format is a CheckpointError naming the file and the tensor.
import { closeSync, openSync, readSync } from 'node:fs';
import { bf16BitsToF32, f16BitsToF32, f32ToF16Bits } from '../base/half.ts';
import {
  CheckpointError,
  MAX_HEADER_BYTES,
  readSafetensors,
  type SafeTensor,
  writeSafetensors,
} from '../io/safetensors.ts';
import { OneBitError } from './errors.ts';
import { type PackedFormat, type PackedMatrix, packedFormats, rowBytes } from './packed.ts';

export const PACKED_LAYOUT = 'onebit-packed/1';
const layoutKey = 'bitscale.layout';
const packedKey = 'bitscale.packed.';

export type ValueDType = 'F16' | 'F32';

export interface PackedLinear {
  weight: PackedMatrix;
  g: Float32Array; // (cols)
  h: Float32Array; // (rows)
}

export interface PackedModel {
  linears: Map<string, PackedLinear>;
  /** Everything else (embeddings, norms), as stored. */
  dense: Map<string, SafeTensor>;
  /** The file's other metadata (e.g. bitscale.model, bitscale.tokenizer); the layout's own keys excluded. */
  metadata?: Record<string, string>;
}

const bytesPer: Record<string, number> = { F32: 4, I32: 4, BF16: 2, F16: 2, U8: 1 };

function valueTensor(v: Float32Array, dtype: ValueDType): SafeTensor {
  if (dtype === 'F32') return { dtype, shape: [v.length], data: v };
  return { dtype, shape: [v.length], data: Uint16Array.from(v, f32ToF16Bits) };
}

function valueArray(t: SafeTensor): Float32Array {
  if (t.dtype === 'F32') return t.data as Float32Array;
  return Float32Array.from(t.data as Uint16Array, f16BitsToF32);
}

/** A float tensor's values as fp32 (F32 as stored, F16 and BF16 widened exactly). */
export function toF32(t: SafeTensor): Float32Array {
  if (t.dtype === 'F32' || t.dtype === 'F16') return valueArray(t);
  if (t.dtype === 'BF16') return Float32Array.from(t.data as Uint16Array, bf16BitsToF32);
  throw new OneBitError('dtype', t.dtype, 'a float tensor: F32, F16 or BF16');
}

/** Writes the model atomically; g and h in fp16 (OneBit's storage) unless valueDtype says F32. */
export function writePackedModel(
  path: string,
  model: PackedModel,
  options: { valueDtype?: ValueDType; metadata?: Record<string, string> } = {},
): void {
  const { valueDtype = 'F16', metadata = {} } = options;
  const tensors = new Map<string, SafeTensor>();
  const meta: Record<string, string> = { ...model.metadata, ...metadata, [layoutKey]: PACKED_LAYOUT };
  for (const [name, { weight, g, h }] of model.linears) {
    const { format, rows, cols, codes } = weight;
    const rb = rowBytes(cols, format);
    if (codes.length !== rows * rb)
      throw new CheckpointError(
        path,
        `${codes.length} code bytes, ${format} [${rows}, ${cols}] needs ${rows * rb}`,
        `${name}.codes`,
      );
    if (g.length !== cols)
      throw new CheckpointError(path, `length ${g.length}, expected cols = ${cols}`, `${name}.g`);
    if (h.length !== rows)
      throw new CheckpointError(path, `length ${h.length}, expected rows = ${rows}`, `${name}.h`);
    tensors.set(`${name}.codes`, { dtype: 'U8', shape: [rows, rb], data: codes });
    tensors.set(`${name}.g`, valueTensor(g, valueDtype));
    tensors.set(`${name}.h`, valueTensor(h, valueDtype));
    meta[`${packedKey}${name}`] = JSON.stringify({ format, shape: [rows, cols] });
  }
  for (const [name, t] of model.dense) {
    if (tensors.has(name)) throw new CheckpointError(path, 'the name is taken by a packed layer', name);
    tensors.set(name, t);
  }
  writeSafetensors(path, tensors, meta);
}

/** Whether `path` is a safetensors file in this layout (reads the header only; false on any failure). */
export function isPackedFile(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const length = Buffer.alloc(8);
    if (readSync(fd, length, 0, 8, 0) !== 8) return false;
    const n = Number(length.readBigUInt64LE(0));
    if (n > MAX_HEADER_BYTES) return false;
    const header = Buffer.alloc(n);
    if (readSync(fd, header, 0, n, 8) !== n) return false;
    return JSON.parse(header.toString('utf8'))?.__metadata__?.[layoutKey] === PACKED_LAYOUT;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Reads a packed model, checking the layout and every packed entry against its data. */
export function readPackedModel(path: string): PackedModel {
  const { tensors, metadata } = readSafetensors(path);
  const fail = (message: string, tensor?: string): never => {
    throw new CheckpointError(path, message, tensor);
  };
  if (metadata[layoutKey] !== PACKED_LAYOUT)
    fail(`metadata ${layoutKey} is ${JSON.stringify(metadata[layoutKey])}, expected "${PACKED_LAYOUT}"`);
  const linears = new Map<string, PackedLinear>();
  const used = new Set<string>();
  for (const [key, value] of Object.entries(metadata)) {
    if (!key.startsWith(packedKey)) continue;
    const name = key.slice(packedKey.length);
    const { format, rows, cols } = parseEntry(value, (m) => fail(`metadata ${key}: ${m}`, `${name}.codes`));
    const get = (suffix: string): SafeTensor => {
      const t = tensors.get(`${name}${suffix}`);
      if (!t) return fail('missing (the metadata names this packed layer)', `${name}${suffix}`);
      used.add(`${name}${suffix}`);
      return t;
    };
    const codes = get('.codes');
    const rb = rowBytes(cols, format);
    if (codes.dtype !== 'U8') fail(`dtype ${codes.dtype}, packed codes are U8`, `${name}.codes`);
    if (codes.data.length !== rows * rb || codes.shape.length !== 2 || codes.shape[0] !== rows)
      fail(
        `holds ${codes.data.length} bytes (shape [${codes.shape}]), but ${format} [${rows}, ${cols}] needs [${rows}, ${rb}] = ${rows * rb} bytes`,
        `${name}.codes`,
      );
    const g = get('.g');
    const h = get('.h');
    for (const [t, n, suffix] of [
      [g, cols, '.g'],
      [h, rows, '.h'],
    ] as const) {
      if (t.dtype !== 'F16' && t.dtype !== 'F32')
        fail(`dtype ${t.dtype}, value vectors are F16 or F32`, `${name}${suffix}`);
      if (t.data.length !== n)
        fail(
          `holds ${t.data.length} values, the packed shape [${rows}, ${cols}] needs ${n}`,
          `${name}${suffix}`,
        );
    }
    linears.set(name, {
      weight: { format, rows, cols, codes: codes.data as Uint8Array },
      g: valueArray(g),
      h: valueArray(h),
    });
  }
  const dense = new Map([...tensors].filter(([name]) => !used.has(name)));
  // The layout's own keys and the checksum are written afresh by writePackedModel; the rest travels along.
  const rest = Object.entries(metadata).filter(
    ([k]) => k !== layoutKey && k !== 'bitscale.sha256' && !k.startsWith(packedKey),
  );
  return { linears, dense, metadata: Object.fromEntries(rest) };
}

function parseEntry(
  text: string,
  fail: (message: string) => never,
): { format: PackedFormat; rows: number; cols: number } {
  let entry: unknown;
  try {
    entry = JSON.parse(text);
  } catch {
    return fail(`not JSON: ${text.slice(0, 60)}`);
  }
  const { format, shape } = (entry ?? {}) as { format?: unknown; shape?: unknown };
  if (!packedFormats.includes(format as PackedFormat))
    fail(`format ${JSON.stringify(format)} (allowed: ${packedFormats.join(', ')})`);
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    fail(`shape ${JSON.stringify(shape)} is not [rows, cols]`);
  const [rows, cols] = shape as [number, number];
  return { format: format as PackedFormat, rows, cols };
}

export interface PackedBits {
  /** Bits of every tensor's data, as stored (header excluded). */
  totalBits: number;
  /** Parameters of the full-precision model this one stands for: rows * cols per packed layer (g and h are
   *  the layer's extra storage, not parameters of the original), plus every dense tensor's elements. */
  parameters: number;
  bitsPerParameter: number;
  /** Per packed layer: (codes + g + h bits) / (rows * cols), OneBit's "≈ 1.007 bits" figure. */
  layers: Map<string, number>;
}

/** Exact bits per parameter of a packed model stored with value vectors of `valueDtype`. */
export function packedModelBits(model: PackedModel, valueDtype: ValueDType = 'F16'): PackedBits {
  const valueBits = valueDtype === 'F16' ? 16 : 32;
  let totalBits = 0;
  let parameters = 0;
  const layers = new Map<string, number>();
  for (const [name, { weight }] of model.linears) {
    const { rows, cols, format } = weight;
    const bits = rows * rowBytes(cols, format) * 8 + (rows + cols) * valueBits;
    layers.set(name, rows * cols > 0 ? bits / (rows * cols) : 0);
    totalBits += bits;
    parameters += rows * cols;
  }
  for (const t of model.dense.values()) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    totalBits += n * bytesPer[t.dtype] * 8;
    parameters += n;
  }
  return { totalBits, parameters, bitsPerParameter: parameters > 0 ? totalBits / parameters : 0, layers };
}
