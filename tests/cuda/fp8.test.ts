// Native FP8 products (native/cuda/fp8_cast.cu, matmul_fp8.cu) against the emulation they must equal:
// - the operands an FP8 product reads (codes x scale) are bit for bit fakeQuant(x, fp8, per-tensor absmax), as
//   stored and transposed, E4M3 and E5M2;
// - matmulFp8 against fakeQuant + fp64 sums for every layout the linear layer uses (fwd NT, dx NN, dW TN) and
//   the format pairs: relative error < 1e-3. The products of grid values are exact; what differs is the tensor
//   cores' accumulation (Hopper's FP8 MMA keeps fewer bits than fp32 between cuBLASLt's promotions, ~1e-4) and the
//   float scale. A wrong layout or scale errs by O(1), an E4M3 step is 6%: the bound separates them;
// - T.linearFp8 forward and gradients against the emulation (< 1e-3) and against plain fake quantization with
//   fp32 gradients: forward < 1e-3, gradients between 5e-3 and 8e-2 (by design they round g to E5M2: 2 mantissa
//   bits, ~4% rms; the lower bound proves the rounding happens);
// - a small transformer's logits with FP8 linears against fake quantization: closer than half of what
//   quantization itself moves them (an activation whose accumulation lands it across a rounding boundary of the
//   next layer's grid moves by a step: rare, small).
// Skips without a GPU (and the product tests on a GPU below compute capability 8.9, which must say why).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts'; // registers cuda with the engine (T.setDefaultBackend('cuda'))
import type { Fp8Format, Fp8MatmulArgs } from '../../src/backends/backend.ts';
import { bf16BitsToF32, f32ToBf16Bits } from '../../src/base/half.ts';
import { philoxFill } from '../../src/base/philox.ts';
import { resolveModelConfig } from '../../src/nn/config.ts';
import { fullPrecision } from '../../src/nn/precision.ts';
import { forward, initParams } from '../../src/nn/transformer.ts';
import { fakeQuantArray } from '../../src/numerics/fake-quant.ts';
import { quantSpec } from '../../src/numerics/spec.ts';
import * as T from '../../src/tensor/index.ts';
import { cuda, download, inMode, relError, skip, upload } from './helpers.ts';

const native = !skip && cuda.fp8Problem?.() === null;
/** The FP8 formats and fp8RoundTrip's code for each. */
const formatCodes = [
  ['fp8_e4m3', 0],
  ['fp8_e5m2', 1],
] as const;
const noFp8 = skip || (native ? false : `no FP8 here: ${cuda.fp8Problem?.()}`);

function randomArray(n: number, seed: number, std: number): Float32Array {
  const x = new Float32Array(n);
  philoxFill(x, n, 'normal', seed, 0);
  for (let i = 0; i < n; i++) x[i] *= std * (i % 89 === 0 ? 10 : 1); // outliers set the scale
  return x;
}

test('FP8 operands are fakeQuant exactly (E4M3, E5M2; as stored and transposed)', { skip: noFp8 }, () => {
  for (const [format, code] of formatCodes) {
    // 64x48 and 100x132 transpose by words (rows and columns multiples of 4), in partial tiles; 12x7 takes four
    // values a thread, 33x70 and 7x5 one.
    for (const [rows, cols] of [
      [64, 48],
      [100, 132],
      [12, 7],
      [33, 70],
      [7, 5],
    ]) {
      for (const std of [1, 1e-4, 300]) {
        const n = rows * cols;
        const x = randomArray(n, rows * 1000 + cols, std);
        const cx = upload(x);
        const out = cuda.alloc('f32', n);
        // Twice: the copies kept on the storage (Storage::fp8) must follow a write (here a new scale too).
        for (const data of [x, x.map((v, i) => v * (i % 3 === 0 ? -5 : 0.5))]) {
          cuda.write(cx, 'f32', data);
          const ref = new Float32Array(n);
          fakeQuantArray(quantSpec(format), data, ref, rows, cols, null);
          for (const transpose of [false, true, false]) {
            cuda.addon.fp8RoundTrip(cx, out, rows, cols, transpose, code);
            const got = download(out, n);
            for (let r = 0; r < rows; r++)
              for (let c = 0; c < cols; c++) {
                const want = ref[r * cols + c];
                const have = transpose ? got[c * rows + r] : got[r * cols + c];
                if (have !== want)
                  assert.fail(
                    `${format} ${rows}x${cols} std ${std} transpose=${transpose} [${r},${c}]: ${have} vs ${want}`,
                  );
              }
          }
        }
        cuda.free(cx);
        cuda.free(out);
      }
    }
  }
});

