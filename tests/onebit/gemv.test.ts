// The native packed GEMM (both builds) against the TypeScript reference, on odd shapes and batches.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CpuAddon } from '../../src/backends/cpu/addon-types.ts';
import { cpuHasAvx2Fma } from '../../src/backends/cpu/load-addon.ts';
import { nativeOnebitGemm } from '../../src/backends/cpu/onebit-kernel.ts';
import { onebitGemm, onebitGemmReference } from '../../src/onebit/gemv.ts';
import { packSigns, packTernary } from '../../src/onebit/packed.ts';
import type { PackedLinear } from '../../src/onebit/packed-file.ts';

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}

const build = fileURLToPath(new URL('../../native/cpu/build/Release/', import.meta.url));
const builds = [
  ['generic', `${build}bitscale_cpu.node`, true],
  ['avx2', `${build}bitscale_cpu_avx2.node`, cpuHasAvx2Fma()],
] as const;

// Shapes straddle the AVX2 word (32 columns) and byte boundaries, and the kernel's column blocks (4096 / chunk
// columns: 2100 and 4133 span several); batches 1..7 hit every chunk size.
const shapes = [
  [1, 1],
  [3, 7],
  [17, 33],
  [65, 100],
  [129, 257],
  [300, 1000],
  [9, 2100],
  [40, 4133],
];

for (const [name, path, runnable] of builds) {
  test(`onebitGemm (${name} build) matches the reference on odd shapes and batches`, (t) => {
    if (!runnable || !existsSync(path)) return t.skip(`${name} build not available here`);
    const addon = createRequire(import.meta.url)(path) as CpuAddon;
    const gemm = nativeOnebitGemm(addon);
    assert.ok(gemm, 'the addon has onebitGemm');
    for (const [rows, cols] of shapes) {
      const layer: PackedLinear = {
        weight: packSigns(rand(rows * cols, rows + cols), rows, cols),
        g: rand(cols, 7),
        h: rand(rows, 8),
      };
      for (const batch of [1, 2, 3, 5, 7]) {
        const x = rand(batch * cols, batch);
        const want = onebitGemmReference(layer, x, batch);
        const got = new Float32Array(batch * rows).fill(Number.NaN);
        gemm(layer.weight.codes, layer.g, layer.h, x, got, rows, cols, batch);
        // fp32 sums of cols terms of size <= 1 against a float64 sum: relative to the terms' scale.
        const tol = 1e-6 * cols + 1e-6;
        for (let i = 0; i < want.length; i++)
          assert.ok(
            Math.abs(got[i] - want[i]) <= tol,
            `[${rows}x${cols}] batch ${batch} y[${i}]: ${got[i]} vs ${want[i]}`,
          );
      }
    }
    assert.throws(
      () =>
        gemm(
          new Uint8Array(3),
          new Float32Array(20),
          new Float32Array(4),
          new Float32Array(20),
          new Float32Array(4),
          4,
          20,
          1,
        ),
      /onebitGemm.*codes.*12/,
    );
  });
}

test('onebitGemm (the library entry) matches the reference, writes into `out`, and refuses ternary layers', () => {
  const [rows, cols, batch] = [33, 70, 3];
  const layer: PackedLinear = {
    weight: packSigns(rand(rows * cols, 11), rows, cols),
    g: rand(cols, 12),
    h: rand(rows, 13),
  };
  const x = rand(batch * cols, 14);
  const want = onebitGemmReference(layer, x, batch);
  const out = new Float32Array(batch * rows);
  assert.equal(onebitGemm(layer, x, batch, out), out);
  for (const [i, v] of out.entries()) assert.ok(Math.abs(v - want[i]) <= 1e-4, `y[${i}]: ${v} vs ${want[i]}`);
  const ternary = { ...layer, weight: packTernary(new Array(rows * cols).fill(1), rows, cols) };
  assert.throws(() => onebitGemm(ternary, x, batch), /weight.format: ternary2/);
  assert.throws(() => onebitGemm(layer, x.subarray(1), batch), /x.length/);
});
