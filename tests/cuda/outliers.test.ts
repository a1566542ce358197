// The outlier study's pieces on the cuda backend, against the js reference on the same numbers: linear-input
// statistics, per-token W8A8 with the LLM.int8 decomposition, half-precision rounding with its gradient, and the
// training in bf16 with statistics. Skips without a GPU.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { LinearInputStats } from '../../src/nn/outliers.ts';
import { activationQuantizer } from '../../src/ptq/activation-quant.ts';
import * as T from '../../src/tensor/index.ts';
import { train } from '../../src/train/trainer.ts';
import {
  assertNaNHandled,
  assertStatsClose,
  columnStatsCases,
  reference,
  tensorOpStats,
} from '../nn/column-stats-cases.ts';
import { smallData, tinyConfig } from '../train/helpers.ts';
import { assertClose, cuda, skip } from './helpers.ts';

const rows = 256;
const width = 48;
function input(scale = 1): Float32Array {
  const x = Float32Array.from(
    T.tidy(() => T.randn([rows, width], { seed: 7, backend: T.getBackend('js') }).toArray()),
  );
  for (let r = 0; r < rows; r += 4) x[r * width + 11] = 20; // an outlier dimension on a quarter of the rows
  return x.map((v) => v * scale); // scaled here, so every backend starts from the same f32 values
}

function onBackend<R>(name: string, fn: (x: T.Tensor) => R, scale = 1): R {
  const backend = T.getBackend(name);
  return T.tidy(() => fn(T.tensor(input(scale), [rows, width], { backend })));
}

test('columnStats on cuda matches the tensor-op formulation in float64, every kernel path', { skip }, () => {
  // Cases: an outlier column among never-hit ones, width 37, one row, one column, 9000 columns (hit counts in global
  // memory), 4096 x 96 far from zero (many blocks), values exactly at the threshold.
  for (const c of columnStatsCases) {
    const ours = T.tidy(() => [
      ...T.columnStats(T.tensor(c.x, [c.rows, c.cols], { backend: cuda }), c.threshold).toArray(),
    ]);
    assertStatsClose(`cuda, ${c.name}`, ours, tensorOpStats(c.x, c.rows, c.cols, c.threshold));
  }
  const empty = T.tidy(() => T.columnStats(T.zeros([0, 5], { backend: cuda }), 1).toArray());
  assert.deepEqual([...empty], new Array(9).fill(0));
  assertNaNHandled('cuda', (x, rows, cols) =>
    T.tidy(() => [...T.columnStats(T.tensor(x, [rows, cols], { backend: cuda }), 6).toArray()]),
  );
});

test('columnStats on cuda at a training shape: matches, deterministic, leaves the matmul that follows alone', {
  skip,
}, () => {
  // The width of the d384 model's widest site (w_down's input, 4 x 384), a quarter of its 64 x 256 positions (the
  // float64 reference is slow), outliers on three columns.
  const [rows, cols] = [64 * 64, 1536];
  const x = Float32Array.from(
    T.tidy(() => T.randn([rows * cols], { seed: 11, backend: reference }).toArray()),
    (v) => 0.5 * v + 0.1,
  );
  for (let r = 0; r < rows; r += 10) for (const c of [5, 700, 1535]) x[r * cols + c] = r % 20 ? 8 : -8;
  const w = T.tidy(() => T.randn([cols, 64], { seed: 12, backend: cuda }).keep());
  const run = (withStats: boolean) =>
    T.tidy(() => {
      const t = T.tensor(x, [rows, cols], { backend: cuda });
      const stats = withStats ? [...T.columnStats(t, 6).toArray()] : [];
      return { stats, y: [...T.matmul(t, w).toArray()] };
    });
  const [a, b, plain] = [run(true), run(true), run(false)];
  w.dispose();
  assertStatsClose('cuda, 4096 x 1536', a.stats, tensorOpStats(x, rows, cols, 6));
  assert.deepEqual(a.stats, b.stats, 'deterministic');
  assert.equal(a.stats[4 + 700], Math.fround(410 / rows));
  // The statistics keep x's bf16 copy for the matmul (f32_input): the product is the one without them.
  assertClose('the matmul after columnStats', a.y, plain.y, 1e-5, 1e-5);
});

test('linear-input statistics on cuda match js', { skip }, () => {
  const stats = (name: string) =>
    onBackend(name, (x) => {
      const s = new LinearInputStats();
      s.observe('blocks.0.attn.wq.weight', x);
      return s.read();
    });
  const [ours, ref] = [stats('cuda'), stats('js')];
  assert.ok(Math.abs(ours.maxAbs - ref.maxAbs) < 1e-5);
  assert.ok(Math.abs(ours.kurtosis - ref.kurtosis) / ref.kurtosis < 1e-4);
  assert.deepEqual(ours.outlierDims, ref.outlierDims);
  assert.deepEqual(ref.outlierDims, [11]);
});

test('per-token int8 activations with and without the decomposition on cuda match js', { skip }, () => {
  for (const keep of [null, new Map([['w', [11]]])]) {
    const run = (name: string) =>
      onBackend(name, (x) => {
        const q = activationQuantizer('int8', keep, T.getBackend(name));
        const out = Float32Array.from(q.hooks.linearInput!('w', x).toArray());
        q.dispose();
        return out;
      });
    assertClose(`W8A8${keep ? ' + LLM.int8' : ''}`, run('cuda'), run('js'), 1e-6, 1e-6);
  }
});

test('bf16 and f16 rounding through casts, forward and gradient, on cuda match js', { skip }, () => {
  for (const dtype of ['bf16', 'f16'] as const) {
    // x up to 4e4: the outlier's f16 gradient (8e4) overflows to inf.
    const run = (name: string) =>
      onBackend(
        name,
        (x) => {
          const leaf = T.requireGrad(x);
          const y = T.cast(T.cast(leaf, dtype), 'f32');
          T.backward(T.sum(T.mul(y, y)));
          return [Float32Array.from(y.toArray()), Float32Array.from(leaf.grad!.toArray())];
        },
        2000.37,
      );
    const [ours, ref] = [run('cuda'), run('js')];
    assert.deepEqual([...ours[0]], [...ref[0]], `${dtype} forward`);
    assert.deepEqual([...ours[1]], [...ref[1]], `${dtype} gradient`);
    assert.equal(
      ref[1].some((g) => !Number.isFinite(g)),
      dtype === 'f16',
      'only the f16 gradient overflows',
    );
  }
});

test('training dtypes on cuda: bf16 trains with outlier statistics and restores the matmul mode', {
  skip,
}, () => {
  // fp16 on cuda (loss scaling, overflow skipping) is tests/cuda/fp16.test.ts's.
  const data = smallData();
  const dir = () => mkdtempSync(join(tmpdir(), 'bitscale-cuda-dtype-'));
  const before = cuda.matmulMode();
  const config = tinyConfig({ train: { dtype: 'bf16', statsEvery: 5, tokens: 16 * 32 * 10 } });
  const summary = train(config, { outDir: dir(), backend: 'cuda', data });
  assert.equal(summary.status, 'done');
  assert.equal(summary.dtype, 'bf16');
  assert.equal(summary.matmulMode, 'bf16');
  assert.ok(summary.outliers && summary.outliers.actMaxAbs > 0);
  assert.equal(cuda.matmulMode(), before);
});