const toBf16 = (x: Float32Array) => x.map((v) => bf16BitsToF32(f32ToBf16Bits(v)));

/** The positive values of an FP8 format, ascending: E4M3 (max 448) or E5M2 (max 57344, no inf or NaN). */
function gridOf(format: Fp8Format): number[] {
  const [mantissa, bias, top] = format === 'fp8_e4m3' ? [3, 7, 0x7e] : [2, 15, 0x7b];
  const values: number[] = [];
  for (let code = 0; code <= top; code++) {
    const e = code >> mantissa;
    const m = code & ((1 << mantissa) - 1);
    values.push(e === 0 ? m * 2 ** (1 - bias - mantissa) : (1 + m / 2 ** mantissa) * 2 ** (e - bias));
  }
  return values;
}

/** The float32 next to x, away from zero (up) or toward it. */
function nextFloat(x: number, up: boolean): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x);
  view.setUint32(0, view.getUint32(0) + (up ? 1 : -1));
  return view.getFloat32(0);
}

test('FP8 operands at and beside every midpoint of the grid, and with 1 / scale beyond float: fakeQuant exactly', {
  skip: noFp8,
}, () => {
  for (const [format, code] of formatCodes) {
    const grid = gridOf(format);
    const max = grid[grid.length - 1];
    // amax 3.7: a scale that is no power of 2, so x / scale lands beside the midpoints by float's rounding of x;
    // 1e-39 (subnormal): 1 / scale is beyond float.
    for (const amax of [3.7, 1e-39]) {
      const scale = amax / max;
      const values = [amax, -amax];
      for (let i = 0; i + 1 < grid.length; i++) {
        const mid = Math.fround(((grid[i] + grid[i + 1]) / 2) * scale);
        if (mid === 0 || Math.abs(mid) > amax) continue;
        for (const x of [mid, nextFloat(mid, true), nextFloat(mid, false)])
          if (Math.abs(x) <= amax) values.push(x, -x);
      }
      while (values.length % 8) values.push(0);
      const x = Float32Array.from(values);
      const n = x.length;
      const cx = upload(x);
      const out = cuda.alloc('f32', n);
      cuda.addon.fp8RoundTrip(cx, out, 1, n, false, code);
      const want = new Float32Array(n);
      fakeQuantArray(quantSpec(format), x, want, 1, n, null);
      const got = download(out, n);
      for (let i = 0; i < n; i++)
        if (got[i] !== want[i])
          assert.fail(`${format} amax ${amax} x=${x[i]}: ${got[i]} vs fakeQuant ${want[i]}`);
      cuda.free(cx);
      cuda.free(out);
    }
  }
});

test('FP8 operands of values rounded to bf16 first (read from the bf16 copy) are fakeQuant of the rounded values', {
  skip: noFp8,
}, () => {
  for (const [format, code] of formatCodes) {
    for (const [rows, cols] of [
      [64, 48],
      [12, 7], // four values a thread
      [33, 70], // n not a multiple of 4: the one-value kernel
    ]) {
      const n = rows * cols;
      const x = randomArray(n, rows + cols, 3);
      const cx = upload(x);
      const out = cuda.alloc('f32', n);
      const ref = new Float32Array(n);
      fakeQuantArray(quantSpec(format), toBf16(x), ref, rows, cols, null);
      const plain = new Float32Array(n);
      fakeQuantArray(quantSpec(format), x, plain, rows, cols, null);
      // Rounded, then not (the copies kept are of the other source: made again), then rounded again.
      for (const [rounded, want] of [
        [2, ref],
        [0, plain],
        [2, ref],
      ] as const) {
        for (const transpose of [false, true]) {
          cuda.addon.fp8RoundTrip(cx, out, rows, cols, transpose, code, rounded);
          const got = download(out, n);
          for (let r = 0; r < rows; r++)
            for (let c = 0; c < cols; c++) {
              const have = transpose ? got[c * rows + r] : got[r * cols + c];
              if (have !== want[r * cols + c])
                assert.fail(
                  `${format} ${rows}x${cols} rounded=${rounded} transpose=${transpose} [${r},${c}]: ${have} vs ${want[r * cols + c]}`,
                );
            }
        }
      }
      cuda.free(cx);
      cuda.free(out);
    }
  }
});

