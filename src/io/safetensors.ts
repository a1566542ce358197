// safetensors (Hugging Face's format): 8-byte little-endian header length, a JSON header of
// name -> {dtype, shape, data_offsets}, then the raw little-endian data. We add a sha256 of the data section to
// the header's __metadata__, so a truncated or corrupted file is detected instead of trusted.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../base/atomic-write.ts';

export type SafeDType = 'F32' | 'I32' | 'BF16' | 'F16' | 'U8';
export type SafeArray = Float32Array | Int32Array | Uint16Array | Uint8Array;

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: SafeArray;
}

/** A checkpoint that cannot be written or read back; names the file and, where there is one, the tensor. */
export class CheckpointError extends Error {
  constructor(
    readonly path: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${path}: ${tensor === undefined ? '' : `tensor ${JSON.stringify(tensor)}: `}${message}`);
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
  const entries: [string, unknown][] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new CheckpointError(path, 'the name is reserved for metadata', name);
    if (!Object.hasOwn(bytesPer, t.dtype))
      throw new CheckpointError(path, `unsupported dtype ${t.dtype}`, name);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const expected = t.shape.reduce((a, b) => a * b, 1) * bytesPer[t.dtype];
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || bytes.byteLength !== expected)
      throw new CheckpointError(path, `${bytes.byteLength} bytes for shape [${t.shape}] ${t.dtype}`, name);
    entries.push([
      name,
      { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] },
    ]);
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  entries.push(['__metadata__', { ...metadata, 'bitscale.sha256': hash.digest('hex') }]);
  const header = Object.fromEntries(entries); // own properties even for a tensor named __proto__
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

/** Hugging Face's bound on the header (100 MB): a larger length field is corruption, not a header. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Reads and verifies a safetensors file (see parseSafetensors). */
export function readSafetensors(path: string): SafetensorsFile {
  let buffer: Uint8Array;
  try {
    buffer = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(path, `cannot read (${(e as Error).message})`);
  }
  return parseSafetensors(buffer, path);
}

/**
 * Parses the bytes of a safetensors file, trusting nothing: the header length, its JSON shape, every dtype,
 * shape and offset pair; tensors must tile the data section exactly (no gap, no overlap, nothing past the
 * end), and the sha256 of the data must match when the header records one. Every failure is a
 * CheckpointError naming the file (`path`) and, where there is one, the tensor.
 */
export function parseSafetensors(bytes: Uint8Array, path: string): SafetensorsFile {
  if (bytes.byteLength < 8)
    throw new CheckpointError(path, `truncated: ${bytes.byteLength} bytes, the header length alone takes 8`);
  const headerLength = headerLengthOf(bytes.subarray(0, 8), bytes.byteLength, path);
  const header = parseSafetensorsHeader(
    bytes.subarray(8, 8 + headerLength),
    bytes.byteLength - 8 - headerLength,
    path,
  );
  const data = bytes.subarray(8 + headerLength);
  const expected = header.metadata['bitscale.sha256'];
  if (expected !== undefined && createHash('sha256').update(data).digest('hex') !== expected)
    throw new CheckpointError(path, 'checksum mismatch: the file is corrupted');
  const tensors = new Map<string, SafeTensor>();
  for (const { name, from, to, dtype, shape } of header.entries) {
    const copy = new Uint8Array(data.subarray(from, to)); // a copy, so typed views are aligned
    tensors.set(name, { dtype, shape, data: typedView(dtype, copy.buffer) });
  }
  return { tensors, metadata: header.metadata };
}

/** One tensor of a safetensors header: its bytes are [from, to) of the data section. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  from: number;
  to: number;
}

export interface SafetensorsHeader {
  /** Sorted by position in the data section. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Where the data section starts in the file. */
  dataStart: number;
}

/** The 8-byte length field, checked against the file size. */
function headerLengthOf(lengthBytes: Uint8Array, fileSize: number, path: string): number {
  const declared = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES))
    throw new CheckpointError(
      path,
      `header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt length field)`,
    );
  const headerLength = Number(declared);
  if (8 + headerLength > fileSize)
    throw new CheckpointError(
      path,
      `truncated: the header needs ${headerLength} bytes, the file has ${fileSize - 8} after the length`,
    );
  return headerLength;
}

/**
 * Reads and checks only the header of a safetensors file (no tensor data): what a loader needs to refuse a
 * checkpoint whose names or shapes are wrong before reading gigabytes. The same checks as parseSafetensors
 * except the checksum, which needs the data.
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new CheckpointError(path, `cannot read (${(e as Error).message})`);
  }
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8)
      throw new CheckpointError(path, `truncated: ${fileSize} bytes, the header length alone takes 8`);
    const lengthBytes = new Uint8Array(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const headerLength = headerLengthOf(lengthBytes, fileSize, path);
    const headerBytes = new Uint8Array(headerLength);
    readSync(fd, headerBytes, 0, headerLength, 8);
    const header = parseSafetensorsHeader(headerBytes, fileSize - 8 - headerLength, path);
    return { ...header, dataStart: 8 + headerLength };
  } finally {
    closeSync(fd);
  }
}

/**
 * Parses a header's JSON, trusting nothing: its shape, every dtype, shape and offset pair; tensors must tile
 * the data section of `dataLength` bytes exactly (no gap, no overlap, nothing past the end). Every failure
 * is a CheckpointError naming the file (`path`) and, where there is one, the tensor.
 */
function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  path: string,
): Omit<SafetensorsHeader, 'dataStart'> {
  const fail = (message: string, tensor?: string): never => {
    throw new CheckpointError(path, message, tensor);
  };
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    fail(`corrupt header: not UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isRecord(header)) fail(`corrupt header: ${describe(header)}, expected a JSON object of tensors`);
  const raw = header as Record<string, unknown>;
  const metadata = readMetadata(raw.__metadata__, fail);
  const entries: SafetensorsEntry[] = [];
  for (const [name, entry] of Object.entries(raw)) {
    if (name === '__metadata__') continue;
    entries.push({ name, ...readEntry(entry, dataLength, (m) => fail(m, name)) });
  }
  // Tensors must tile [0, data length): sorted by start, each begins where the previous one ended.
  entries.sort((a, b) => a.from - b.from || a.to - b.to);
  let end = 0;
  for (const s of entries) {
    if (s.from < end)
      fail(`data_offsets [${s.from}, ${s.to}] overlap the previous tensor (ends at ${end})`, s.name);
    if (s.from > end) fail(`data_offsets [${s.from}, ${s.to}] leave a gap after byte ${end}`, s.name);
    end = s.to;
  }
  if (end !== dataLength)
    fail(`data section is ${dataLength} bytes, the tensors cover ${end} (file size does not match)`);
  return { entries, metadata };
}

