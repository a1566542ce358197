// The table-lookup GEMV (native/cpu/onebit_lut.cc) and the exact ternary kernel, both builds, both formats,
// against the float64 reference: the LUT within its stated bound (and the bound is tight enough to matter),
// the generic and AVX2 builds (AVX2, AVX-512, AVX-512 VBMI paths) bit-identical, the exact ternary kernel within fp32 summation error.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CpuAddon } from '../../src/backends/cpu/addon-types.ts';
import { cpuHasAvx2Fma } from '../../src/backends/cpu/load-addon.ts';
import {
  nativePackedLutGemm,
  nativeTernaryGemm,
  type PackedLutGemm,
} from '../../src/backends/cpu/onebit-kernel.ts';
import {
  LUT_TILE,
  lutErrorBound,
  packedGemm,
  packedGemmReference,
  packedGemvLut,
  tileCodes,
} from '../../src/onebit/gemv.ts';
import { packSigns, packTernary } from '../../src/onebit/packed.ts';
import type { PackedLinear } from '../../src/onebit/packed-file.ts';

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}

const ternaryOf = (v: Float32Array) => Array.from(v, (x) => (x > 0.3 ? 1 : x < -0.3 ? -1 : 0));

function layerOf(format: 'sign1' | 'ternary2', rows: number, cols: number, seed: number): PackedLinear {
  const w = rand(rows * cols, seed);
  return {
    weight: format === 'sign1' ? packSigns(w, rows, cols) : packTernary(ternaryOf(w), rows, cols),
    g: rand(cols, seed + 1),
    h: rand(rows, seed + 2),
  };
}

const build = fileURLToPath(new URL('../../native/cpu/build/Release/', import.meta.url));
const builds = [
  ['generic', `${build}bitscale_cpu.node`, true],
  ['avx2', `${build}bitscale_cpu_avx2.node`, cpuHasAvx2Fma()],
] as const;
const load = (path: string) => createRequire(import.meta.url)(path) as CpuAddon;

// Rows straddle the 64-row tile and the AVX-512 paths' groups of 4 tiles (330 rows: one group and 2 tiles more);
// columns the code byte, the 32-byte scale block (256 or 128 columns) and more.
const shapes = [
  [1, 1],
  [5, 9],
  [33, 70],
  [64, 256],
  [31, 257],
  [70, 1000],
  [130, 64],
  [330, 300],
];

test('tileCodes puts byte j of 64 consecutive rows side by side, zero past the last row', () => {
  const layer = layerOf('sign1', 70, 20, 3);
  const t = tileCodes(layer.weight);
  const rb = 3;
  assert.equal(LUT_TILE, 64);
  assert.equal(t.length, 2 * LUT_TILE * rb);
  assert.equal(t[(1 * rb + 2) * LUT_TILE + 1], layer.weight.codes[65 * rb + 2]);
  assert.equal(t[(0 * rb + 1) * LUT_TILE + 63], layer.weight.codes[63 * rb + 1]);
  assert.equal(t[(1 * rb + 0) * LUT_TILE + 6], 0);
});

/** The kernel held to its AVX2 path (the AVX2 build picks AVX-512 where the CPU has it). */
const withoutAvx512 =
  (k: PackedLutGemm): PackedLutGemm =>
  (tiled, g, h, x, y, rows, cols, batch, ternary) =>
    k(tiled, g, h, x, y, rows, cols, batch, ternary, true);

/** The kernel's AVX-512 path without VBMI (pshufb, not vpermb), where the CPU would take vpermb. */
const withoutVbmi =
  (k: PackedLutGemm): PackedLutGemm =>
  (...args) => {
    process.env.BITSCALE_LUT_NO_VBMI = '1';
    try {
      k(...args);
    } finally {
      delete process.env.BITSCALE_LUT_NO_VBMI;
    }
  };

/** A build's kernel on each of its paths: its default, held to AVX2, and AVX-512 without VBMI. */
const paths = (k: PackedLutGemm) =>
  [
    ['default', k],
    ['noAvx512', withoutAvx512(k)],
    ['noVbmi', withoutVbmi(k)],
  ] as const;

for (const [name, path, runnable] of builds) {
  test(`packedLutGemm (${name} build): within the stated bound of the reference, both formats`, (t) => {
    if (!runnable || !existsSync(path)) return t.skip(`${name} build not available here`);
    const native = nativePackedLutGemm(load(path));
    assert.ok(native, 'the addon has packedLutGemm');
    for (const [isa, kernel] of paths(native))
      for (const format of ['sign1', 'ternary2'] as const)
        for (const [rows, cols] of shapes) {
          const layer = layerOf(format, rows, cols, rows * 7 + cols);
          for (const batch of [1, 3]) {
            const x = rand(batch * cols, batch + cols);
            const want = packedGemmReference(layer, x, batch);
            const bound = lutErrorBound(layer, x, batch);
            const got = packedGemvLut(layer, x, batch, undefined, kernel);
            for (let i = 0; i < want.length; i++)
              assert.ok(
                Math.abs(got[i] - want[i]) <= bound[i],
                `${isa} ${format} [${rows}x${cols}] batch ${batch} y[${i}]: ${got[i]} vs ${want[i]} (bound ${bound[i]})`,
              );
          }
        }
    // The bound is the worst case (every rounding the same way); the typical error, on a wide layer, is far
    // smaller: rounding errors of independent lookups add like a random walk.
    const layer = layerOf('sign1', 256, 4096, 5);
    const x = rand(4096, 6);
    const y = packedGemmReference(layer, x, 1);
    const err = packedGemvLut(layer, x, 1, undefined, native).map((v, i) => v - y[i]);
    const rms = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0) / a.length);
    assert.ok(rms(err) < 0.01 * rms(y), `error ${rms(err)} vs |y| ${rms(y)}`);
  });

  test(`ternaryGemm (${name} build) matches the reference exactly up to fp32 summation`, (t) => {
    if (!runnable || !existsSync(path)) return t.skip(`${name} build not available here`);
    const gemm = nativeTernaryGemm(load(path));
    assert.ok(gemm, 'the addon has ternaryGemm');
    for (const [rows, cols] of shapes)
      for (const batch of [1, 2, 5]) {
        const layer = layerOf('ternary2', rows, cols, rows + 3 * cols);
        const x = rand(batch * cols, batch * 11);
        const want = packedGemmReference(layer, x, batch);
        const got = new Float32Array(batch * rows).fill(Number.NaN);
        gemm(layer.weight.codes, layer.g, layer.h, x, got, rows, cols, batch);
        for (let i = 0; i < want.length; i++)
          assert.ok(
            Math.abs(got[i] - want[i]) <= 1e-6 * cols + 1e-6,
            `[${rows}x${cols}] y[${i}]: ${got[i]} vs ${want[i]}`,
          );
      }
    assert.throws(
      () =>
        gemm(
          new Uint8Array(3),
          new Float32Array(9),
          new Float32Array(2),
          new Float32Array(9),
          new Float32Array(2),
          2,
          9,
          1,
        ),
      /ternaryGemm.*codes.*6/,
    );
  });
}

