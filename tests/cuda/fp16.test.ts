// Real fp16 compute on the cuda backend (matmul mode 'fp16'): cuBLASLt products and tensor-core flash attention on
// IEEE half operands with fp32 accumulation, against the fp32 js reference; what happens past fp16's range; and
// fp16 training with dynamic loss scaling. Skips without a GPU.
//
// Tolerances: rounding an operand to half costs a relative 2^-12 at most (11-bit significand), 8 times less than
// bf16's 2^-9, so each fp16 result must sit well inside the bf16 tolerance and below a fraction of the bf16 error
// of the same case (which shows the half path, not the bf16 one, ran). tf32 has as many significand bits as half
// but fp32's range: the overflow test tells the two apart.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type MatmulArgs, matmulArgs } from '../../src/backends/backend.ts';
import '../../src/backends/index.ts';
import { train } from '../../src/train/trainer.ts';
import { smallData, tinyConfig } from '../train/helpers.ts';
import {
  type AttentionResult,
  attentionBoth,
  cuda,
  download,
  inMode,
  js,
  normal,
  ref,
  relError,
  skip,
  upload,
} from './helpers.ts';

/** The js fp32 reference and the cuda result of one product (c0: the accumulated-into output). */
function matmulBoth(a: Float32Array, b: Float32Array, c0: Float32Array, args: MatmulArgs) {
  const size = args.batch * args.m * args.n;
  const r = ref(c0);
  js.matmul(ref(a), ref(b), r, args);
  const out = upload(c0);
  cuda.matmul(upload(a), upload(b), out, args);
  return { want: js.read(r, 'f32', size) as Float32Array, got: download(out, size) as Float32Array };
}

test('fp16 matmul mode: plain, shared-B batch, transposes, real batch strides, broadcast A, accumulate', {
  skip,
}, () => {
  const [m, n, k, batch] = [70, 50, 300, 3];
  const cases: [string, MatmulArgs, number, number][] = [
    // name, args, elements of A, elements of B
    ['plain', matmulArgs(m, n, k), m * k, k * n],
    [
      'shared B, batch folded',
      matmulArgs(m, n, k, { batch, aBatchStride: m * k, alpha: 0.5 }),
      batch * m * k,
      k * n,
    ],
    [
      'transA transB, strided batch, accumulate',
      matmulArgs(m, n, k, {
        batch,
        transA: true,
        transB: true,
        aBatchStride: k * m,
        bBatchStride: n * k,
        accumulate: true,
      }),
      batch * k * m,
      batch * n * k,
    ],
    [
      'transB only',
      matmulArgs(m, n, k, { batch, transB: true, aBatchStride: m * k, bBatchStride: n * k }),
      batch * m * k,
      batch * n * k,
    ],
    [
      'broadcast A (stride 0), transA',
      matmulArgs(m, n, k, { batch, transA: true, bBatchStride: k * n, alpha: 2 }),
      k * m,
      batch * k * n,
    ],
  ];
  for (const [i, [name, args, aLen, bLen]] of cases.entries()) {
    const a = normal(aLen, 20 + i);
    const b = normal(bLen, 40 + i);
    const c0 = normal(args.batch * m * n, 60 + i);
    const fp16 = inMode('fp16', () => matmulBoth(a, b, c0, args));
    const bf16 = inMode('bf16', () => matmulBoth(a, b, c0, args));
    const err16 = relError(fp16.got, fp16.want);
    const errBf16 = relError(bf16.got, bf16.want);
    // Expected about 4e-4 (operands' rounding, random signs over k = 300); bf16 is about 8 times that.
    assert.ok(err16 < 2e-3, `fp16 matmul ${name}: relative error ${err16} >= 2e-3`);
    assert.ok(err16 > 1e-6, `fp16 matmul ${name} should show half rounding (error ${err16})`);
    assert.ok(err16 < errBf16 / 3, `fp16 matmul ${name}: error ${err16} is not well below bf16's ${errBf16}`);
  }
});

