// native/cpu/fake_quant.cc against the reference fakeQuantArray: the same bits for every format,
// granularity, scale method and rounding, on both builds of the addon (the AVX2 one has vectorized spans
// and non-temporal stores for large outputs; the portable one keeps scalar loops). Skips (saying why) while
// the addon is not built.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { addonPath } from '../../src/backends/cpu/load-addon.ts';
import { philoxFill } from '../../src/base/philox.ts';
import { fakeQuantArray } from '../../src/numerics/fake-quant.ts';
import { encodeFakeQuantSpec, type FakeQuantSpec, quantSpec } from '../../src/numerics/spec.ts';
import { nativeSkip } from '../native-required.ts';
import { formatCases, granularityCases } from './fake-quant-cases.ts';

type FakeQuantKernel = (
  spec: Float64Array,
  x: Float32Array,
  out: Float32Array,
  rows: number,
  cols: number,
  mask: Float32Array | null,
) => void;

// The build the backend loads (AVX2 where the CPU has it) and the portable one beside it.
const loaded = addonPath();
const builds = [...new Set([loaded, loaded.replace(/_avx2\.node$/, '.node')])].filter((p) => existsSync(p));
const kernels = builds.flatMap((path) => {
  const fakeQuant = (createRequire(import.meta.url)(path) as { fakeQuant?: FakeQuantKernel }).fakeQuant;
  return fakeQuant ? [{ path, fakeQuant }] : [];
});
const skip = nativeSkip(
  kernels.length === 0
    ? `no native addon with fakeQuant at ${loaded} (npx node-gyp rebuild --directory native/cpu -j 2)`
    : false,
);

/** Native output and mask equal the reference's, bit for bit, on every build. */
function compareOn(
  spec: FakeQuantSpec,
  x: Float32Array,
  rows: number,
  cols: number,
  withMask = true,
  offset = 0,
): void {
  const ref = new Float32Array(x.length);
  const refMask = new Float32Array(x.length);
  fakeQuantArray(spec, x, ref, rows, cols, refMask);
  for (const { path, fakeQuant } of kernels) {
    // offset shifts out and mask off their allocation's alignment (the streamed stores must cope).
    const out = new Float32Array(x.length + offset).subarray(offset);
    const mask = withMask ? new Float32Array(x.length + offset).subarray(offset) : null;
    fakeQuant(encodeFakeQuantSpec(spec), x, out, rows, cols, mask);
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(out[i], ref[i]) || (mask && mask[i] !== refMask[i])) {
        assert.fail(
          `${path}: ${JSON.stringify(spec)} at ${i}: x=${x[i]} native ${out[i]}/${mask?.[i]} vs reference ${ref[i]}/${refMask[i]}`,
        );
      }
    }
  }
}

function compare(spec: FakeQuantSpec, rows: number, cols: number, seed: number, scale = 2) {
  const x = new Float32Array(rows * cols);
  philoxFill(x, x.length, 'normal', seed, 0);
  for (let i = 0; i < x.length; i++) x[i] = x[i] * scale * (i % 97 === 0 ? 8 : 1); // some outliers
  compareOn(spec, x, rows, cols);
}

test('native fakeQuant equals the reference bit for bit', { skip }, () => {
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
  for (const scale of [{ kind: 'percentile', p: 99 }, { kind: 'mse' }] as const) {
    for (const symmetric of [true, false]) {
      for (const granularity of granularityCases)
        compare(quantSpec('int4', { scale, symmetric, granularity }), 16, 128, 4);
    }
    compare(quantSpec('fp4_e2m1', { scale, granularity: { kind: 'row' } }), 16, 128, 5);
    compare(quantSpec('nf4', { scale }), 16, 128, 6);
  }
  compare(quantSpec('fp8_e4m3', { scale: { kind: 'none' } }), 4, 64, 7, 300); // saturating casts
  compare(quantSpec('fp16', {}), 4, 64, 8, 30000); // overflow to Inf
  compare(quantSpec('int4', { granularity: { kind: 'group', size: 128 } }), 256, 1024, 9); // parallel path
  compare(quantSpec('fp8_e4m3'), 512, 512, 10); // parallel per-tensor path
  compare(quantSpec('ternary'), 512, 512, 12); // absmean summed in order, from the float input
  compare(quantSpec('int4', { symmetric: false }), 512, 512, 13);
});

