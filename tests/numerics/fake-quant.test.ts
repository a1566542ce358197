import assert from 'node:assert/strict';
import { test } from 'node:test';
import { philoxFill } from '../../src/base/philox.ts';
import { NumericsError } from '../../src/numerics/errors.ts';
import { fakeQuantArray } from '../../src/numerics/fake-quant.ts';
import { type FakeQuantSpec, formatNames, parseFormat, quantSpec } from '../../src/numerics/spec.ts';

function normals(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  philoxFill(out, n, 'normal', seed, 0);
  for (let i = 0; i < n; i++) out[i] *= scale;
  return out;
}

function fq(
  spec: FakeQuantSpec,
  x: Float32Array,
  rows: number,
  cols: number,
  mask: Float32Array | null = null,
) {
  const out = new Float32Array(x.length);
  fakeQuantArray(spec, x, out, rows, cols, mask);
  return out;
}

// Formats whose absmax (or absmean for binary) scale maps the quantized tensor onto itself.
const idempotent = [
  'int2',
  'int3',
  'int4',
  'int8',
  'fp8_e4m3',
  'fp8_e5m2',
  'fp6_e3m2',
  'fp6_e2m3',
  'fp4_e2m1',
  'nf4',
  'binary',
  'bf16',
  'fp16',
  'mxfp8_e4m3',
  'mxfp8_e5m2',
  'mxfp6_e3m2',
  'mxfp6_e2m3',
  'mxfp4',
  'mxint8',
];

test('q(q(x)) == q(x) bit for bit, for every format at every granularity', () => {
  const rows = 8;
  const cols = 64;
  const x = normals(rows * cols, 1, 3);
  for (const name of idempotent) {
    const grans: FakeQuantSpec['granularity'][] = name.startsWith('mx')
      ? [{ kind: 'group', size: 32 }]
      : [{ kind: 'tensor' }, { kind: 'row' }, { kind: 'col' }, { kind: 'group', size: 16 }];
    for (const granularity of grans) {
      const spec = quantSpec(name, { granularity });
      const once = fq(spec, x, rows, cols);
      const twice = fq(spec, once, rows, cols);
      for (let i = 0; i < once.length; i++)
        assert.equal(twice[i], once[i], `${name} ${granularity.kind} at ${i}`);
    }
  }
});

test('int: error within half a step of the grid, and the grid has 2^b - 1 (sym) or 2^b (asym) levels', () => {
  const x = normals(4096, 2);
  for (let bits = 2; bits <= 8; bits++) {
    for (const symmetric of [true, false]) {
      const spec = quantSpec(`int${bits}`, { symmetric, granularity: { kind: 'row' } });
      const out = fq(spec, x, 4, 1024);
      for (let r = 0; r < 4; r++) {
        const row = x.subarray(r * 1024, (r + 1) * 1024);
        const lo = Math.min(0, ...row);
        const hi = Math.max(0, ...row);
        const step = symmetric ? Math.max(-lo, hi) / (2 ** (bits - 1) - 1) : (hi - lo) / (2 ** bits - 1);
        const levels = new Set(out.subarray(r * 1024, (r + 1) * 1024));
        assert.ok(levels.size <= (symmetric ? 2 ** bits - 1 : 2 ** bits), `int${bits} levels ${levels.size}`);
        for (let i = 0; i < 1024; i++) {
          assert.ok(
            Math.abs(out[r * 1024 + i] - row[i]) <= step / 2 + 1e-6 * step,
            `int${bits} sym=${symmetric} at ${i}`,
          );
        }
      }
    }
  }
});

test('asymmetric int keeps 0 exact and is idempotent to float32 rounding', () => {
  const x = normals(1024, 3).map((v) => v + 1.5);
  x[5] = 0;
  const spec = quantSpec('int3', { symmetric: false, granularity: { kind: 'group', size: 128 } });
  const once = fq(spec, x, 1, 1024);
  assert.equal(once[5], 0);
  const twice = fq(spec, once, 1, 1024);
  for (let i = 0; i < 1024; i++) assert.ok(Math.abs(twice[i] - once[i]) <= 1e-6 * Math.abs(once[i]) + 1e-12);
});

test('fp formats: relative error within half an ulp of the element format (normal range)', () => {
  const x = normals(2048, 4);
  const spec = quantSpec('fp8_e4m3', { scale: { kind: 'none' } });
  const out = fq(spec, x, 1, 2048);
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    if (a < 2 ** -6) continue;
    assert.ok(Math.abs(out[i] - x[i]) <= a * 2 ** -4 + 1e-9, `e4m3 ${x[i]} -> ${out[i]}`);
  }
});

test('ternary uses the absmean scale of BitNet b1.58 and binary sign x mean|x|', () => {
  const x = Float32Array.from([0.1, -0.2, 1.5, -3.0, 0.0, 0.6, -0.7, 2.0]);
  const gamma = x.reduce((s, v) => s + Math.abs(v), 0) / x.length;
  const t = fq(quantSpec('ternary'), x, 1, 8);
  x.forEach((v, i) => {
    const q = Math.max(-1, Math.min(1, Math.round(v / gamma)));
    assert.equal(t[i], Math.fround(q * gamma) + 0);
  });
  const b = fq(quantSpec('binary'), x, 1, 8);
  x.forEach((v, i) => {
    assert.equal(b[i], Math.fround(v >= 0 ? gamma : -gamma));
  });
});

test('MX: each block of 32 shares the E8M0 scale 2^(floor(log2 absmax) - emax)', () => {
  const x = normals(64, 5);
  x[40] = 100; // second block's absmax: 2^6 = 64 <= 100 < 128, E2M1 emax 2 -> scale 2^4
  const out = fq(quantSpec('mxfp4'), x, 1, 64);
  for (let i = 32; i < 64; i++) {
    const v = out[i] / 16;
    assert.ok([0, 0.5, 1, 1.5, 2, 3, 4, 6].includes(Math.abs(v)), `element ${v}`);
  }
  assert.equal(out[40], 96); // 100/16 = 6.25 saturates to 6
});

