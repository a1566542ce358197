// ggml's block quantizations, byte for byte as ggml-quants.c's reference quantizers write them (the layouts
// llama.cpp reads), in f32 arithmetic like the C code:
//   Q8_0  (32 values, 34 bytes):  f16 d, int8 qs[32];           x = q * d,        d = amax / 127
//   Q4_0  (32 values, 18 bytes):  f16 d, u8 qs[16];             x = (q - 8) * d,  d = max / -8 (max: the value
//                                 of largest magnitude); value j in the low nibble of qs[j], j+16 in the high
//   TQ2_0 (256 values, 66 bytes): u8 qs[64], f16 d;             x = (q - 1) * d,  d = amax; 2-bit q of value
//                                 j*128 + n*32 + m at bits 2n of qs[j*32 + m]
//   TQ1_0 (256 values, 54 bytes): u8 qs[48], u8 qh[4], f16 d;   five (qs) or four (qh) base-3 digits per byte,
//                                 stored as ceil(v * 256 / 243) so a digit is ((byte * 3^n mod 256) * 3) >> 8
import { f16BitsToF32, f32ToF16Bits } from '../base/half.ts';

export interface BlockCodec {
  blockSize: number;
  blockBytes: number;
  quantize(x: Float32Array, out: Uint8Array): void;
  dequantize(bytes: Uint8Array, out: Float32Array): void;
}

const f = Math.fround;
/** C's roundf / lroundf: halves away from zero. */
const roundAway = (v: number) => Math.sign(v) * Math.round(Math.abs(v));

function blocks(x: Float32Array, size: number): number {
  if (x.length % size !== 0) throw new RangeError(`${x.length} values are not whole blocks of ${size}`);
  return x.length / size;
}

function setF16(out: Uint8Array, at: number, v: number): number {
  const h = f32ToF16Bits(v);
  out[at] = h & 0xff;
  out[at + 1] = h >>> 8;
  return f16BitsToF32(h);
}
const getF16 = (b: Uint8Array, at: number) => f16BitsToF32(b[at] | (b[at + 1] << 8));

export const Q8_0: BlockCodec = {
  blockSize: 32,
  blockBytes: 34,
  quantize(x, out) {
    const nb = blocks(x, 32);
    for (let i = 0; i < nb; i++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j]));
      const d = f(amax / 127);
      const id = d ? f(1 / d) : 0;
      setF16(out, i * 34, d);
      for (let j = 0; j < 32; j++) out[i * 34 + 2 + j] = roundAway(f(x[i * 32 + j] * id)) & 0xff;
    }
  },
  dequantize(b, out) {
    const nb = out.length / 32;
    for (let i = 0; i < nb; i++) {
      const d = getF16(b, i * 34);
      for (let j = 0; j < 32; j++) out[i * 32 + j] = ((b[i * 34 + 2 + j] << 24) >> 24) * d;
    }
  },
};

export const Q4_0: BlockCodec = {
  blockSize: 32,
  blockBytes: 18,
  quantize(x, out) {
    const nb = blocks(x, 32);
    for (let i = 0; i < nb; i++) {
      let amax = 0;
      let max = 0;
      for (let j = 0; j < 32; j++) {
        const v = x[i * 32 + j];
        if (amax < Math.abs(v)) {
          amax = Math.abs(v);
          max = v;
        }
      }
      const d = f(max / -8);
      const id = d ? f(1 / d) : 0;
      setF16(out, i * 18, d);
      for (let j = 0; j < 16; j++) {
        // (int8_t)(x * id + 8.5f): truncation, of a value in [0.5, 16.5]
        const lo = Math.min(15, Math.trunc(f(f(x[i * 32 + j] * id) + 8.5)));
        const hi = Math.min(15, Math.trunc(f(f(x[i * 32 + 16 + j] * id) + 8.5)));
        out[i * 18 + 2 + j] = lo | (hi << 4);
      }
    }
  },
  dequantize(b, out) {
    const nb = out.length / 32;
    for (let i = 0; i < nb; i++) {
      const d = getF16(b, i * 18);
      for (let j = 0; j < 16; j++) {
        const q = b[i * 18 + 2 + j];
        out[i * 32 + j] = ((q & 0x0f) - 8) * d;
        out[i * 32 + 16 + j] = ((q >> 4) - 8) * d;
      }
    }
  },
};

