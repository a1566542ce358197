// Token binaries: our shard format (written and read), plus the formats others use for pre-tokenized corpora.
//
// Ours: a 64-byte header, then the tokens little-endian.
//   0  'BSTOKENS'      8 bytes magic
//   8  version         u32 (1)
//  12  bytesPerToken   u32 (2 = uint16, 4 = uint32)
//  16  count           u64
//  24  vocabSize       u32 (0 = unknown)
//  28  reserved        u32
//  32  sha256(payload) 32 bytes: a truncated or corrupted file fails the check instead of training on garbage
// Also read: llm.c's .bin (256 int32 header: 20240520, version 1 = uint16 / 2 = uint32, count) and a raw
// uint16/uint32 array with a JSON sidecar `<file>.json` such as {"dtype": "uint16", "vocab_size": 50257}.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../base/atomic-write.ts';
import { CorpusError } from './errors.ts';

export type TokenArray = Uint16Array | Uint32Array;

export interface TokenFile {
  tokens: TokenArray;
  /** From the header or sidecar; null when the file does not say. */
  vocabSize: number | null;
}

const MAGIC = 'BSTOKENS';
const HEADER_BYTES = 64;
const LLMC_MAGIC = 20240520;
const LLMC_HEADER_BYTES = 256 * 4;

/** The narrowest token array for a vocabulary: 16 bits while every id fits, else 32. */
export function tokenArrayFor(vocabSize: number, length: number): TokenArray {
  return vocabSize <= 65536 ? new Uint16Array(length) : new Uint32Array(length);
}

function payloadBytes(tokens: TokenArray): Uint8Array {
  // Token files are little-endian; so is every machine Node runs on in practice (x86, ARM).
  return new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength);
}

/** Writes tokens in our shard format, atomically; returns the payload's SHA-256 (hex). */
export function writeTokenFile(path: string, tokens: TokenArray, vocabSize: number): string {
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(MAGIC, 0, 'ascii');
  header.writeUInt32LE(1, 8);
  header.writeUInt32LE(tokens.BYTES_PER_ELEMENT, 12);
  header.writeBigUInt64LE(BigInt(tokens.length), 16);
  header.writeUInt32LE(vocabSize, 24);
  const payload = payloadBytes(tokens);
  const digest = createHash('sha256').update(payload).digest();
  digest.copy(header, 32);
  writeFileAtomic(path, [header, payload]);
  return digest.toString('hex');
}

function tokensFrom(bytes: Buffer, offset: number, width: number, count: number): TokenArray {
  // Copy into a fresh, aligned buffer: Buffer slices may start at odd offsets.
  const copy = new Uint8Array(count * width);
  copy.set(bytes.subarray(offset, offset + count * width));
  return width === 2 ? new Uint16Array(copy.buffer) : new Uint32Array(copy.buffer);
}

function readOurs(path: string, bytes: Buffer): TokenFile {
  if (bytes.length < HEADER_BYTES) throw new CorpusError(path, `truncated header (${bytes.length} bytes)`);
  const version = bytes.readUInt32LE(8);
  if (version !== 1) throw new CorpusError(path, `token file version ${version} is not supported (only 1)`);
  const width = bytes.readUInt32LE(12);
  if (width !== 2 && width !== 4) throw new CorpusError(path, `bytes per token is ${width}; allowed: 2 or 4`);
  const count = Number(bytes.readBigUInt64LE(16));
  const expected = HEADER_BYTES + count * width;
  if (bytes.length !== expected) {
    throw new CorpusError(
      path,
      `size is ${bytes.length} bytes but the header promises ${expected} (truncated?)`,
    );
  }
  const digest = createHash('sha256').update(bytes.subarray(HEADER_BYTES)).digest();
  if (!digest.equals(bytes.subarray(32, 64))) throw new CorpusError(path, 'checksum mismatch (corrupted)');
  const vocabSize = bytes.readUInt32LE(24);
  return {
    tokens: tokensFrom(bytes, HEADER_BYTES, width, count),
    vocabSize: vocabSize === 0 ? null : vocabSize,
  };
}

function readLlmc(path: string, bytes: Buffer): TokenFile {
  if (bytes.length < LLMC_HEADER_BYTES) throw new CorpusError(path, 'truncated llm.c header');
  const version = bytes.readInt32LE(4);
  const width = version === 1 ? 2 : version === 2 ? 4 : 0;
  if (width === 0) throw new CorpusError(path, `llm.c token file version ${version}; allowed: 1 or 2`);
  const count = bytes.readInt32LE(8);
  if (bytes.length !== LLMC_HEADER_BYTES + count * width) {
    throw new CorpusError(
      path,
      `size is ${bytes.length} bytes but the llm.c header promises ${count} tokens`,
    );
  }
  return { tokens: tokensFrom(bytes, LLMC_HEADER_BYTES, width, count), vocabSize: null };
}