test('setMatmulMode takes fp16 and returns the previous mode; an unknown mode is refused naming the allowed ones', {
  skip,
}, () => {
  const previous = cuda.setMatmulMode('fp16');
  try {
    assert.equal(cuda.matmulMode(), 'fp16');
    assert.equal(cuda.setMatmulMode('fp16'), 'fp16');
    assert.throws(
      () => cuda.setMatmulMode('fp8' as never),
      /matmul mode 'fp8' is not one of bf16, tf32, fp32, fp16/,
    );
    assert.equal(cuda.matmulMode(), 'fp16', 'a refused mode changes nothing');
  } finally {
    cuda.setMatmulMode(previous);
  }
});

test('fp16 and bf16 operand copies on one storage are kept apart when the mode changes', { skip }, () => {
  const [m, n, k] = [64, 48, 256];
  const args = {
    batch: 1,
    m,
    n,
    k,
    transA: false,
    transB: false,
    aBatchStride: 0,
    bBatchStride: 0,
    alpha: 1,
    accumulate: false,
  };
  const [a, b] = [normal(m * k, 81), normal(k * n, 82)];
  const r = js.alloc('f32', m * n);
  js.matmul(ref(a), ref(b), r, args);
  const want = js.read(r, 'f32', m * n) as Float32Array;
  // The same input storages through bf16, fp16, bf16: each product must read its own mode's copy (reading
  // bf16 bits as half, or the reverse, would be wildly off, not merely imprecise).
  const [sa, sb] = [upload(a), upload(b)];
  const product = (mode: 'fp16' | 'bf16') =>
    inMode(mode, () => {
      const out = cuda.alloc('f32', m * n);
      cuda.matmul(sa, sb, out, args);
      return relError(download(out, m * n), want);
    });
  const first = product('bf16');
  const half = product('fp16');
  const again = product('bf16');
  assert.ok(first < 1.5e-2 && again < 1.5e-2, `bf16 errors ${first}, ${again}`);
  assert.ok(half < 2e-3 && half < first / 3, `fp16 error ${half} (bf16 ${first})`);
});

test("fp16 mode's operand cast: past 65504 an operand becomes inf and its row of the product is not finite", {
  skip,
}, () => {
  // fp16's largest finite value is 65504; the cast rounds to nearest, so 65519 still rounds down to 65504 and
  // 65520 and beyond round to inf. The product is accumulated in fp32 from the half operands, so an inf operand
  // makes every output it feeds ±inf (or NaN where it meets a zero or an opposite inf), and the fp32 output
  // carries that to the caller: in training, the loss scaler sees a non-finite gradient norm and skips the step.
  // tf32 and fp32 modes keep fp32's range. A row of A holding 65504 stays finite.
  const [m, n, k] = [8, 16, 32];
  const a = normal(m * k, 91);
  const b = normal(k * n, 92);
  a[1 * k + 5] = 65504; // row 1: the largest half, finite
  a[2 * k + 7] = 65519; // row 2: rounds down to 65504, finite
  a[3 * k + 3] = 65520; // row 3: rounds to inf
  a[5 * k + 0] = -1e6; // row 5: -inf
  const args = {
    batch: 1,
    m,
    n,
    k,
    transA: false,
    transB: false,
    aBatchStride: 0,
    bBatchStride: 0,
    alpha: 1,
    accumulate: false,
  };
  const rowFinite = (out: ArrayLike<number>, row: number) =>
    Array.from({ length: n }, (_, c) => Number.isFinite(out[row * n + c]));
  const half = inMode('fp16', () => matmulBoth(a, b, new Float32Array(m * n), args));
  for (let row = 0; row < m; row++) {
    const overflows = row === 3 || row === 5;
    assert.deepEqual(rowFinite(half.got, row), new Array(n).fill(!overflows), `fp16 row ${row}`);
  }
  // The finite rows are still close to the reference (65504 is exact in half; 65519 lost its 15).
  for (const row of [0, 1, 2, 4, 6, 7]) {
    const got = half.got.subarray(row * n, (row + 1) * n);
    const want = half.want.subarray(row * n, (row + 1) * n);
    assert.ok(relError(got, want) < 2e-3, `fp16 row ${row}: relative error ${relError(got, want)}`);
  }
  for (const mode of ['tf32', 'fp32'] as const) {
    const wide = inMode(mode, () => matmulBoth(a, b, new Float32Array(m * n), args));
    assert.ok(wide.got.every(Number.isFinite), `${mode} keeps every output finite`);
  }
});

