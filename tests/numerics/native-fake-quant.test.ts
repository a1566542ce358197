// native/cpu/fake_quant.cc against the reference fakeQuantArray: the same bits for every format,
// granularity, scale method and rounding. Skips (saying why) while the addon is not built.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fakeQuantArray } from '../../src/numerics/fake-quant.ts';
import { encodeFakeQuantSpec, type FakeQuantSpec, quantSpec } from '../../src/numerics/spec.ts';
import { philoxFill } from '../../src/tensor/philox.ts';

type FakeQuantKernel = (
  spec: Float64Array,
  x: Float32Array,
  out: Float32Array,
  rows: number,
  cols: number,
  mask: Float32Array | null,
) => void;

const addonPath =
  process.env.BITSCALE_CPU_ADDON ??
  new URL('../../native/cpu/build/Release/bitscale_cpu.node', import.meta.url).pathname;
const addon = existsSync(addonPath)
  ? (createRequire(import.meta.url)(addonPath) as { fakeQuant?: FakeQuantKernel })
  : null;
const skip = !addon
  ? `native addon not built at ${addonPath} (npx node-gyp rebuild --directory native/cpu -j 2)`
  : !addon.fakeQuant
    ? `native addon at ${addonPath} has no fakeQuant (rebuild it with native/cpu/fake_quant.cc)`
    : false;

function compare(spec: FakeQuantSpec, rows: number, cols: number, seed: number, scale = 2) {
  const x = new Float32Array(rows * cols);
  philoxFill(x, x.length, 'normal', seed, 0);
  for (let i = 0; i < x.length; i++) x[i] = x[i] * scale * (i % 97 === 0 ? 8 : 1); // some outliers
  const ref = new Float32Array(x.length);
  const refMask = new Float32Array(x.length);
  fakeQuantArray(spec, x, ref, rows, cols, refMask);
  const out = new Float32Array(x.length);
  const mask = new Float32Array(x.length);
  addon!.fakeQuant!(encodeFakeQuantSpec(spec), x, out, rows, cols, mask);
  for (let i = 0; i < x.length; i++) {
    if (out[i] !== ref[i] || mask[i] !== refMask[i]) {
      assert.fail(
        `${JSON.stringify(spec)} at ${i}: x=${x[i]} native ${out[i]}/${mask[i]} vs reference ${ref[i]}/${refMask[i]}`,
      );
    }
  }
}

const names = [
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
  'ternary',
  'binary',
  'bf16',
  'fp16',
];
const granularities: FakeQuantSpec['granularity'][] = [
  { kind: 'tensor' },
  { kind: 'row' },
  { kind: 'col' },
  { kind: 'group', size: 32 },
];

test('native fakeQuant equals the reference bit for bit', { skip }, () => {
  for (const name of names) {
    for (const granularity of granularities) {
      for (const rounding of [{ kind: 'nearest' }, { kind: 'stochastic', seed: 9, offset: 5 }] as const) {
        compare(quantSpec(name, { granularity, rounding }), 16, 128, 1);
      }
    }
  }
  for (const name of ['mxfp8_e4m3', 'mxfp8_e5m2', 'mxfp6_e3m2', 'mxfp6_e2m3', 'mxfp4', 'mxint8'])
    compare(quantSpec(name), 8, 128, 2);
  for (const bits of [1, 2, 4, 8]) {
    for (const granularity of granularities)
      compare(quantSpec(`int${bits}`, { symmetric: false, granularity }), 16, 128, 3);
  }
  for (const scale of [{ kind: 'percentile', p: 99 }, { kind: 'mse' }] as const) {
    for (const symmetric of [true, false]) {
      for (const granularity of granularities)
        compare(quantSpec('int4', { scale, symmetric, granularity }), 16, 128, 4);
    }
    compare(quantSpec('fp4_e2m1', { scale, granularity: { kind: 'row' } }), 16, 128, 5);
    compare(quantSpec('nf4', { scale }), 16, 128, 6);
  }
  compare(quantSpec('fp8_e4m3', { scale: { kind: 'none' } }), 4, 64, 7, 300); // saturating casts
  compare(quantSpec('fp16', {}), 4, 64, 8, 30000); // overflow to Inf
  compare(quantSpec('int4', { granularity: { kind: 'group', size: 128 } }), 256, 1024, 9); // parallel path
  compare(quantSpec('fp8_e4m3'), 512, 512, 10); // parallel per-tensor path
});

test('native fakeQuant rejects NaN and bad group sizes, naming the argument', { skip }, () => {
  const x = new Float32Array(64);
  x[3] = Number.NaN;
  assert.throws(
    () => addon!.fakeQuant!(encodeFakeQuantSpec(quantSpec('int4')), x, new Float32Array(64), 8, 8, null),
    /x\[3\].*finite/,
  );
  const spec = encodeFakeQuantSpec(quantSpec('int4', { granularity: { kind: 'group', size: 3 } }));
  assert.throws(
    () => addon!.fakeQuant!(spec, new Float32Array(64), new Float32Array(64), 8, 8, null),
    /granularity.size = 3/,
  );
});
