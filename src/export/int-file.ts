// A model with integer-quantized linear layers on disk, as safetensors (src/io/safetensors.ts) with one
// documented layout:
//
//   metadata "bitscale.layout" = "int-codes/1"
//   for every quantized linear layer NAME (weight W of shape (rows, cols), groups of G columns per row):
//     NAME.codes        U8  [rows, rowBytes]  codes in [0, 2^bits), each row packed as one little-endian bit
//                                             stream (numerics/pack.ts: code i at bits [i*b, (i+1)*b), LSB
//                                             first; b = bits for 1, 2, 3, 4 and 8 bits, else 8), rows padded
//                                             to whole bytes
//     NAME.scales       F32 [rows, cols / G]
//     NAME.zero_points  U8  [rows, cols / G]   (symmetric formats: 2^(bits-1))
//     metadata "bitscale.int.NAME" = {"bits":4,"symmetric":true,"group_size":G,"shape":[rows,cols]}
//     W[r, c] = (code[r, c] - zero_points[r, c / G]) * scales[r, c / G], in f32
//   every other tensor (embeddings, norms, biases) as it is (F32).
//
// Reading checks every entry against its metadata (shape, bits, byte lengths, codes in range), so a file
// that does not match is a CheckpointError naming the file and the tensor; written and read back, every
// byte and every dequantized weight is the same.
import { CheckpointError, readSafetensors, type SafeTensor, writeSafetensors } from '../io/safetensors.ts';
import { type PackBits, packBits, unpackBits } from '../numerics/pack.ts';
import type { IntLinear } from './int-codes.ts';

export const INT_LAYOUT = 'int-codes/1';
const layoutKey = 'bitscale.layout';
const intKey = 'bitscale.int.';

export interface IntModel {
  linears: Map<string, IntLinear>;
  dense: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

export const storedBits = (bits: number): PackBits => ([1, 2, 3, 4, 8].includes(bits) ? bits : 8) as PackBits;
export const intRowBytes = (cols: number, bits: number) => Math.ceil((cols * storedBits(bits)) / 8);

export function writeIntModel(
  path: string,
  model: Omit<IntModel, 'metadata'>,
  metadata: Record<string, string> = {},
): void {
  const tensors = new Map<string, SafeTensor>();
  const meta: Record<string, string> = { ...metadata, [layoutKey]: INT_LAYOUT };
  for (const [name, q] of model.linears) {
    const { rows, cols, bits, groupSize } = q;
    const rb = intRowBytes(cols, bits);
    const codes = new Uint8Array(rows * rb);
    for (let r = 0; r < rows; r++)
      codes.set(packBits(q.codes.subarray(r * cols, (r + 1) * cols), storedBits(bits)), r * rb);
    const groups = cols / groupSize;
    tensors.set(`${name}.codes`, { dtype: 'U8', shape: [rows, rb], data: codes });
    tensors.set(`${name}.scales`, { dtype: 'F32', shape: [rows, groups], data: q.scales });
    tensors.set(`${name}.zero_points`, { dtype: 'U8', shape: [rows, groups], data: q.zeros });
    meta[`${intKey}${name}`] = JSON.stringify({
      bits,
      symmetric: q.symmetric,
      group_size: groupSize,
      shape: [rows, cols],
    });
  }
  for (const [name, t] of model.dense) {
    if (tensors.has(name)) throw new CheckpointError(path, 'the name is taken by a quantized layer', name);
    tensors.set(name, t);
  }
  writeSafetensors(path, tensors, meta);
}

export function readIntModel(path: string): IntModel {
  const file = readSafetensors(path);
  const { metadata } = file;
  if (metadata[layoutKey] !== INT_LAYOUT)
    throw new CheckpointError(
      path,
      `metadata ${layoutKey} is ${JSON.stringify(metadata[layoutKey])}, expected "${INT_LAYOUT}"`,
    );
  const linears = new Map<string, IntLinear>();
  const taken = new Set<string>();
  for (const [key, value] of Object.entries(metadata)) {
    if (!key.startsWith(intKey)) continue;
    const name = key.slice(intKey.length);
    const fail = (message: string, tensor = name): never => {
      throw new CheckpointError(path, message, tensor);
    };
    let info: { bits?: unknown; symmetric?: unknown; group_size?: unknown; shape?: unknown };
    try {
      info = JSON.parse(value);
    } catch {
      return fail(`metadata ${key} is not JSON`);
    }
    const { bits, symmetric, group_size: groupSize, shape } = info;
    if (!Number.isInteger(bits) || (bits as number) < 1 || (bits as number) > 8)
      fail(`bits ${JSON.stringify(bits)} is not 1..8`);
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d > 0))
      fail(`shape ${JSON.stringify(shape)} is not [rows, cols]`);
    const [rows, cols] = shape as [number, number];
    if (!Number.isInteger(groupSize) || (groupSize as number) < 1 || cols % (groupSize as number) !== 0)
      fail(`group_size ${JSON.stringify(groupSize)} does not divide cols = ${cols}`);
    const b = bits as number;
    const groups = cols / (groupSize as number);
    const take = (suffix: string, dtype: string, dims: number[]) => {
      const t = file.tensors.get(`${name}.${suffix}`);
      if (!t) return fail('missing', `${name}.${suffix}`);
      if (t.dtype !== dtype || t.shape.join(',') !== dims.join(','))
        fail(`is ${t.dtype} [${t.shape}], the metadata implies ${dtype} [${dims}]`, `${name}.${suffix}`);
      taken.add(`${name}.${suffix}`);
      return t;
    };
    const rb = intRowBytes(cols, b);
    const packed = take('codes', 'U8', [rows, rb]).data as Uint8Array;
    const codes = new Uint8Array(rows * cols);
    for (let r = 0; r < rows; r++)
      codes.set(unpackBits(packed.subarray(r * rb, (r + 1) * rb), storedBits(b), cols), r * cols);
    for (let i = 0; i < codes.length; i++)
      if (codes[i] >= 2 ** b) fail(`code ${codes[i]} at ${i} does not fit ${b} bits`, `${name}.codes`);
    linears.set(name, {
      bits: b,
      symmetric: symmetric === true,
      rows,
      cols,
      groupSize: groupSize as number,
      codes,
      scales: take('scales', 'F32', [rows, groups]).data as Float32Array,
      zeros: take('zero_points', 'U8', [rows, groups]).data as Uint8Array,
    });
  }
  const dense = new Map<string, SafeTensor>();
  for (const [name, t] of file.tensors) if (!taken.has(name)) dense.set(name, t);
  return { linears, dense, metadata };
}
