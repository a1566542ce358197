// The cuda fakeQuant against the reference fakeQuantArray: the same bits for every format, granularity and
// rounding (mse, whose error sums run in another order, to the reference's squared error). Skips without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { philoxFill } from '../../src/base/philox.ts';
import { fakeQuantArray } from '../../src/numerics/fake-quant.ts';
import { type FakeQuantSpec, quantSpec } from '../../src/numerics/spec.ts';
import { formatCases, granularityCases } from '../numerics/fake-quant-cases.ts';
import { cuda, download, skip, upload } from './helpers.ts';

function compare(
  spec: FakeQuantSpec,
  rows: number,
  cols: number,
  seed: number,
  scale = 2,
  withMask = true,
  ties = false,
) {
  const n = rows * cols;
  const x = new Float32Array(n);
  philoxFill(x, n, 'normal', seed, 0);
  for (let i = 0; i < n; i++) x[i] = x[i] * scale * (i % 97 === 0 ? 8 : 1); // some outliers
  if (ties) nearTies(x, spec, rows);
  const ref = new Float32Array(n);
  const refMask = new Float32Array(n);
  fakeQuantArray(spec, x, ref, rows, cols, refMask);
  const cx = upload(x);
  const cout = cuda.alloc('f32', n);
  const cmask = withMask ? cuda.alloc('f32', n) : null;
  cuda.fakeQuant(spec, cx, cout, rows, cols, cmask);
  const out = download(cout, n);
  const mask = cmask ? download(cmask, n) : refMask;
  for (const s of [cx, cout, cmask]) if (s) cuda.free(s);
  if (spec.scale.kind === 'mse') {
    let ours = 0;
    let theirs = 0;
    for (let i = 0; i < n; i++) {
      ours += (out[i] - x[i]) ** 2;
      theirs += (ref[i] - x[i]) ** 2;
    }
    assert.ok(
      Math.abs(ours - theirs) <= 1e-6 * theirs,
      `${JSON.stringify(spec)}: squared error ${ours} vs ${theirs}`,
    );
    return;
  }
  for (let i = 0; i < n; i++) {
    if (out[i] !== ref[i] || mask[i] !== refMask[i]) {
      assert.fail(
        `${JSON.stringify(spec)} at ${i}: x=${x[i]} cuda ${out[i]}/${mask[i]} vs reference ${ref[i]}/${refMask[i]}`,
      );
    }
  }
}

/** Moves every fifth value of each scale group (symmetric integer grids, per tensor or per row) to the float nearest
 *  a midpoint between two grid points, where rounding in float could differ from the reference's double. */
function nearTies(x: Float32Array, spec: FakeQuantSpec, rows: number) {
  const { format, granularity } = spec;
  if (format.kind !== 'int' || !spec.symmetric) throw new Error('nearTies: symmetric int formats only');
  const qmax = 2 ** (format.bits - 1) - 1;
  const groups = granularity.kind === 'row' ? rows : 1;
  const length = x.length / groups;
  for (let g = 0; g < groups; g++) {
    let absmax = 0;
    for (let i = g * length; i < (g + 1) * length; i++) absmax = Math.max(absmax, Math.abs(x[i]));
    const step = absmax / qmax;
    for (let i = g * length + 1; i < (g + 1) * length; i += 5) {
      const k = Math.min(Math.floor(Math.abs(x[i]) / step), qmax - 1);
      x[i] = Math.sign(x[i] || 1) * Math.fround((k + 0.5) * step);
    }
  }
}

