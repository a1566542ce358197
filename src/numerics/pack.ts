// Bit packing of unsigned codes (1, 2, 3, 4 or 8 bits each) into bytes, least significant bit first as one
// continuous little-endian bit stream: code i occupies bits [i * bits, (i + 1) * bits), so 3-bit codes
// straddle byte boundaries and n codes take exactly ceil(n * bits / 8) bytes.

import { NumericsError } from './errors.ts';

export type PackBits = 1 | 2 | 3 | 4 | 8;
const allowedBits = [1, 2, 3, 4, 8];

function checkBits(bits: number): void {
  if (!allowedBits.includes(bits)) throw new NumericsError('bits', bits, 'one of 1, 2, 3, 4, 8');
}

export function packedBytes(n: number, bits: PackBits): number {
  return Math.ceil((n * bits) / 8);
}

export function packBits(codes: ArrayLike<number>, bits: PackBits): Uint8Array {
  checkBits(bits);
  const n = codes.length;
  const out = new Uint8Array(packedBytes(n, bits));
  const limit = 2 ** bits;
  for (let i = 0; i < n; i++) {
    const c = codes[i];
    if (!Number.isInteger(c) || c < 0 || c >= limit) {
      throw new NumericsError(`codes[${i}]`, c, `an integer in [0, ${limit - 1}] for ${bits}-bit packing`);
    }
    const bit = i * bits;
    const byte = bit >>> 3;
    const shift = bit & 7;
    out[byte] |= (c << shift) & 0xff;
    if (shift + bits > 8) out[byte + 1] |= c >>> (8 - shift);
  }
  return out;
}

export function unpackBits(bytes: Uint8Array, bits: PackBits, n: number): Uint8Array {
  checkBits(bits);
  if (bytes.length < packedBytes(n, bits)) {
    throw new NumericsError(
      'bytes.length',
      bytes.length,
      `at least ${packedBytes(n, bits)} for ${n} ${bits}-bit codes`,
    );
  }
  const out = new Uint8Array(n);
  const mask = 2 ** bits - 1;
  for (let i = 0; i < n; i++) {
    const bit = i * bits;
    const byte = bit >>> 3;
    const shift = bit & 7;
    let word = bytes[byte] >>> shift;
    if (shift + bits > 8) word |= bytes[byte + 1] << (8 - shift);
    out[i] = word & mask;
  }
  return out;
}