function readWithSidecar(path: string, bytes: Buffer): TokenFile {
  const sidecar = `${path}.json`;
  if (!existsSync(sidecar)) {
    throw new CorpusError(
      path,
      `no bitscale or llm.c header, and no sidecar ${sidecar} saying {"dtype": "uint16" | "uint32"}`,
    );
  }
  let meta: { dtype?: unknown; vocab_size?: unknown };
  try {
    meta = JSON.parse(readFileSync(sidecar, 'utf8'));
  } catch (error) {
    throw new CorpusError(sidecar, `not valid JSON (${(error as Error).message})`);
  }
  const width = meta.dtype === 'uint16' ? 2 : meta.dtype === 'uint32' ? 4 : 0;
  if (width === 0)
    throw new CorpusError(sidecar, `dtype is ${JSON.stringify(meta.dtype)}; allowed: uint16, uint32`);
  if (bytes.length % width !== 0) {
    throw new CorpusError(path, `size ${bytes.length} is not a multiple of ${width} bytes (${meta.dtype})`);
  }
  const vocabSize = typeof meta.vocab_size === 'number' ? meta.vocab_size : null;
  return { tokens: tokensFrom(bytes, 0, width, bytes.length / width), vocabSize };
}

/** Reads a token binary in any supported format; errors name the file and what is wrong with it. */
export function readTokenFile(path: string): TokenFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new CorpusError(path, `cannot read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  if (bytes.length === 0) throw new CorpusError(path, 'is empty');
  if (bytes.length >= 8 && bytes.toString('ascii', 0, 8) === MAGIC) return readOurs(path, bytes);
  if (bytes.length >= 4 && bytes.readInt32LE(0) === LLMC_MAGIC) return readLlmc(path, bytes);
  return readWithSidecar(path, bytes);
}

/** Where a token file's tokens lie, read from its header alone (no payload read), for streaming access. */
export interface TokenLayout {
  path: string;
  /** Byte offset of the first token. */
  offset: number;
  /** Bytes per token: 2 or 4. */
  width: 2 | 4;
  count: number;
  vocabSize: number | null;
  /** The payload's SHA-256 from our header; null for formats without one. */
  sha256: string | null;
}

/** The layout of a token file in any supported format; errors name the file, as readTokenFile's do. */
export function readTokenLayout(path: string): TokenLayout {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new CorpusError(path, `cannot read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) throw new CorpusError(path, 'is empty');
    const head = Buffer.alloc(Math.min(size, LLMC_HEADER_BYTES));
    readSync(fd, head, 0, head.length, 0);
    if (head.length >= 8 && head.toString('ascii', 0, 8) === MAGIC) {
      if (head.length < HEADER_BYTES) throw new CorpusError(path, `truncated header (${size} bytes)`);
      const version = head.readUInt32LE(8);
      if (version !== 1)
        throw new CorpusError(path, `token file version ${version} is not supported (only 1)`);
      const width = head.readUInt32LE(12);
      if (width !== 2 && width !== 4)
        throw new CorpusError(path, `bytes per token is ${width}; allowed: 2 or 4`);
      const count = Number(head.readBigUInt64LE(16));
      if (size !== HEADER_BYTES + count * width) {
        throw new CorpusError(
          path,
          `size is ${size} bytes but the header promises ${HEADER_BYTES + count * width} (truncated?)`,
        );
      }
      const vocabSize = head.readUInt32LE(24);
      return {
        path,
        offset: HEADER_BYTES,
        width,
        count,
        vocabSize: vocabSize === 0 ? null : vocabSize,
        sha256: head.subarray(32, 64).toString('hex'),
      };
    }
    if (head.length >= 4 && head.readInt32LE(0) === LLMC_MAGIC) {
      if (head.length < LLMC_HEADER_BYTES) throw new CorpusError(path, 'truncated llm.c header');
      const version = head.readInt32LE(4);
      const width = version === 1 ? 2 : version === 2 ? 4 : 0;
      if (width === 0) throw new CorpusError(path, `llm.c token file version ${version}; allowed: 1 or 2`);
      const count = head.readInt32LE(8);
      if (size !== LLMC_HEADER_BYTES + count * width) {
        throw new CorpusError(path, `size is ${size} bytes but the llm.c header promises ${count} tokens`);
      }
      return { path, offset: LLMC_HEADER_BYTES, width, count, vocabSize: null, sha256: null };
    }
  } finally {
    closeSync(fd);
  }
  // A raw array: the sidecar says the width; readWithSidecar's checks apply on an empty read.
  const sidecar = readWithSidecar(path, Buffer.alloc(0));
  const width = sidecar.tokens.BYTES_PER_ELEMENT as 2 | 4;
  const size = statSize(path);
  if (size % width !== 0) throw new CorpusError(path, `size ${size} is not a multiple of ${width} bytes`);
  return { path, offset: 0, width, count: size / width, vocabSize: sidecar.vocabSize, sha256: null };
}

function statSize(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

let scratch: Buffer | null = null;
/** One 1 MiB buffer for every pass over a token file: checking a folder of hundreds of shards allocates nothing. */
export function scratchBuffer(): Buffer {
  scratch ??= Buffer.allocUnsafeSlow(1 << 20);
  return scratch;
}

/** SHA-256 (hex) of a token file's payload, read in pieces so that memory stays bounded. */
export function hashPayload(layout: TokenLayout): string {
  const hash = createHash('sha256');
  const piece = scratchBuffer();
  const fd = openSync(layout.path, 'r');
  try {
    let at = layout.offset;
    const end = layout.offset + layout.count * layout.width;
    while (at < end) {
      const n = readSync(fd, piece, 0, Math.min(piece.length, end - at), at);
      if (n === 0) break;
      hash.update(piece.subarray(0, n));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