function absMax(x: Float32Array, from: number, n: number): number {
  let amax = 0;
  for (let j = 0; j < n; j++) amax = Math.max(amax, Math.abs(x[from + j]));
  return amax;
}

/** -1, 0, 1 -> 0, 1, 2 */
const trit = (v: number, id: number) => roundAway(f(v * id)) + 1;

export const TQ2_0: BlockCodec = {
  blockSize: 256,
  blockBytes: 66,
  quantize(x, out) {
    const nb = blocks(x, 256);
    for (let i = 0; i < nb; i++) {
      const base = i * 256;
      const d = absMax(x, base, 256);
      const id = d ? f(1 / d) : 0;
      const o = i * 66;
      for (let j = 0; j < 2; j++)
        for (let m = 0; m < 32; m++) {
          let q = 0;
          for (let n = 0; n < 4; n++) q += (trit(x[base + j * 128 + n * 32 + m], id) & 3) << (2 * n);
          out[o + j * 32 + m] = q;
        }
      setF16(out, o + 64, d);
    }
  },
  dequantize(b, out) {
    const nb = out.length / 256;
    for (let i = 0; i < nb; i++) {
      const o = i * 66;
      const d = getF16(b, o + 64);
      for (let j = 0; j < 2; j++)
        for (let n = 0; n < 4; n++)
          for (let m = 0; m < 32; m++)
            out[i * 256 + j * 128 + n * 32 + m] = (((b[o + j * 32 + m] >> (2 * n)) & 3) - 1) * d;
    }
  },
};

const pow3 = [1, 3, 9, 27, 81, 243];
const packTrits = (q: number) => Math.floor((q * 256 + 242) / 243);
const unpackTrit = (byte: number, n: number) => ((((byte * pow3[n]) & 0xff) * 3) >> 8) - 1;

export const TQ1_0: BlockCodec = {
  blockSize: 256,
  blockBytes: 54,
  quantize(x, out) {
    const nb = blocks(x, 256);
    for (let i = 0; i < nb; i++) {
      const base = i * 256;
      const d = absMax(x, base, 256);
      const id = d ? f(1 / d) : 0;
      const o = i * 54;
      // qs[0..32): five values 32 apart; qs[32..48): five values 16 apart; qh[0..4): four values 4 apart.
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 5; n++) q = q * 3 + trit(x[base + m + n * 32], id);
        out[o + m] = packTrits(q);
      }
      for (let m = 0; m < 16; m++) {
        let q = 0;
        for (let n = 0; n < 5; n++) q = q * 3 + trit(x[base + 160 + m + n * 16], id);
        out[o + 32 + m] = packTrits(q);
      }
      for (let j = 0; j < 4; j++) {
        let q = 0;
        for (let m = 0; m < 4; m++) q = q * 3 + trit(x[base + 240 + j + m * 4], id);
        out[o + 48 + j] = packTrits(q * 3);
      }
      setF16(out, o + 52, d);
    }
  },
  dequantize(b, out) {
    const nb = out.length / 256;
    for (let i = 0; i < nb; i++) {
      const o = i * 54;
      const d = getF16(b, o + 52);
      let y = i * 256;
      for (let n = 0; n < 5; n++) for (let m = 0; m < 32; m++) out[y++] = unpackTrit(b[o + m], n) * d;
      for (let n = 0; n < 5; n++) for (let m = 0; m < 16; m++) out[y++] = unpackTrit(b[o + 32 + m], n) * d;
      for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) out[y++] = unpackTrit(b[o + 48 + j], n) * d;
    }
  },
};
