// GGUF v3 (ggml's model file), written and read to the published layout:
//   "GGUF" | u32 version 3 | u64 tensor count | u64 metadata count
//   metadata: string key, u32 value type, value (arrays: u32 item type, u64 count, items)
//   tensor infos: string name, u32 n_dims, u64 dims[n_dims] (ne[0] first: the contiguous dimension),
//                 u32 ggml type, u64 offset into the data section (a multiple of the alignment)
//   zero padding to general.alignment (default 32), then the data section, each tensor padded to it.
// Strings are u64 length + UTF-8 bytes; everything little-endian.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../base/atomic-write.ts';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** gguf_type */
export const GgufType = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;
export type ScalarType = Exclude<keyof typeof GgufType, 'array'>;

export type GgufValue =
  | { type: ScalarType; value: number | bigint | boolean | string }
  | { type: 'array'; itemType: ScalarType; values: (number | bigint | boolean | string)[] };

/** ggml types: block size (values) and bytes per block, for the types bitscale writes and those it can name. */
export const ggmlTypes: Record<number, { name: string; blockSize: number; blockBytes: number }> = {
  0: { name: 'F32', blockSize: 1, blockBytes: 4 },
  1: { name: 'F16', blockSize: 1, blockBytes: 2 },
  2: { name: 'Q4_0', blockSize: 32, blockBytes: 18 },
  3: { name: 'Q4_1', blockSize: 32, blockBytes: 20 },
  6: { name: 'Q5_0', blockSize: 32, blockBytes: 22 },
  7: { name: 'Q5_1', blockSize: 32, blockBytes: 24 },
  8: { name: 'Q8_0', blockSize: 32, blockBytes: 34 },
  9: { name: 'Q8_1', blockSize: 32, blockBytes: 36 },
  10: { name: 'Q2_K', blockSize: 256, blockBytes: 84 },
  11: { name: 'Q3_K', blockSize: 256, blockBytes: 110 },
  12: { name: 'Q4_K', blockSize: 256, blockBytes: 144 },
  13: { name: 'Q5_K', blockSize: 256, blockBytes: 176 },
  14: { name: 'Q6_K', blockSize: 256, blockBytes: 210 },
  15: { name: 'Q8_K', blockSize: 256, blockBytes: 292 },
  24: { name: 'I8', blockSize: 1, blockBytes: 1 },
  25: { name: 'I16', blockSize: 1, blockBytes: 2 },
  26: { name: 'I32', blockSize: 1, blockBytes: 4 },
  27: { name: 'I64', blockSize: 1, blockBytes: 8 },
  28: { name: 'F64', blockSize: 1, blockBytes: 8 },
  30: { name: 'BF16', blockSize: 1, blockBytes: 2 },
  34: { name: 'TQ1_0', blockSize: 256, blockBytes: 54 },
  35: { name: 'TQ2_0', blockSize: 256, blockBytes: 66 },
};
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30, TQ1_0: 34, TQ2_0: 35 } as const;

export interface GgufTensor {
  name: string;
  /** ggml order: dims[0] is the contiguous dimension (a row-major (rows, cols) matrix is [cols, rows]). */
  dims: number[];
  type: number;
  data: Uint8Array;
}

