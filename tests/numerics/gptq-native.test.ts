// GPTQ on the native kernels (native/cpu/gptq.cc) against the TypeScript reference (src/numerics/gptq.ts):
// the same Hessian and inverse Cholesky factor to rounding, the same weights, codes and scales. Sizes are
// chosen so that every kernel takes its parallel path. Skips (saying why) while the addon is not built.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nativeGptqKernels, registerNativeGptq } from '../../src/backends/cpu/gptq-kernels.ts';
import { loadCpuAddon } from '../../src/backends/cpu/load-addon.ts';
import { philoxFill } from '../../src/base/philox.ts';
import { type GptqOptions, gptqQuantize, hessianFromActivations } from '../../src/numerics/gptq.ts';
import { type GptqKernels, gptqKernels, setGptqKernels } from '../../src/numerics/gptq-kernels.ts';
import { inverseCholeskyUpper } from '../../src/numerics/linalg.ts';
import { nativeSkip } from '../native-required.ts';

const loaded = loadCpuAddon();
const native = 'error' in loaded ? null : nativeGptqKernels(loaded.addon);
const skip = nativeSkip(
  'error' in loaded ? loaded.error : native ? false : `${loaded.path} has no GPTQ kernels: rebuild it`,
);

const rows = 64;
const cols = 512;
const tokens = 600;

/** Correlated activations (each input leans on its neighbour) with one dead input column. */
function activations(): Float32Array {
  const x = new Float32Array(tokens * cols);
  philoxFill(x, x.length, 'normal', 1, 0);
  for (let t = 0; t < tokens; t++) {
    for (let j = 1; j < cols; j++) x[t * cols + j] += 0.6 * x[t * cols + j - 1];
    x[t * cols + 7] = 0;
  }
  return x;
}

function maxRelativeDiff(a: Float64Array, b: Float64Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

test('native Hessian and inverse Cholesky factor equal the reference to rounding', { skip }, () => {
  const x = activations();
  const h = hessianFromActivations(x, tokens, cols, null);
  const hn = hessianFromActivations(x, tokens, cols, native);
  assert.ok(maxRelativeDiff(h, hn) < 1e-13, `hessian differs by ${maxRelativeDiff(h, hn)}`);
  for (let i = 0; i < cols; i++) h[i * cols + i] += 0.05;
  const u = inverseCholeskyUpper(h, cols);
  native!.inverseCholeskyUpper(h, cols);
  assert.ok(maxRelativeDiff(u, h) < 1e-9, `U differs by ${maxRelativeDiff(u, h)}`);
  for (let i = 1; i < cols; i++) assert.equal(h[i * cols + i - 1], 0, 'U is upper triangular');
});

test('native inverse Cholesky names the failing pivot of a matrix that is not positive definite', {
  skip,
}, () => {
  const n = 4;
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) h[i * n + i] = i === 1 ? -1 : 1;
  assert.throws(
    () => native!.inverseCholeskyUpper(h, n),
    /gptqInverseCholesky.*hessian pivot \[2\].*dampPercent/,
  );
});

test('native GPTQ gives the reference weights, codes and scales (to 1e-5)', { skip }, () => {
  const x = activations();
  const h = hessianFromActivations(x, tokens, cols, null);
  const w = new Float32Array(rows * cols);
  philoxFill(w, w.length, 'normal', 2, 0);
  const variants: GptqOptions[] = [
    { bits: 4, groupSize: 128 },
    { bits: 3, groupSize: 64, actOrder: true },
    { bits: 4, symmetric: false, groupSize: 32, blockSize: 96 }, // blocks that cut groups
    { bits: 2, symmetric: false, actOrder: true }, // one group per row, wider than a block
    { bits: 8, groupSize: 256, blockSize: 512 },
    // Two-level lazy updates (spans of blocks): groups inside spans, spans inside groups, and neither.
    { bits: 4, groupSize: 64, blockSize: 32, spanColumns: 128 },
    { bits: 3, groupSize: 256, blockSize: 32, spanColumns: 128 },
    { bits: 4, symmetric: false, blockSize: 64, spanColumns: 128 },
    { bits: 4, groupSize: 128, blockSize: 64, spanColumns: 192 },
    { bits: 4, groupSize: 128, blockSize: 64, spanColumns: 192, actOrder: true },
  ];
  for (const options of variants) {
    const ref = gptqQuantize(w, rows, cols, h, { ...options, kernels: null });
    const got = gptqQuantize(w, rows, cols, h, { ...options, kernels: native });
    let dw = 0;
    let codes = 0;
    for (let i = 0; i < w.length; i++) {
      dw = Math.max(dw, Math.abs(ref.weight[i] - got.weight[i]));
      if (ref.codes[i] !== got.codes[i]) codes++;
    }
    let ds = 0;
    for (let i = 0; i < ref.scales.length; i++) {
      ds = Math.max(ds, Math.abs(ref.scales[i] - got.scales[i]), Math.abs(ref.zeros[i] - got.zeros[i]));
    }
    const label = JSON.stringify(options);
    assert.ok(dw <= 1e-5, `${label}: weights differ by ${dw}`);
    assert.equal(codes, 0, `${label}: ${codes} codes differ`);
    assert.ok(ds <= 1e-5, `${label}: scales or zeros differ by ${ds}`);
  }
});

