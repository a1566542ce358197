// safetensors (Hugging Face's format): 8-byte little-endian header length, a JSON header of
// name -> {dtype, shape, data_offsets}, then the raw little-endian data. We add a sha256 of the data section to
// the header's __metadata__, so a truncated or corrupted file is detected instead of trusted.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../base/atomic-write.ts';

export type SafeDType = 'F32' | 'I32' | 'BF16' | 'F16' | 'U8';
export type SafeArray = Float32Array | Int32Array | Uint16Array | Uint8Array;

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: SafeArray;
}

export class CheckpointError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'CheckpointError';
  }
}

const bytesPer: Record<SafeDType, number> = { F32: 4, I32: 4, BF16: 2, F16: 2, U8: 1 };

/** Writes tensors and string metadata atomically. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, SafeTensor>,
  metadata: Record<string, string> = {},
): void {
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const expected = t.shape.reduce((a, b) => a * b, 1) * bytesPer[t.dtype];
    if (bytes.byteLength !== expected)
      throw new CheckpointError(
        path,
        `tensor ${name}: ${bytes.byteLength} bytes for shape [${t.shape}] ${t.dtype}`,
      );
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  header.__metadata__ = { ...metadata, 'bitscale.sha256': hash.digest('hex') };
  // The header is padded with spaces to a multiple of 8 bytes so the data stays aligned.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(jsonBytes.byteLength));
  writeFileAtomic(path, [length, jsonBytes, ...chunks]);
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Reads and verifies a safetensors file: sizes, offsets and (when present) the sha256 of the data. */
export function readSafetensors(path: string): SafetensorsFile {
  let buffer: Buffer;
  try {
    buffer = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(path, `cannot read (${(e as Error).message})`);
  }
  if (buffer.byteLength < 8) throw new CheckpointError(path, 'truncated: no header');
  const headerLength = Number(buffer.readBigUInt64LE(0));
  if (8 + headerLength > buffer.byteLength)
    throw new CheckpointError(path, 'truncated: header runs past the end');
  let header: Record<
    string,
    { dtype: SafeDType; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  try {
    header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8'));
  } catch {
    throw new CheckpointError(path, 'corrupt header (not JSON)');
  }
  const data = buffer.subarray(8 + headerLength);
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, SafeTensor>();
  let end = 0;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets } = entry as {
      dtype: SafeDType;
      shape: number[];
      data_offsets: [number, number];
    };
    const [from, to] = data_offsets;
    if (!(dtype in bytesPer)) throw new CheckpointError(path, `tensor ${name}: unsupported dtype ${dtype}`);
    if (to > data.byteLength)
      throw new CheckpointError(
        path,
        `truncated: tensor ${name} ends at ${to}, data has ${data.byteLength} bytes`,
      );
    if (to - from !== shape.reduce((a, b) => a * b, 1) * bytesPer[dtype])
      throw new CheckpointError(path, `tensor ${name}: size does not match its shape`);
    const bytes = new Uint8Array(data.subarray(from, to)); // a copy, aligned
    const array =
      dtype === 'F32'
        ? new Float32Array(bytes.buffer)
        : dtype === 'I32'
          ? new Int32Array(bytes.buffer)
          : dtype === 'U8'
            ? bytes
            : new Uint16Array(bytes.buffer);
    tensors.set(name, { dtype, shape, data: array });
    end = Math.max(end, to);
  }
  if (end !== data.byteLength)
    throw new CheckpointError(path, `data section is ${data.byteLength} bytes, tensors cover ${end}`);
  const expected = metadata['bitscale.sha256'];
  if (expected && createHash('sha256').update(data).digest('hex') !== expected) {
    throw new CheckpointError(path, 'checksum mismatch: the file is corrupted');
  }
  return { tensors, metadata };
}