function readMetadata(value: unknown, fail: (message: string) => never): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value)) return fail(`__metadata__ is ${describe(value)}, expected an object of strings`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(`__metadata__.${key} is ${describe(v)}, expected a string`);
  }
  return value as Record<string, string>;
}

/** One header entry, checked against the data section's length (all arithmetic stays exact). */
function readEntry(
  entry: unknown,
  dataLength: number,
  fail: (message: string) => never,
): { from: number; to: number; dtype: SafeDType; shape: number[] } {
  if (!isRecord(entry)) return fail(`entry is ${describe(entry)}, expected {dtype, shape, data_offsets}`);
  for (const key of Object.keys(entry)) {
    if (!entryKeys.includes(key)) fail(`unknown field '${key}' (allowed: ${entryKeys.join(', ')})`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !Object.hasOwn(bytesPer, dtype))
    fail(`dtype ${describe(dtype)} is not supported (allowed: ${Object.keys(bytesPer).join(', ')})`);
  if (!Array.isArray(shape) || !shape.every(isCount))
    fail(`shape ${describe(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1])
    fail(`data_offsets ${describe(offsets)} is not [begin, end] with 0 <= begin <= end`);
  const [from, to] = offsets as [number, number];
  if (to > dataLength) fail(`truncated: data_offsets end at ${to}, the data section has ${dataLength} bytes`);
  let size = bytesPer[dtype as SafeDType];
  for (const d of shape as number[]) {
    size *= d;
    if (size > dataLength) break; // already too large; stop before the product leaves exact integers
  }
  if (size !== to - from)
    fail(
      `shape [${shape}] of ${dtype} needs ${size > dataLength ? `more than ${dataLength}` : size} bytes, data_offsets give ${to - from}`,
    );
  return { from, to, dtype: dtype as SafeDType, shape: [...(shape as number[])] };
}

const entryKeys = ['dtype', 'shape', 'data_offsets'];

export function typedView(dtype: SafeDType, buffer: ArrayBuffer): SafeArray {
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer);
    case 'I32':
      return new Int32Array(buffer);
    case 'U8':
      return new Uint8Array(buffer);
    case 'BF16':
    case 'F16':
      return new Uint16Array(buffer);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  let text: string;
  try {
    text = JSON.stringify(v);
  } catch {
    text = 'a value nested too deep to show';
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