const attentionKeys = ['out', 'lse', 'gq', 'gk', 'gv'] as const;

/** Relative error of each attention result (forward and gradients) on cuda against the js reference. */
function attentionErrors(
  shape: readonly number[],
  causal: boolean,
  seed: number,
): Record<keyof AttentionResult, number> {
  const { ref: want, ours } = attentionBoth(shape, causal, seed);
  return Object.fromEntries(attentionKeys.map((key) => [key, relError(ours[key], want[key])])) as Record<
    keyof AttentionResult,
    number
  >;
}

test('attention in fp16 mode (tensor cores, half operands) against the fp32 reference, forward and gradients', {
  skip,
}, () => {
  // The shapes of the bf16 attention test (tests/cuda/kernels.test.ts): hs 32/64/128 take the flash kernels
  // (T 200: partial and several 64-row tiles), hs 24 the cuBLASLt path; each in both modes, so that fp16 is
  // shown to round less than bf16 (it would not if the bf16 kernels ran).
  for (const [B, T, nh, hs] of [
    [2, 100, 3, 64],
    [1, 200, 2, 32],
    [1, 200, 2, 64],
    [1, 130, 2, 128],
    [2, 100, 3, 24],
  ]) {
    for (const causal of [true, false]) {
      const half = inMode('fp16', () => attentionErrors([B, T, nh, hs], causal, 14));
      const bf16 = inMode('bf16', () => attentionErrors([B, T, nh, hs], causal, 14));
      const what = `fp16 attention B${B} T${T} nh${nh} hs${hs} ${causal ? 'causal' : 'full'}`;
      for (const key of attentionKeys) {
        assert.ok(half[key] < 4e-3, `${what} ${key}: relative error ${half[key]} >= 4e-3`);
        if (key === 'lse') continue; // lse is large and its error tiny in both modes
        assert.ok(half[key] > 1e-6, `${what} ${key} should show half rounding (error ${half[key]})`);
        assert.ok(
          half[key] < bf16[key] / 2,
          `${what} ${key}: error ${half[key]} is not below half of bf16's ${bf16[key]}`,
        );
      }
    }
  }
});

test('fp16 training on cuda: an overflowing loss scale skips steps and halves, then the loss falls', {
  skip,
}, () => {
  // The cuda twin of tests/train/outliers.test.ts's fp16 test, at d_model 64 (head size 32: the flash kernels).
  // 2^24 (the largest scale train.lossScale allows) makes the first steps' fp16 gradients overflow.
  const config = tinyConfig({
    model: { dModel: 64, nHeads: 2 },
    train: { dtype: 'fp16', lossScale: 2 ** 24, lossScaleWindow: 1000 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-cuda-fp16-'));
  const before = cuda.matmulMode();
  const modes = new Set<string>();
  const summary = train(config, {
    outDir: dir,
    backend: 'cuda',
    data: smallData(),
    onProgress: () => modes.add(cuda.matmulMode()),
  });
  assert.deepEqual([...modes], ['fp16'], 'the run computes in the fp16 matmul mode');
  assert.equal(cuda.matmulMode(), before, 'and restores the mode after');
  assert.equal(summary.status, 'done');
  assert.equal(summary.dtype, 'fp16');
  assert.equal(summary.matmulMode, 'fp16', 'and records it');
  const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.loss !== undefined);
  const skipped = rows.filter((r) => r.skipped);
  assert.equal(rows[0].skipped, true, 'the first step overflows at 2^24');
  assert.equal(summary.overflowSteps, skipped.length);
  // Each overflow halves the scale the next step uses; the window (1000) is never reached, so it never grows.
  rows.forEach((r, i) => {
    const before = rows.slice(0, i).filter((x) => x.skipped).length;
    assert.equal(r.lossScale, 2 ** 24 / 2 ** before, `the scale of step ${i}`);
  });
  assert.equal(summary.lossScale, 2 ** 24 / 2 ** skipped.length);
  assert.ok(
    rows.slice(-20).every((r) => !r.skipped),
    'once the scale fits, every step is applied',
  );
  const firstGood = rows.findIndex((r) => !r.skipped);
  assert.ok(rows[rows.length - 1].loss < rows[firstGood].loss - 0.5, 'the loss falls after the skips');
});