for (const [name, path, runnable] of builds)
  test(`packedLutGemm (${name} build): a vector whose x ⊙ g is not finite gives NaN outputs, the others are untouched`, (t) => {
    if (!runnable || !existsSync(path)) return t.skip(`${name} build not available here`);
    const native = nativePackedLutGemm(load(path));
    assert.ok(native, 'the addon has packedLutGemm');
    for (const format of ['sign1', 'ternary2'] as const) {
      const [rows, cols] = [70, 300];
      const layer = layerOf(format, rows, cols, 11);
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const x = rand(3 * cols, 12);
        x[cols + 17] = bad; // vector 1
        const got = packedGemvLut(layer, x, 3, undefined, native);
        const want = packedGemmReference(layer, x, 3);
        const bound = lutErrorBound(layer, x, 3);
        for (let r = 0; r < rows; r++) {
          assert.ok(Number.isNaN(got[rows + r]), `${format} ${bad}: y[1][${r}] = ${got[rows + r]}`);
          for (const b of [0, 2])
            assert.ok(
              Math.abs(got[b * rows + r] - want[b * rows + r]) <= bound[b * rows + r],
              `${format} y[${b}][${r}]`,
            );
        }
      }
    }
  });

for (const [name, path, runnable] of builds)
  test(`packedLutGemm (${name} build): each vector of a batch gets exactly what a call with it alone gives, every path`, (t) => {
    if (!runnable || !existsSync(path)) return t.skip(`${name} build not available here`);
    const native = nativePackedLutGemm(load(path));
    assert.ok(native, 'the addon has packedLutGemm');
    const alone = (kernel: PackedLutGemm, layer: PackedLinear, x: Float32Array, batch: number) => {
      const { cols } = layer.weight;
      return Array.from({ length: batch }, (_, b) =>
        Array.from(packedGemvLut(layer, x.subarray(b * cols, (b + 1) * cols), 1, undefined, kernel)),
      );
    };
    for (const [isa, kernel] of paths(native))
      for (const format of ['sign1', 'ternary2'] as const)
        for (const [rows, cols] of shapes) {
          const layer = layerOf(format, rows, cols, rows * 5 + cols);
          // Batches around the kernel's vectors per pass (a few), and past it in chunks with a remainder.
          for (const batch of [2, 3, 5, 9]) {
            const x = rand(batch * cols, 3 * batch + cols);
            if (batch === 5) x[2 * cols + (cols >> 1)] = Number.NaN; // vector 2: NaN outputs, the rest as alone
            const got = packedGemvLut(layer, x, batch, undefined, kernel);
            const want = alone(kernel, layer, x, batch);
            for (let b = 0; b < batch; b++)
              assert.deepEqual(
                Array.from(got.subarray(b * rows, (b + 1) * rows)),
                want[b],
                `${isa} ${format} [${rows}x${cols}] batch ${batch} vector ${b}`,
              );
            if (batch === 5) assert.ok(want[2].every(Number.isNaN));
          }
        }
  });

test('the portable, AVX2 and AVX-512 (vpermb and pshufb) table-lookup paths give bit-identical results', (t) => {
  if (!cpuHasAvx2Fma() || !builds.every(([, p]) => existsSync(p))) return t.skip('both builds needed');
  const [generic, avx2] = builds.map(([, p]) => nativePackedLutGemm(load(p))!);
  const avx2Only = withoutAvx512(avx2);
  for (const format of ['sign1', 'ternary2'] as const) {
    // 580 rows (10 tiles): two groups of 4 tiles and two tiles more (the AVX-512 paths' group and single-tile code)
    const layer = layerOf(format, 580, 1500, 9);
    const x = rand(2 * 1500, 10);
    const want = packedGemvLut(layer, x, 2, undefined, generic);
    assert.deepEqual(packedGemvLut(layer, x, 2, undefined, avx2), want);
    assert.deepEqual(packedGemvLut(layer, x, 2, undefined, avx2Only), want);
    assert.deepEqual(packedGemvLut(layer, x, 2, undefined, withoutVbmi(avx2)), want);
  }
});

test('packedGemm runs ternary layers through the native kernel', () => {
  const layer = layerOf('ternary2', 40, 77, 12);
  const x = rand(2 * 77, 13);
  const want = packedGemmReference(layer, x, 2);
  const got = packedGemm(layer, x, 2);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-4);
});
