// Format tables checked value by value against the published specs: OCP 8-bit FP v1.0 (E4M3, E5M2),
// OCP MX v1.0 (E3M2, E2M3, E2M1, E8M0), QLoRA's NF4, IEEE fp16 and bf16.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../src/base/half.ts';
import { decodeE8m0, e8m0FromExponent } from '../../src/numerics/formats/e8m0.ts';
import {
  BF16,
  decodeMinifloat,
  E2M1,
  E2M3,
  E3M2,
  E4M3,
  E5M2,
  encodeMinifloat,
  FP16,
  type Minifloat,
  minifloatValues,
  roundMinifloat,
} from '../../src/numerics/formats/minifloat.ts';
import { decodeNf4, encodeNf4, NF4_VALUES } from '../../src/numerics/formats/nf4.ts';

// The spec's formula, written out independently of the implementation.
function specValue(E: number, M: number, bias: number, code: number): number {
  const s = code >> (E + M) ? -1 : 1;
  const e = (code >> M) & ((1 << E) - 1);
  const m = code & ((1 << M) - 1);
  return e === 0 ? s * 2 ** (1 - bias) * (m / 2 ** M) : s * 2 ** (e - bias) * (1 + m / 2 ** M);
}

test('E4M3: every code per OCP FP8 (bias 7, no Inf, NaN only at S.1111.111, max 448)', () => {
  for (let code = 0; code < 256; code++) {
    const v = decodeMinifloat(E4M3, code);
    if ((code & 0x7f) === 0x7f) assert.ok(Number.isNaN(v), `code ${code} is NaN`);
    else assert.equal(v, specValue(4, 3, 7, code), `code ${code}`);
  }
  assert.equal(E4M3.max, 448);
  assert.equal(decodeMinifloat(E4M3, 0x7e), 448);
  assert.equal(decodeMinifloat(E4M3, 0x08), 2 ** -6); // min normal
  assert.equal(decodeMinifloat(E4M3, 0x07), 0.875 * 2 ** -6); // max subnormal
  assert.equal(decodeMinifloat(E4M3, 0x01), 2 ** -9); // min subnormal
  assert.equal(minifloatValues(E4M3).length, 127);
});

test('E5M2: every code per OCP FP8 (IEEE-like: Inf at S.11111.00, NaN at S.11111.xx, max 57344)', () => {
  for (let code = 0; code < 256; code++) {
    const v = decodeMinifloat(E5M2, code);
    const e = (code >> 2) & 0x1f;
    if (e === 0x1f) {
      if ((code & 3) === 0)
        assert.equal(v, code & 0x80 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY);
      else assert.ok(Number.isNaN(v));
    } else assert.equal(v, specValue(5, 2, 15, code), `code ${code}`);
  }
  assert.equal(E5M2.max, 57344);
  assert.equal(decodeMinifloat(E5M2, 0x7b), 57344);
  assert.equal(decodeMinifloat(E5M2, 0x01), 2 ** -16);
  assert.equal(decodeMinifloat(E5M2, 0x04), 2 ** -14);
});

test('FP6 and FP4 positive values are exactly the OCP MX tables', () => {
  const e2m1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6];
  const e2m3 = [
    0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1, 1.125, 1.25, 1.375, 1.5, 1.625, 1.75, 1.875, 2, 2.25,
    2.5, 2.75, 3, 3.25, 3.5, 3.75, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5,
  ];
  const e3m2 = [
    0, 0.0625, 0.125, 0.1875, 0.25, 0.3125, 0.375, 0.4375, 0.5, 0.625, 0.75, 0.875, 1, 1.25, 1.5, 1.75, 2,
    2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28,
  ];
  assert.deepEqual(minifloatValues(E2M1), e2m1);
  assert.deepEqual(minifloatValues(E2M3), e2m3);
  assert.deepEqual(minifloatValues(E3M2), e3m2);
  for (const [f, table] of [
    [E2M1, e2m1],
    [E2M3, e2m3],
    [E3M2, e3m2],
  ] as const) {
    const half = 2 ** (f.exponentBits + f.mantissaBits);
    for (let code = 0; code < half; code++) {
      assert.equal(decodeMinifloat(f, code), table[code]);
      assert.equal(decodeMinifloat(f, code + half), -table[code] || -0);
    }
  }
});