export class GgufError extends Error {
  override name = 'GgufError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

/** Bytes a tensor of that type and ggml dims takes. */
export function ggmlBytes(path: string, name: string, type: number, dims: number[]): number {
  const t = ggmlTypes[type];
  if (!t) throw new GgufError(path, `tensor ${name}: ggml type ${type} is unknown`);
  const n = dims.reduce((a, b) => a * b, 1);
  if (dims[0] % t.blockSize !== 0)
    throw new GgufError(
      path,
      `tensor ${name}: ${t.name} needs rows of whole ${t.blockSize}-value blocks, ne[0] = ${dims[0]}`,
    );
  return (n / t.blockSize) * t.blockBytes;
}

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  private push(b: Uint8Array) {
    this.chunks.push(b);
    this.length += b.length;
  }
  scalar(type: ScalarType, v: number | bigint | boolean | string) {
    if (type === 'string') {
      const bytes = Buffer.from(v as string, 'utf8');
      this.scalar('u64', bytes.length);
      this.push(bytes);
      return;
    }
    const size = { u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8 }[
      type
    ];
    const b = Buffer.alloc(size);
    switch (type) {
      case 'u8':
        b.writeUInt8(v as number);
        break;
      case 'i8':
        b.writeInt8(v as number);
        break;
      case 'bool':
        b.writeUInt8(v ? 1 : 0);
        break;
      case 'u16':
        b.writeUInt16LE(v as number);
        break;
      case 'i16':
        b.writeInt16LE(v as number);
        break;
      case 'u32':
        b.writeUInt32LE(v as number);
        break;
      case 'i32':
        b.writeInt32LE(v as number);
        break;
      case 'f32':
        b.writeFloatLE(v as number);
        break;
      case 'f64':
        b.writeDoubleLE(v as number);
        break;
      case 'u64':
        b.writeBigUInt64LE(BigInt(v as number));
        break;
      case 'i64':
        b.writeBigInt64LE(BigInt(v as number));
        break;
    }
    this.push(b);
  }
  value(v: GgufValue) {
    this.scalar('u32', GgufType[v.type]);
    if (v.type !== 'array') return this.scalar(v.type, v.value);
    this.scalar('u32', GgufType[v.itemType]);
    this.scalar('u64', v.values.length);
    for (const item of v.values) this.scalar(v.itemType, item);
  }
  pad(alignment: number) {
    const n = (alignment - (this.length % alignment)) % alignment;
    if (n) this.push(new Uint8Array(n));
  }
  bytes(b: Uint8Array) {
    this.push(b);
  }
  parts() {
    return this.chunks;
  }
}

/** Writes a GGUF v3 file atomically; metadata in the given order (general.alignment is honoured). */
export function writeGguf(path: string, metadata: [string, GgufValue][], tensors: GgufTensor[]): void {
  const align = metadata.find(([k]) => k === 'general.alignment')?.[1];
  const alignment = align && align.type === 'u32' ? Number(align.value) : GGUF_DEFAULT_ALIGNMENT;
  const w = new Writer();
  w.scalar('u32', GGUF_MAGIC);
  w.scalar('u32', GGUF_VERSION);
  w.scalar('u64', tensors.length);
  w.scalar('u64', metadata.length);
  for (const [key, value] of metadata) {
    w.scalar('string', key);
    w.value(value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const bytes = ggmlBytes(path, t.name, t.type, t.dims);
    if (bytes !== t.data.length)
      throw new GgufError(path, `tensor ${t.name}: ${t.data.length} bytes, its type and dims need ${bytes}`);
    offsets.push(offset);
    offset += Math.ceil(bytes / alignment) * alignment;
  }
  tensors.forEach((t, i) => {
    w.scalar('string', t.name);
    w.scalar('u32', t.dims.length);
    for (const d of t.dims) w.scalar('u64', d);
    w.scalar('u32', t.type);
    w.scalar('u64', offsets[i]);
  });
  w.pad(alignment);
  for (const t of tensors) {
    w.bytes(t.data);
    w.pad(alignment);
  }
  writeFileAtomic(path, w.parts());
}

export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: number;
  /** Offset in the data section, and absolute in the file. */
  offset: number;
  fileOffset: number;
  bytes: number;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  dataStart: number;
  fileSize: number;
}

/** A cursor over a file read in chunks: headers of multi-gigabyte files are read without the data. */
class Reader {
  private buffer = Buffer.alloc(0);
  private start = 0; // file position of buffer[0]
  pos = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
    readonly path: string,
  ) {}
  private need(n: number) {
    if (this.pos + n > this.size)
      throw new GgufError(
        this.path,
        `truncated: reading ${n} bytes at ${this.pos}, the file has ${this.size}`,
      );
    if (this.pos >= this.start && this.pos + n <= this.start + this.buffer.length) return;
    const length = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
    this.buffer = Buffer.alloc(length);
    readSync(this.fd, this.buffer, 0, length, this.pos);
    this.start = this.pos;
  }
  private take(n: number): Buffer {
    this.need(n);
    const at = this.pos - this.start;
    this.pos += n;
    return this.buffer.subarray(at, at + n);
  }
  u32 = () => this.take(4).readUInt32LE(0);
  count(what: string, limit: number): number {
    const v = this.take(8).readBigUInt64LE(0);
    if (v > BigInt(limit)) throw new GgufError(this.path, `${what} ${v} is beyond ${limit} (corrupt file)`);
    return Number(v);
  }
  scalar(type: number): number | bigint | boolean | string {
    switch (type) {
      case 0:
        return this.take(1).readUInt8(0);
      case 1:
        return this.take(1).readInt8(0);
      case 2:
        return this.take(2).readUInt16LE(0);
      case 3:
        return this.take(2).readInt16LE(0);
      case 4:
        return this.take(4).readUInt32LE(0);
      case 5:
        return this.take(4).readInt32LE(0);
      case 6:
        return this.take(4).readFloatLE(0);
      case 7:
        return this.take(1).readUInt8(0) !== 0;
      case 8: {
        const n = this.count('string length', this.size);
        return this.take(n).toString('utf8');
      }
      case 10:
        return this.take(8).readBigUInt64LE(0);
      case 11:
        return this.take(8).readBigInt64LE(0);
      case 12:
        return this.take(8).readDoubleLE(0);
      default:
        throw new GgufError(this.path, `value type ${type} at byte ${this.pos - 4} is unknown`);
    }
  }
}