test('cuda fakeQuant equals the reference bit for bit', { skip }, () => {
  for (const name of formatCases) {
    for (const granularity of granularityCases) {
      for (const rounding of [{ kind: 'nearest' }, { kind: 'stochastic', seed: 9, offset: 5 }] as const) {
        compare(quantSpec(name, { granularity, rounding }), 16, 128, 1);
      }
    }
  }
  for (const name of ['mxfp8_e4m3', 'mxfp8_e5m2', 'mxfp6_e3m2', 'mxfp6_e2m3', 'mxfp4', 'mxint8'])
    compare(quantSpec(name), 8, 128, 2);
  for (const bits of [1, 2, 4, 8]) {
    for (const granularity of granularityCases)
      compare(quantSpec(`int${bits}`, { symmetric: false, granularity }), 16, 128, 3);
  }
  // Without an STE mask, short rows and groups (a KV head row) take the kernel that quantizes several groups a
  // warp: every length it has a shape for, group counts that leave a warp's last groups idle.
  for (const bits of [2, 4, 8]) {
    for (const symmetric of [true, false]) {
      for (const rounding of [{ kind: 'nearest' }, { kind: 'stochastic', seed: 3, offset: 1 }] as const) {
        for (const cols of [32, 64, 128, 256, 512])
          compare(
            quantSpec(`int${bits}`, { symmetric, rounding, granularity: { kind: 'row' } }),
            13,
            cols,
            7,
            2,
            false,
          );
        compare(
          quantSpec(`int${bits}`, { symmetric, rounding, granularity: { kind: 'group', size: 64 } }),
          5,
          192,
          8,
          2,
          false,
        );
      }
    }
  }
  for (const scale of [{ kind: 'percentile', p: 99 }, { kind: 'mse' }] as const) {
    for (const symmetric of [true, false]) {
      for (const granularity of granularityCases)
        compare(quantSpec('int4', { scale, symmetric, granularity }), 16, 128, 4);
    }
    compare(quantSpec('fp4_e2m1', { scale, granularity: { kind: 'row' } }), 16, 128, 5);
    compare(quantSpec('nf4', { scale }), 16, 128, 6);
  }
  compare(quantSpec('ternary', { scale: { kind: 'absmean' } }), 16, 128, 11);
  compare(quantSpec('fp8_e4m3', { scale: { kind: 'none' } }), 4, 64, 7, 300); // saturating casts
  compare(quantSpec('fp16', {}), 4, 64, 8, 30000); // overflow to Inf
  compare(quantSpec('int4', { granularity: { kind: 'group', size: 128 } }), 256, 1024, 9);
  compare(quantSpec('int8'), 2048, 1024, 10); // per-tensor over the whole grid
});

test('cuda fakeQuant: the integer grid fast paths (no STE mask) equal the reference, ties and odd lengths too', {
  skip,
}, () => {
  for (const bits of [2, 4, 8]) {
    for (const symmetric of [true, false]) {
      // Per tensor (values looked up by grid index), lengths that leave a grid-stride loop's last wave partial.
      compare(quantSpec(`int${bits}`, { symmetric }), 333, 96, 20 + bits, 2, false);
      // Rows held in registers: lengths that fill no whole warp of float4s (100, 2736), the longest (3072), and
      // lengths the kernel does not take (3076: too long; 30: not whole float4s), which fall back.
      for (const cols of [100, 1024, 2736, 3072, 3076, 30])
        compare(
          quantSpec(`int${bits}`, { symmetric, granularity: { kind: 'row' } }),
          9,
          cols,
          30 + bits,
          2,
          false,
        );
    }
    // Values a float's error away from a rounding midpoint: the double path decides them.
    compare(quantSpec(`int${bits}`), 64, 256, 40 + bits, 2, false, true);
    compare(quantSpec(`int${bits}`, { granularity: { kind: 'row' } }), 64, 256, 50 + bits, 2, false, true);
  }
  compare(quantSpec('mxint8'), 8, 128, 60, 2, false); // a step of 2^-6, scales that are powers of two
  compare(quantSpec('int8'), 16, 64, 61, 1e-39, false); // tiny values: a scale whose inverse float cannot hold
});

test('cuda fakeQuant rejects bad group sizes at once and NaN at the next read', { skip }, () => {
  const x = new Float32Array(64);
  x[3] = Number.NaN;
  const cx = upload(x);
  const out = cuda.alloc('f32', 64);
  assert.throws(
    () => cuda.fakeQuant(quantSpec('int4', { granularity: { kind: 'group', size: 3 } }), cx, out, 8, 8, null),
    /granularity.size = 3/,
  );
  cuda.fakeQuant(quantSpec('int4'), cx, out, 8, 8, null);
  assert.throws(() => cuda.read(out, 'f32', 64), /x\[3\].*finite/);
});