test('registered kernels become the default of gptqQuantize and hessianFromActivations', { skip }, () => {
  const before = gptqKernels();
  try {
    assert.equal(registerNativeGptq(), true);
    assert.notEqual(gptqKernels(), null);
    const calls: string[] = [];
    const k = native!;
    const spy: GptqKernels = {
      hessian(...a) {
        calls.push('hessian');
        k.hessian(...a);
      },
      inverseCholeskyUpper(...a) {
        calls.push('inverseCholeskyUpper');
        k.inverseCholeskyUpper(...a);
      },
      quantizeBlock(...a) {
        calls.push('quantizeBlock');
        k.quantizeBlock(...a);
      },
      lazyUpdate(...a) {
        calls.push('lazyUpdate');
        k.lazyUpdate(...a);
      },
    };
    setGptqKernels(spy);
    const x = new Float32Array(32 * 64);
    philoxFill(x, x.length, 'normal', 3, 0);
    const h = hessianFromActivations(x, 32, 64);
    gptqQuantize(new Float32Array(8 * 64).fill(0.5), 8, 64, h, { bits: 4, blockSize: 32 });
    assert.deepEqual(
      new Set(calls),
      new Set(['hessian', 'inverseCholeskyUpper', 'quantizeBlock', 'lazyUpdate']),
    );
    assert.equal(calls.filter((c) => c === 'quantizeBlock').length, 2, 'one call per block of 32 columns');
    assert.equal(calls.filter((c) => c === 'lazyUpdate').length, 3, 'one per block, one per span');
  } finally {
    setGptqKernels(before);
  }
});

test('native GPTQ kernels reject bad arguments, naming them', { skip }, () => {
  const k = native!;
  assert.throws(
    () => k.hessian(new Float32Array(10), 4, 4, new Float64Array(16)),
    /argument 0 \(x\).*needs 16/,
  );
  assert.throws(() => k.inverseCholeskyUpper(new Float64Array(8), 3), /argument 0 \(h\).*needs 9/);
  const f = (n: number) => new Float64Array(n);
  const groupOf = new Int32Array(4);
  assert.throws(
    () => k.quantizeBlock(f(16), f(16), f(16), 4, f(16), f(4), f(4), groupOf, 4, 4, 0, 4, 3, 4, true, false),
    /group = 3 is not allowed; expected a divisor of cols = 4/,
  );
  assert.throws(
    () => k.quantizeBlock(f(16), f(16), f(16), 4, f(16), f(4), f(4), groupOf, 4, 4, 0, 4, 4, 1, true, false),
    /bits = 1 is not allowed; expected 2..8/,
  );
  assert.throws(() => k.lazyUpdate(f(16), f(16), 4, f(16), 4, 4, 3, 2, 4), /i1 = 3, i2 = 2 are not allowed/);
  assert.throws(() => k.lazyUpdate(f(16), f(16), 1, f(16), 4, 4, 0, 2, 4), /ldErr = 1 is not allowed/);
  assert.throws(() => k.lazyUpdate(f(16), f(16), 2, f(16), 4, 4, 0, 2, 5), /end = 5 is not allowed/);
  assert.throws(() => k.lazyUpdate(f(16), f(6), 2, f(16), 4, 4, 0, 2, 4), /argument 1 \(err\).*needs 8/);
});