test('matmulFp8 options: operands rounded to bf16, accumulation, a bf16 output kept as its copy alone', {
  skip: noFp8,
}, () => {
  inMode('bf16', () => {
    const [m, n, k] = [96, 80, 144];
    const a = randomArray(m * k, 31, 2);
    const b = randomArray(n * k, 32, 0.03);
    const args = { m, n, k, transA: false, transB: true, aFormat: 'fp8_e4m3', bFormat: 'fp8_e4m3' } as const;
    const [ca, cb, ra, rb] = [a, b, toBf16(a), toBf16(b)].map((v) => upload(v));
    type S = ReturnType<typeof upload>;
    const product = (x: S, y: S, more: Partial<Fp8MatmulArgs> = {}) => {
      const out = cuda.alloc('f32', m * n);
      cuda.matmulFp8!(x, y, out, { ...args, ...more });
      return out;
    };
    // Rounded operands: the product of the rounded values, bit for bit (the same codes, the same plan).
    // Accumulation, the shape's first product (its plan tuned on a scratch output): out + the product.
    const start = randomArray(m * n, 33, 0.5);
    const acc = upload(start);
    cuda.matmulFp8!(ra, rb, acc, { ...args, accumulate: true });
    const ofRounded = download(product(ra, rb), m * n) as Float32Array;
    const sum = start.map((v, i) => v + ofRounded[i]);
    assert.ok(relError(download(acc, m * n), sum) < 1e-6, 'accumulated');
    const viaCopies = download(product(ca, cb, { roundA: 'bf16', roundB: 'bf16' }), m * n);
    assert.deepEqual(viaCopies, ofRounded);
    const emulated = emulate(toBf16(a), toBf16(b), m, n, k, false, true, 'fp8_e4m3', 'fp8_e4m3');
    assert.ok(relError(ofRounded, emulated) < 1e-3, 'against the emulation');
    // An output that is also an input: refused, naming it.
    assert.throws(() => cuda.matmulFp8!(ra, rb, rb, { ...args, m: n }), /out is also an input/);
    // A rounded output: the product rounded, bit for bit (the f32 product's plan, rounded as stored).
    const roundedOut = download(product(ra, rb, { roundOutput: 'bf16' }), m * n);
    assert.deepEqual(roundedOut, toBf16(ofRounded));
    // HalfOnly: the copy alone, written by cuBLASLt in bf16 (its own plan: within a bf16 step of the rounded f32
    // product, most of them equal); the f32 values stay pending until read.
    const only = product(ra, rb, { roundOutput: 'bf16', halfOnly: true });
    assert.equal(cuda.addon.f32Pending!(only), true, 'kept as its copy alone');
    // Read as the next product's rounded input, it stays pending; the product is that of its values.
    const next = cuda.alloc('f32', m * m);
    cuda.matmulFp8!(only, only, next, { ...args, n: m, k: n, roundA: 'bf16', roundB: 'bf16' });
    assert.equal(cuda.addon.f32Pending!(only), true, 'read through its copy');
    const values = download(only, m * n) as Float32Array; // (widens it)
    const wanted = toBf16(ofRounded);
    let equal = 0;
    for (let i = 0; i < m * n; i++) {
      const want = wanted[i];
      if (values[i] === want) equal++;
      else
        assert.ok(Math.abs(values[i] - want) <= Math.abs(want) * 2 ** -7, `[${i}]: ${values[i]} vs ${want}`);
    }
    assert.ok(equal >= 0.99 * m * n, `${equal} of ${m * n} equal`);
    const again = cuda.alloc('f32', m * m);
    const uploaded = upload(values);
    cuda.matmulFp8!(uploaded, uploaded, again, { ...args, n: m, k: n });
    assert.deepEqual(download(next, m * m), download(again, m * m));
  });
});

