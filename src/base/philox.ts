// Philox4x32-10 (Salmon et al. 2011): a counter-based generator, so number i of a stream is computable on its
// own and every backend draws exactly the same stream for the same (seed, offset).
//
// The stream: element i (counting from the call's offset) lives in block floor((offset + i) / 4), lane
// (offset + i) % 4, where a block is philox(counter = (block lo32, block hi32, 0, 0), key = (seed lo32, seed hi32)).
// uniform = ((r >>> 8) + 0.5) * 2^-24, in (0, 1), computed in double.
// normal: Box-Muller in double on the lane pairs (0, 1) and (2, 3) of a block:
//   z0 = sqrt(-2 ln u0) cos(2 pi u1), z1 = sqrt(-2 ln u0) sin(2 pi u1).

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers. */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const loLo = aLo * bLo;
  const hiLo = aHi * bLo;
  const loHi = aLo * bHi;
  const hiHi = aHi * bHi;
  const cross = (loLo >>> 16) + (hiLo & 0xffff) + loHi;
  return (hiHi + (hiLo >>> 16) + Math.floor(cross / 0x10000)) >>> 0;
}

/** The four 32-bit outputs of one Philox4x32-10 block, written into out[0..4). */
export function philoxBlock(block: number, seed: number, out: Uint32Array): void {
  const hi = (x: number) => Math.floor(x / 0x100000000) >>> 0;
  philox4x32(block >>> 0, hi(block), 0, 0, seed >>> 0, hi(seed), out);
}

/** The raw Philox4x32-10 bijection on a 128-bit counter under a 64-bit key. */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

export function uniformFromBits(r: number): number {
  return ((r >>> 8) + 0.5) * 2 ** -24;
}

/** Fills out[0..n) with the stream starting at `offset`. */
export function philoxFill(
  out: { [i: number]: number; length: number },
  n: number,
  dist: 'uniform' | 'normal',
  seed: number,
  offset: number,
): void {
  const bits = new Uint32Array(4);
  let lastBlock = -1;
  for (let i = 0; i < n; i++) {
    const index = offset + i;
    const block = Math.floor(index / 4);
    const lane = index % 4;
    if (block !== lastBlock) {
      philoxBlock(block, seed, bits);
      lastBlock = block;
    }
    if (dist === 'uniform') {
      out[i] = uniformFromBits(bits[lane]);
    } else {
      const pair = lane & 2;
      const u0 = uniformFromBits(bits[pair]);
      const u1 = uniformFromBits(bits[pair + 1]);
      const radius = Math.sqrt(-2 * Math.log(u0));
      const angle = 2 * Math.PI * u1;
      out[i] = (lane & 1) === 0 ? radius * Math.cos(angle) : radius * Math.sin(angle);
    }
  }
}
