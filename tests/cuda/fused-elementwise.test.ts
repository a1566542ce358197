// The cuda fused elementwise kernels (native/cuda/fused_elementwise.cu) against the js reference: swiglu and
// its gradient near the float64 values and near cuda's own silu-then-mul; roundTo bit for bit equal to the js
// cast there and back and to cuda's own two casts (ties, subnormals, f16 overflow, infinities, NaN). Sizes
// with and without a tail after the float4 body, and one past a grid's worth of threads. Skips without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { createJsBackend } from '../../src/backends/js/js-backend.ts';
import type { JsStorage } from '../../src/backends/js/storage.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose, cuda, download, normal, skip, upload } from './helpers.ts';

const js64 = createJsBackend({ float64: true });
const js = createJsBackend();

function ref(backend: typeof js, data: ArrayLike<number>): JsStorage {
  const s = backend.alloc('f32', data.length);
  backend.write(s, 'f32', data);
  return s;
}

const sizes = [1, 3, 4, 1113, 4096, (1 << 22) + 3]; // the last needs the grid-stride loop

test('swiglu and swigluGrad match the float64 reference and cuda silu-then-mul', { skip }, () => {
  for (const n of sizes) {
    const gate = normal(n, 1, 4);
    gate[0] = -100; // e^-g overflows: silu = -0
    if (n > 2) gate[2] = 100;
    const up = normal(n, 2, 2);
    const gy = normal(n, 3, 1);
    const [cg, cu, cgy] = [upload(gate), upload(up), upload(gy)];
    const out = cuda.alloc('f32', n);
    cuda.swiglu(cg, cu, out, n);
    const rOut = js64.alloc('f32', n);
    js64.swiglu(ref(js64, gate), ref(js64, up), rOut, n);
    assertClose(`swiglu n=${n}`, download(out, n), js64.read(rOut, 'f32', n), 1e-6, 1e-5);

    const [gGate, gUp] = [cuda.alloc('f32', n), cuda.alloc('f32', n)];
    cuda.swigluGrad(cg, cu, cgy, gGate, gUp, n);
    const [rgGate, rgUp] = [js64.alloc('f32', n), js64.alloc('f32', n)];
    js64.swigluGrad(ref(js64, gate), ref(js64, up), ref(js64, gy), rgGate, rgUp, n);
    assertClose(`swigluGrad gate n=${n}`, download(gGate, n), js64.read(rgGate, 'f32', n), 1e-6, 1e-5);
    assertClose(`swigluGrad up n=${n}`, download(gUp, n), js64.read(rgUp, 'f32', n), 1e-6, 1e-5);

    // cuda's unfused composition: the same float math up to multiply-add contraction.
    const silu = cuda.alloc('f32', n);
    cuda.unary('silu', cg, silu, n);
    const mul = cuda.alloc('f32', n);
    cuda.binary('mul', silu, [1], cu, [1], mul, [n]);
    assertClose(`swiglu vs silu*up n=${n}`, download(out, n), download(mul, n), 1e-7, 1e-6);
    for (const s of [cg, cu, cgy, out, gGate, gUp, silu, mul]) cuda.free(s);
  }
});

const tricky = [
  0,
  -0,
  1 + 2 ** -8,
  1 + 3 * 2 ** -8,
  1 + 2 ** -11,
  1 + 3 * 2 ** -11,
  65504,
  65519,
  65520,
  -70000,
  3.4e38,
  2 ** -24,
  3 * 2 ** -26,
  2 ** -25,
  2 ** -130,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.NaN,
];

const sameOrBothNaN = (what: string, ours: ArrayLike<number>, want: ArrayLike<number>) => {
  assert.equal(ours.length, want.length);
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]) ? !Number.isNaN(ours[i]) : !Object.is(ours[i], want[i]))
      assert.fail(`${what}[${i}]: ${ours[i]} vs ${want[i]}`);
  }
};

test('roundTo equals the js cast there and back and cuda two casts, bit for bit', { skip }, () => {
  for (const n of sizes) {
    const x = normal(n, 4, 1);
    for (let i = 0; i < n; i++) x[i] *= 2 ** ((i % 60) - 30); // many binades
    x.set(tricky.slice(0, Math.min(n, tricky.length)));
    const cx = upload(x);
    for (const to of ['bf16', 'f16'] as const) {
      const out = cuda.alloc('f32', n);
      cuda.roundTo(cx, out, to, n);
      const ours = download(out, n);
      const rOut = js.alloc('f32', n);
      js.roundTo(ref(js, x), rOut, to, n);
      sameOrBothNaN(`roundTo ${to} n=${n} vs js`, ours, js.read(rOut, 'f32', n));
      const half = cuda.alloc(to, n);
      cuda.cast(cx, 'f32', half, to, n);
      const back = cuda.alloc('f32', n);
      cuda.cast(half, to, back, 'f32', n);
      sameOrBothNaN(`roundTo ${to} n=${n} vs cuda casts`, ours, download(back, n));
      for (const s of [out, half, back]) cuda.free(s);
    }
    cuda.free(cx);
  }
});

test('T.swiglu and T.roundTo on cuda: values and gradients against the unfused ops on js64', { skip }, () => {
  const shape = [4, 33, 65];
  const n = 4 * 33 * 65;
  const gate = normal(n, 5, 3);
  const up = normal(n, 6, 1);
  const gy = normal(n, 7, 1);
  const run = (backend: ReturnType<typeof T.getBackend>, fused: boolean) =>
    T.tidy(() => {
      const g = T.requireGrad(T.tensor(gate, shape, { backend }));
      const u = T.requireGrad(T.tensor(up, shape, { backend }));
      const y = fused ? T.swiglu(g, u) : T.mul(T.silu(g), u);
      T.backward(y, T.tensor(gy, shape, { backend }));
      return { y: y.toArray(), gg: g.grad!.toArray(), gu: u.grad!.toArray() };
    });
  const want = run(T.getBackend('js64'), false);
  const ours = run(T.getBackend('cuda'), true);
  assertClose('swiglu', ours.y, want.y, 1e-6, 1e-5);
  assertClose('swiglu gGate', ours.gg, want.gg, 1e-6, 1e-5);
  assertClose('swiglu gUp', ours.gu, want.gu, 1e-6, 1e-5);

  const roundRun = (backend: ReturnType<typeof T.getBackend>, fused: boolean) =>
    T.tidy(() => {
      const x = T.requireGrad(T.tensor(gate, shape, { backend }));
      const y = fused ? T.roundTo(x, 'bf16') : T.cast(T.cast(x, 'bf16'), 'f32');
      T.backward(y, T.tensor(gy, shape, { backend }));
      return { y: y.toArray(), g: x.grad!.toArray() };
    });
  const rWant = roundRun(T.getBackend('js'), false);
  const rOurs = roundRun(T.getBackend('cuda'), true);
  sameOrBothNaN('roundTo', rOurs.y, rWant.y);
  sameOrBothNaN('roundTo gradient', rOurs.g, rWant.g);
});