// Rows whose absmax makes the scale exactly 1 (int4: 7, fp8 E4M3: 448), so the values below land exactly on
// ties, grid points, subnormal steps and zeros of the grid; float subnormals and signed zeros as inputs.
const edges = [
  [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 6.5, -6.5, 3.5, 1e-45, -1e-45, 1e-40, -0.49999997, 0.50000006],
  [1.0625, -1.0625, 248, -248, 432, -432, 2 ** -10, -(2 ** -10), 3 * 2 ** -10, 2 ** -7 + 2 ** -10, 0.015625],
].flat();

test('native fakeQuant equals the reference on ties, zeros, subnormals and ragged tails', { skip }, () => {
  for (const [name, absmax] of [
    ['int4', 7],
    ['fp8_e4m3', 448],
    ['fp8_e5m2', 57344],
    ['mxint8', 1.984375],
    ['binary', 1], // absmean scales: signed zeros and tails
    ['ternary', 1],
  ] as const) {
    const mx = name.startsWith('mx');
    for (const cols of mx ? [64, 96] : [37, 45, 64]) {
      const rows = 5;
      const x = new Float32Array(rows * cols);
      philoxFill(x, x.length, 'normal', cols, 0);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          x[i] = j === 0 ? absmax : j - 1 < edges.length ? edges[(j - 1 + r) % edges.length] : x[i];
          if (Math.abs(x[i]) > absmax) x[i] = Math.sign(x[i]) * absmax;
        }
      }
      const granularityCases = mx
        ? [{ kind: 'group', size: 32 } as const]
        : ([{ kind: 'row' }, { kind: 'tensor' }] as const);
      for (const granularity of granularityCases) {
        compareOn(quantSpec(name, { granularity }), x, rows, cols);
        compareOn(quantSpec(name, { granularity }), x, rows, cols, false, 1);
      }
      if (name === 'int4')
        compareOn(quantSpec(name, { symmetric: false, granularity: { kind: 'row' } }), x, rows, cols);
      // No scale: values beyond the grid's max saturate.
      if (name === 'fp8_e4m3') {
        const wide = x.map((v, i) => (i % 3 === 0 ? v * 1.9 : v));
        compareOn(quantSpec(name, { scale: { kind: 'none' } }), wide, rows, cols);
      }
    }
  }
});

test('native fakeQuant equals the reference on a 16 MiB tensor (streamed stores, both alignments)', {
  skip,
}, () => {
  const rows = 1024;
  const cols = 4096;
  const x = new Float32Array(rows * cols);
  philoxFill(x, x.length, 'normal', 11, 0);
  compareOn(
    quantSpec('int4', { symmetric: false, granularity: { kind: 'group', size: 128 } }),
    x,
    rows,
    cols,
  );
  compareOn(quantSpec('fp8_e4m3'), x, rows, cols, false, 1);
});

test('native fakeQuant rejects NaN and bad group sizes, naming the argument', { skip }, () => {
  for (const { fakeQuant } of kernels) {
    for (const [i, bad] of [
      [3, Number.NaN],
      [40, Number.POSITIVE_INFINITY],
    ] as const) {
      for (const granularity of [{ kind: 'tensor' }, { kind: 'group', size: 32 }] as const) {
        const x = new Float32Array(64);
        x[i] = bad;
        assert.throws(
          () =>
            fakeQuant(
              encodeFakeQuantSpec(quantSpec('int4', { granularity })),
              x,
              new Float32Array(64),
              1,
              64,
              null,
            ),
          new RegExp(`x\\[${i}\\].*finite`),
        );
      }
    }
    const spec = encodeFakeQuantSpec(quantSpec('int4', { granularity: { kind: 'group', size: 3 } }));
    assert.throws(
      () => fakeQuant(spec, new Float32Array(64), new Float32Array(64), 8, 8, null),
      /granularity.size = 3/,
    );
  }
});