/** The emulation of one FP8 product on the host: fakeQuant both operands, then an fp64 matmul. */
function emulate(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  fa: Fp8Format,
  fb: Fp8Format,
): Float64Array {
  const qa = new Float32Array(a.length);
  const qb = new Float32Array(b.length);
  fakeQuantArray(quantSpec(fa), a, qa, 1, a.length, null);
  fakeQuantArray(quantSpec(fb), b, qb, 1, b.length, null);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++)
        s += qa[transA ? p * m + i : i * k + p] * qb[transB ? j * k + p : p * n + j];
      out[i * n + j] = s;
    }
  return out;
}

test('matmulFp8 equals fakeQuant + fp32 matmul (every layout and format pair a linear layer uses)', {
  skip: noFp8,
}, () => {
  const cases: [boolean, boolean, Fp8Format, Fp8Format][] = [
    [false, true, 'fp8_e4m3', 'fp8_e4m3'], // forward: x @ Wᵀ
    [false, false, 'fp8_e5m2', 'fp8_e4m3'], // dx = g @ W
    [true, false, 'fp8_e5m2', 'fp8_e4m3'], // dW = gᵀ @ x
    [true, true, 'fp8_e4m3', 'fp8_e5m2'],
  ];
  const [m, n, k] = [96, 80, 144];
  for (const [transA, transB, fa, fb] of cases) {
    const a = randomArray(m * k, 11, 2);
    const b = randomArray(k * n, 12, 0.03);
    const ca = upload(a);
    const cb = upload(b);
    const out = cuda.alloc('f32', m * n);
    const args = { m, n, k, transA, transB, aFormat: fa, bFormat: fb };
    cuda.matmulFp8!(ca, cb, out, args);
    const first = download(out, m * n);
    const err = relError(first, emulate(a, b, m, n, k, transA, transB, fa, fb));
    assert.ok(err < 1e-3, `transA=${transA} transB=${transB} ${fa} x ${fb}: relative error ${err}`);
    // Again on the kept copies: the same numbers; then after a write to A: the new product.
    cuda.matmulFp8!(ca, cb, out, args);
    assert.deepEqual(download(out, m * n), first);
    const a2 = a.map((v) => -2 * v);
    cuda.write(ca, 'f32', a2);
    cuda.matmulFp8!(ca, cb, out, args);
    const err2 = relError(download(out, m * n), emulate(a2, b, m, n, k, transA, transB, fa, fb));
    assert.ok(err2 < 1e-3, `after a write to A: relative error ${err2}`);
    for (const s of [ca, cb, out]) cuda.free(s);
  }
});

test('matmulFp8 refuses widths that are not multiples of 16 and e5m2 x e5m2, naming them', {
  skip: noFp8,
}, () => {
  const a = cuda.alloc('f32', 24 * 32);
  const b = cuda.alloc('f32', 32 * 16);
  const out = cuda.alloc('f32', 24 * 16);
  const args = {
    m: 24,
    n: 16,
    k: 32,
    transA: false,
    transB: false,
    aFormat: 'fp8_e4m3',
    bFormat: 'fp8_e4m3',
  } as const;
  assert.throws(
    () => cuda.matmulFp8!(a, b, out, args),
    /m, n, k = 24, 16, 32: FP8 products need each a multiple of 16/,
  );
  assert.throws(
    () => cuda.matmulFp8!(a, b, out, { ...args, m: 16, aFormat: 'fp8_e5m2', bFormat: 'fp8_e5m2' }),
    /both fp8_e5m2/,
  );
  for (const s of [a, b, out]) cuda.free(s);
});