test('steMask is 1 inside the clipping range and 0 where percentile clipping cut', () => {
  const x = normals(1000, 6);
  x[10] = 50;
  const mask = new Float32Array(1000);
  const spec = quantSpec('int4', { scale: { kind: 'percentile', p: 99 } });
  const out = fq(spec, x, 1, 1000, mask);
  assert.equal(mask[10], 0);
  assert.ok(out[10] < 50);
  const clipped = mask.reduce((s, m) => s + (1 - m), 0);
  assert.ok(clipped >= 1 && clipped <= 11, `clipped ${clipped}`);
  const full = new Float32Array(1000);
  fq(quantSpec('int4'), x, 1, 1000, full);
  assert.ok(full.every((m) => m === 1));
});

test('MSE search never does worse than absmax on heavy-tailed data', () => {
  const x = normals(4096, 7).map((v) => v * v * v);
  const err = (out: Float32Array) => out.reduce((s, v, i) => s + (v - x[i]) ** 2, 0);
  const mse = fq(quantSpec('int3', { scale: { kind: 'mse' }, granularity: { kind: 'row' } }), x, 8, 512);
  const absmax = fq(quantSpec('int3', { granularity: { kind: 'row' } }), x, 8, 512);
  assert.ok(err(mse) < err(absmax), `mse ${err(mse)} vs absmax ${err(absmax)}`);
});

test('stochastic rounding is unbiased in expectation (fixed seed)', () => {
  // 0.3 of a step above a grid point: the mean over many draws must be 0.3 within 4 standard errors.
  const n = 200000;
  const x = new Float32Array(n).fill(1.3);
  x[0] = 7; // absmax 7 -> int4 scale 1
  const spec = quantSpec('int4', { rounding: { kind: 'stochastic', seed: 42, offset: 0 } });
  const out = fq(spec, x, 1, n);
  let sum = 0;
  for (let i = 1; i < n; i++) {
    assert.ok(out[i] === 1 || out[i] === 2);
    sum += out[i];
  }
  const mean = sum / (n - 1);
  const se = Math.sqrt((0.3 * 0.7) / (n - 1));
  assert.ok(Math.abs(mean - 1.3) < 4 * se, `mean ${mean}`);
  // For a minifloat too: E2M1 between 4 and 6 at 5.5 -> mean 5.5.
  const y = new Float32Array(n).fill(5.5);
  const fp = fq(
    quantSpec('fp4_e2m1', { scale: { kind: 'none' }, rounding: { kind: 'stochastic', seed: 1, offset: 0 } }),
    y,
    1,
    n,
  );
  const fpMean = fp.reduce((s, v) => s + v, 0) / n;
  assert.ok(Math.abs(fpMean - 5.5) < 4 * Math.sqrt((0.75 * 0.25 * 4) / n), `fp mean ${fpMean}`);
  // Same seed and offset, same draws; another offset, other draws.
  assert.deepEqual(fq(spec, x, 1, n), out);
  const shifted = fq(quantSpec('int4', { rounding: { kind: 'stochastic', seed: 42, offset: 1 } }), x, 1, n);
  assert.notDeepEqual(shifted, out);
});

test('Float64Array input and out aliasing x give the same result', () => {
  const x = normals(256, 8);
  const spec = quantSpec('int4', { granularity: { kind: 'group', size: 32 } });
  const expected = fq(spec, x, 4, 64);
  const inPlace = Float32Array.from(x);
  fakeQuantArray(spec, inPlace, inPlace, 4, 64, null);
  assert.deepEqual(inPlace, expected);
  const x64 = Float64Array.from(x);
  const out64 = new Float64Array(256);
  fakeQuantArray(spec, x64, out64, 4, 64, null);
  for (let i = 0; i < 256; i++) assert.equal(Math.fround(out64[i]), expected[i]);
});

test('bad input names the argument and the allowed values', () => {
  const x = new Float32Array(12);
  const expectError = (fn: () => void, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof NumericsError && pattern.test(e.message));
  expectError(() => parseFormat('int9'), /format = "int9".*int1, int2/);
  expectError(() => quantSpec('int4', { format: { kind: 'int', bits: 0 } }), /format.bits = 0.*\[1, 8\]/);
  expectError(() => quantSpec('int1'), /format.bits = 1.*\[2, 8\] when symmetric/);
  expectError(
    () => fq(quantSpec('int4', { granularity: { kind: 'group', size: 5 } }), x, 2, 6),
    /granularity.size = 5.*divisor of cols = 6/,
  );
  expectError(() => quantSpec('fp4_e2m1', { symmetric: false }), /symmetric = false/);
  expectError(() => quantSpec('int4', { scale: { kind: 'percentile', p: 0 } }), /scale.p = 0.*\(0, 100\]/);
  expectError(() => quantSpec('mxfp4', { granularity: { kind: 'row' } }), /granularity.*size: 32/);
  expectError(() => quantSpec('bf16', { scale: { kind: 'absmax' } }), /scale = "absmax".*none for bf16/);
  const bad = new Float32Array(12);
  bad[7] = Number.NaN;
  expectError(() => fq(quantSpec('int4'), bad, 2, 6), /x\[7\] = NaN.*finite/);
  expectError(() => fakeQuantArray(quantSpec('int4'), x, new Float32Array(3), 2, 6, null), /out.length = 3/);
  assert.ok(formatNames.includes('mxfp4') && formatNames.includes('fp8_e4m3'));
});