test('encode/decode round-trips every code; NaN, -0, saturation and overflow', () => {
  for (const f of [E4M3, E5M2, E3M2, E2M3, E2M1]) {
    for (let code = 0; code < 2 ** (1 + f.exponentBits + f.mantissaBits); code++) {
      const v = decodeMinifloat(f, code);
      if (Number.isNaN(v)) continue;
      assert.equal(encodeMinifloat(f, v, false), code, `${f.name} code ${code}`);
    }
  }
  assert.equal(encodeMinifloat(E4M3, Number.NaN), 0x7f);
  assert.equal(encodeMinifloat(E5M2, Number.NaN), 0x7f);
  assert.throws(() => encodeMinifloat(E2M1, Number.NaN), /has no NaN/);
  assert.equal(encodeMinifloat(E4M3, 1000), 0x7e); // saturates to 448
  assert.ok(Number.isNaN(decodeMinifloat(E4M3, encodeMinifloat(E4M3, 1000, false)))); // no Inf: NaN
  assert.equal(decodeMinifloat(E5M2, encodeMinifloat(E5M2, 1e6, false)), Number.POSITIVE_INFINITY);
  assert.equal(roundMinifloat(E5M2, 61440, false), Number.POSITIVE_INFINITY); // the tie above max rounds up, to Inf
  assert.equal(roundMinifloat(E5M2, 61439, false), 57344);
  assert.equal(roundMinifloat(E2M1, 100, false), 6); // FP4 has no Inf: it saturates
  assert.equal(encodeMinifloat(E4M3, -0), 0x80);
});

test('rounding is to nearest, ties to even mantissa, subnormals included', () => {
  assert.equal(roundMinifloat(E2M1, 2.5), 2); // tie between 2 (m=0) and 3 (m=1)
  assert.equal(roundMinifloat(E2M1, 3.5), 4);
  assert.equal(roundMinifloat(E2M1, 5), 4); // tie between 4 and 6: 4 has even mantissa
  assert.equal(roundMinifloat(E2M1, 0.25), 0); // tie between 0 and the subnormal 0.5
  assert.equal(roundMinifloat(E2M1, 0.26), 0.5);
  assert.equal(roundMinifloat(E4M3, 2 ** -10), 0); // half the smallest subnormal: tie to 0
  assert.equal(roundMinifloat(E4M3, 3 * 2 ** -10), 2 ** -8); // tie between 1 and 2 subnormal steps: even (2)
  assert.equal(roundMinifloat(E4M3, 1.0625), 1); // tie between 1 and 1.125
  assert.equal(roundMinifloat(E4M3, 1.1875), 1.25);
});

function checkAgainstBits(
  f: Minifloat,
  toBits: (x: number) => number,
  fromBits: (h: number) => number,
  seed: number,
) {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  let state = seed;
  for (let i = 0; i < 20000; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    u32[0] = state;
    const x = f32[0];
    if (!Number.isFinite(x)) continue;
    const expected = fromBits(toBits(x));
    assert.equal(roundMinifloat(f, x, false), expected, `${f.name} of ${x}`);
  }
}

test('bf16 and fp16 rounding match bit-level RNE conversions on random float32 patterns', () => {
  checkAgainstBits(BF16, f32ToBf16Bits, bf16BitsToF32, 7);
  checkAgainstBits(FP16, f32ToF16Bits, f16BitsToF32, 11);
  assert.equal(roundMinifloat(FP16, 65520, false), Number.POSITIVE_INFINITY);
  assert.equal(roundMinifloat(FP16, 65519, false), 65504);
  assert.equal(roundMinifloat(FP16, 2 ** -25, false), 0); // tie with the smallest subnormal 2^-24: even (0)
});

// Acklam's inverse normal CDF (relative error 1.15e-9), for recomputing NF4.
function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  let x: number;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    x =
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p > 1 - 0.02425) return -normalQuantile(1 - p);
  else {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
      (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  return x;
}

test('NF4: the 16 QLoRA values, recomputed from normal quantiles (offset 0.9677083)', () => {
  const offset = 0.9677083;
  const positive = Array.from({ length: 8 }, (_, i) => normalQuantile(offset + ((0.5 - offset) * i) / 8));
  const negative = Array.from({ length: 7 }, (_, i) => -normalQuantile(offset + ((0.5 - offset) * i) / 7));
  const raw = [...positive, 0, ...negative].sort((p, q) => p - q);
  const max = raw[raw.length - 1];
  const expected = raw.map((v) => v / max);
  assert.equal(NF4_VALUES.length, 16);
  for (let i = 0; i < 16; i++)
    assert.ok(Math.abs(NF4_VALUES[i] - expected[i]) < 1e-6, `NF4[${i}] ${NF4_VALUES[i]} vs ${expected[i]}`);
  for (let code = 0; code < 16; code++) assert.equal(encodeNf4(decodeNf4(code)), code);
  assert.equal(encodeNf4(0.03), 7);
  assert.equal(encodeNf4(0.05), 8);
  assert.equal(encodeNf4(-2), 0);
});

test('E8M0: 2^(code - 127) for all 255 scales, 0xFF is NaN', () => {
  for (let code = 0; code < 255; code++) assert.equal(decodeE8m0(code), 2 ** (code - 127));
  assert.ok(Number.isNaN(decodeE8m0(255)));
  assert.equal(e8m0FromExponent(-200), 0);
  assert.equal(e8m0FromExponent(200), 254);
  assert.equal(e8m0FromExponent(0), 127);
  assert.throws(() => decodeE8m0(256), /code = 256.*\[0, 255\]/);
});