test('linearFp8 on the tensor cores: forward and gradients against fake quantization', {
  skip: noFp8,
}, () => {
  T.setDefaultBackend('cuda');
  const [M, K, N] = [256, 192, 320];
  const xs = randomArray(M * K, 21, 1.5);
  const ws = randomArray(N * K, 22, 0.02);
  const us = randomArray(M * N, 23, 1e-3);
  const x = T.requireGrad(T.tensor(xs, [M, K]));
  const w = T.requireGrad(T.tensor(ws, [N, K]));
  const u = T.tensor(us, [M, N]);
  const y = T.linearFp8(x, w);
  const [gx, gw] = T.grad((a, b) => T.sum(T.mul(T.linearFp8(a, b), u)), [x, w]);
  // The emulation on the host (fp64 sums): forward, and gradients with g rounded to E5M2.
  const fwd = emulate(xs, ws, M, N, K, false, true, 'fp8_e4m3', 'fp8_e4m3');
  const gxRef = emulate(us, ws, M, K, N, false, false, 'fp8_e5m2', 'fp8_e4m3');
  const gwRef = emulate(us, xs, N, K, M, true, false, 'fp8_e5m2', 'fp8_e4m3');
  const errs = {
    y: relError(y.toArray(), fwd),
    gx: relError(gx.toArray(), gxRef),
    gw: relError(gw.toArray(), gwRef),
  };
  for (const [name, e] of Object.entries(errs)) assert.ok(e < 1e-3, `${name} vs the FP8 emulation: ${e}`);
  // Plain fake quantization, fp32 gradients (the straight-through estimator): the forward is the same math,
  // the gradients differ by E5M2's rounding of g (relative step 2^-3, about 4% rms).
  T.setDefaultBackend('js');
  const fx = T.requireGrad(T.tensor(xs, [M, K]));
  const fw = T.requireGrad(T.tensor(ws, [N, K]));
  const fu = T.tensor(us, [M, N]);
  const e4 = quantSpec('fp8_e4m3');
  const fake = (a: T.Tensor, b: T.Tensor) =>
    T.matmul(T.fakeQuant(a, e4), T.fakeQuant(b, e4), { transB: true });
  const [fgx, fgw] = T.grad((a, b) => T.sum(T.mul(fake(a, b), fu)), [fx, fw]);
  assert.ok(relError(y.toArray(), fake(fx, fw).toArray()) < 1e-3, 'forward vs fake quantization');
  for (const [name, ours, ref] of [
    ['dx', gx, fgx],
    ['dW', gw, fgw],
  ] as const) {
    const e = relError(ours.toArray(), ref.toArray());
    assert.ok(
      e < 8e-2 && e > 5e-3,
      `${name} vs fp32-gradient fake quantization: ${e} (E5M2 rounding expected)`,
    );
  }
});

test('FP8 products are offered exactly where the compute capability is 8.9 or higher', { skip }, () => {
  const [major, minor] = cuda.device().computeCapability.split('.').map(Number);
  const capable = major * 10 + minor >= 89;
  // null means FP8 runs here: not `??`, which would read null as missing.
  const problem = cuda.fp8Problem ? cuda.fp8Problem() : 'no fp8Problem';
  if (capable) assert.equal(problem, null);
  else assert.match(String(problem), /compute capability .* 8\.9 or higher|built before FP8/);
});

test('a transformer with FP8 linears on the GPU: the logits of fake quantization', { skip: noFp8 }, () => {
  T.setDefaultBackend('cuda');
  const before = cuda.setMatmulMode('fp32'); // the fake-quant reference in exact fp32 products
  try {
    const model = resolveModelConfig({
      vocabSize: 128,
      dModel: 64,
      dFf: 192,
      nLayers: 2,
      nHeads: 2,
      context: 32,
      precision: { weights: 'fp8_e4m3', activations: 'fp8_e4m3', kv: 'fp32', weightGranularity: 'tensor' },
    });
    const params = initParams(model, 3);
    const tokens = T.tensor(
      Int32Array.from({ length: 64 }, (_, i) => (i * 37) % 128),
      [2, 32],
      { dtype: 'i32' },
    );
    const native = forward(model, params, tokens, { train: false, fp8Linear: true }).toArray();
    const fake = forward(model, params, tokens, { train: false }).toArray();
    const full = forward({ ...model, precision: fullPrecision }, params, tokens, { train: false }).toArray();
    // The same grid values summed in another order; where that moves an activation across a rounding boundary
    // of the next layer's E4M3 grid the paths part a little: far less than quantization itself moves the logits.
    const gap = relError(native, fake);
    const quantization = relError(fake, full);
    assert.ok(gap < 0.5 * quantization, `native vs fake quant ${gap}, fake quant vs fp32 ${quantization}`);
  } finally {
    cuda.setMatmulMode(before);
  }
});