const scalarNames = Object.fromEntries(Object.entries(GgufType).map(([k, v]) => [v, k])) as Record<
  number,
  ScalarType
>;

/** Reads a GGUF file's header, metadata and tensor infos (no tensor data), checking every offset and size. */
export function readGgufHeader(path: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new GgufError(path, `cannot read (${(e as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    const r = new Reader(fd, size, path);
    const magic = r.u32();
    if (magic !== GGUF_MAGIC) throw new GgufError(path, `magic 0x${magic.toString(16)} is not "GGUF"`);
    const version = r.u32();
    if (version !== 3 && version !== 2)
      throw new GgufError(path, `version ${version} is not supported (2 or 3)`);
    const tensorCount = r.count('tensor count', 1 << 24);
    const kvCount = r.count('metadata count', 1 << 24);
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = r.scalar(8) as string;
      const type = r.u32();
      if (type === GgufType.array) {
        const itemType = r.u32();
        if (itemType === GgufType.array)
          throw new GgufError(path, `metadata ${key}: nested arrays are not supported`);
        const n = r.count(`metadata ${key} length`, size);
        const values = Array.from({ length: n }, () => r.scalar(itemType));
        metadata.set(key, { type: 'array', itemType: scalarNames[itemType], values });
      } else {
        metadata.set(key, { type: scalarNames[type] ?? 'u8', value: r.scalar(type) });
      }
    }
    const align = metadata.get('general.alignment');
    const alignment = align && align.type !== 'array' ? Number(align.value) : GGUF_DEFAULT_ALIGNMENT;
    if (!(Number.isInteger(alignment) && alignment > 0 && (alignment & (alignment - 1)) === 0))
      throw new GgufError(path, `general.alignment ${alignment} is not a power of two`);
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = r.scalar(8) as string;
      const nDims = r.u32();
      if (nDims < 1 || nDims > 4)
        throw new GgufError(path, `tensor ${name}: ${nDims} dimensions (1..4 allowed)`);
      const dims = Array.from({ length: nDims }, () => r.count(`tensor ${name} dimension`, 2 ** 40));
      const type = r.u32();
      const offset = r.count(`tensor ${name} offset`, size);
      if (offset % alignment !== 0)
        throw new GgufError(path, `tensor ${name}: offset ${offset} is not a multiple of ${alignment}`);
      tensors.push({ name, dims, type, offset, fileOffset: 0, bytes: ggmlBytes(path, name, type, dims) });
    }
    const dataStart = Math.ceil(r.pos / alignment) * alignment;
    for (const t of tensors) {
      t.fileOffset = dataStart + t.offset;
      if (t.fileOffset + t.bytes > size)
        throw new GgufError(
          path,
          `tensor ${t.name}: data [${t.fileOffset}, ${t.fileOffset + t.bytes}) runs past the end (${size} bytes)`,
        );
    }
    return { version, metadata, tensors, alignment, dataStart, fileSize: size };
  } finally {
    closeSync(fd);
  }
}

/** One tensor's raw bytes. */
export function readGgufTensorData(path: string, info: GgufTensorInfo): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const out = new Uint8Array(info.bytes);
    readSync(fd, out, 0, info.bytes, info.fileOffset);
    return out;
  } finally {
    closeSync(fd);
  }
}
