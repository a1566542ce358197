// The transformer's fused elementwise ops against the unfused compositions they replace, on every float32
// backend here (js, cpu; cuda on a GPU): T.swiglu against T.mul(T.silu(gate), up), values and both gradients,
// bit for bit on js and cpu (the fused kernels round their intermediates as the unfused ops store them) and
// close to the float64 reference; T.roundTo against T.cast(T.cast(x, half), 'f32'), values and gradient, bit for bit on ties,
// subnormals, f16 overflow, infinities, NaN and signed zeros.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';
import { testedBackends, uniform } from './fixtures.ts';

/** Bits of a float32 value (NaN as one canonical pattern: the payload is not part of the contract). */
function bits(x: number): number {
  if (Number.isNaN(x)) return -1;
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0];
}

function assertSameBits(what: string, ours: ArrayLike<number>, want: ArrayLike<number>) {
  assert.equal(ours.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (bits(ours[i]) !== bits(want[i])) assert.fail(`${what}[${i}]: ${ours[i]} vs ${want[i]}`);
  }
}

function assertClose(
  what: string,
  ours: ArrayLike<number>,
  want: ArrayLike<number>,
  abs: number,
  rel: number,
) {
  assert.equal(ours.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(ours[i] - want[i]);
    if (!(err <= abs + rel * Math.abs(want[i]))) assert.fail(`${what}[${i}]: ${ours[i]} vs ${want[i]}`);
  }
}

// ---- swiglu --------------------------------------------------------------------------------------------

const shape = [3, 7, 53]; // 1113 elements: not a multiple of 4, 8 or 256
const n = 3 * 7 * 53;
// Gates over ±12 with a few far out (silu saturates to 0 and to x; e^-g overflows at g = -100).
const gateData = uniform(n, 1).map((u, i) => (i % 97 === 0 ? (i % 2 ? 100 : -100) : 12 * u));
const upData = uniform(n, 2).map((u) => 3 * u);
const gyData = uniform(n, 3);

function swigluRun(backend: ReturnType<typeof T.getBackend>, fused: boolean) {
  return T.tidy(() => {
    const gate = T.requireGrad(T.tensor(gateData, shape, { backend }));
    const up = T.requireGrad(T.tensor(upData, shape, { backend }));
    const y = fused ? T.swiglu(gate, up) : T.mul(T.silu(gate), up);
    assert.deepEqual(y.shape, shape);
    T.backward(y, T.tensor(gyData, shape, { backend }));
    return { y: y.toArray(), gGate: gate.grad!.toArray(), gUp: up.grad!.toArray() };
  });
}

const reference = swigluRun(T.getBackend('js64'), false);

for (const name of testedBackends) {
  test(`swiglu on ${name}: values and both gradients as silu then mul (bit for bit on js and cpu)`, () => {
    const backend = T.getBackend(name);
    const fused = swigluRun(backend, true);
    const unfused = swigluRun(backend, false);
    // cuda may contract a multiply-add differently in the fused kernel: there, 1e-6 relative.
    const same = (what: string, ours: ArrayLike<number>, want: ArrayLike<number>) =>
      name === 'js' || name === 'cpu'
        ? assertSameBits(what, ours, want)
        : assertClose(what, ours, want, 1e-7, 1e-6);
    same('value', fused.y, unfused.y);
    same('gGate', fused.gGate, unfused.gGate);
    same('gUp', fused.gUp, unfused.gUp);
    // And both near the float64 reference (the cpu's exp is a fast approximation, rel 1e-6).
    assertClose('value vs js64', fused.y, reference.y, 1e-6, 1e-5);
    assertClose('gGate vs js64', fused.gGate, reference.gGate, 1e-6, 1e-5);
    assertClose('gUp vs js64', fused.gUp, reference.gUp, 1e-6, 1e-5);
  });
}

test('swiglu on js64 matches the float64 composition, and refuses operands of different shapes', () => {
  const ours = swigluRun(T.getBackend('js64'), true);
  assertClose('value', ours.y, reference.y, 1e-14, 1e-12);
  assertClose('gGate', ours.gGate, reference.gGate, 1e-14, 1e-12);
  assertClose('gUp', ours.gUp, reference.gUp, 1e-14, 1e-12);
  const backend = T.getBackend('js');
  assert.throws(
    () => T.swiglu(T.zeros([2, 3], { backend }), T.zeros([3], { backend })),
    /swiglu.*up has shape \[3\], expected \[2, 3\]/,
  );
});

// ---- roundTo -------------------------------------------------------------------------------------------

/** Values where the two roundings can go wrong, then ordinary ones over many binades. */
const tricky = [
  0,
  -0,
  1,
  -1,
  1 + 2 ** -8, // bf16 tie: rounds down to the even 1
  1 + 3 * 2 ** -8, // bf16 tie: rounds up to the even 1 + 2^-6
  -(1 + 3 * 2 ** -8),
  1 + 2 ** -8 + 2 ** -20, // just above a bf16 tie
  1 + 2 ** -11, // f16 tie: down
  1 + 3 * 2 ** -11, // f16 tie: up
  65504, // f16 max
  65519, // rounds to f16 max
  65520, // f16 overflow: inf
  -70000,
  1e30,
  3.4e38, // bf16 rounds up to inf
  2 ** -24, // smallest f16 subnormal
  3 * 2 ** -26, // f16 subnormal tie region
  2 ** -25, // f16: tie with 0, rounds to the even 0
  1e-8,
  -1e-30,
  2 ** -130, // f32 subnormal
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.NaN,
];
const roundData = [...tricky, ...uniform(1000, 7).map((u, i) => u * 2 ** ((i % 60) - 30))];
const roundShape = [roundData.length];
// The upstream gradient gets the same treatment: the backward pass rounds it as the casts' gradients do.
const roundGy = [...uniform(roundData.length - tricky.length, 8).map((u) => u * 1e5), ...tricky];

function roundRun(backend: ReturnType<typeof T.getBackend>, to: 'bf16' | 'f16', fused: boolean) {
  return T.tidy(() => {
    const x = T.requireGrad(T.tensor(roundData, roundShape, { backend }));
    const y = fused ? T.roundTo(x, to) : T.cast(T.cast(x, to), 'f32');
    assert.equal(y.dtype, 'f32');
    T.backward(y, T.tensor(roundGy, roundShape, { backend }));
    return { y: y.toArray(), g: x.grad!.toArray() };
  });
}

for (const name of [...testedBackends, 'js64']) {
  for (const to of ['bf16', 'f16'] as const) {
    test(`roundTo ${to} on ${name}: value and gradient are the cast there and back, bit for bit`, () => {
      const backend = T.getBackend(name);
      const fused = roundRun(backend, to, true);
      const unfused = roundRun(backend, to, false);
      assertSameBits('value', fused.y, unfused.y);
      assertSameBits('gradient', fused.g, unfused.g);
      // The rounding is real: ties to even, overflow to inf (not vacuous equality of two no-ops).
      const at = (v: number) => fused.y[tricky.indexOf(v)];
      if (to === 'bf16') {
        assert.equal(at(1 + 2 ** -8), 1);
        assert.equal(at(1 + 3 * 2 ** -8), 1 + 2 ** -6);
        assert.equal(at(3.4e38), Number.POSITIVE_INFINITY);
      } else {
        assert.equal(at(1 + 3 * 2 ** -11), 1 + 2 ** -9);
        assert.equal(at(65519), 65504);
        assert.equal(at(65520), Number.POSITIVE_INFINITY);
        assert.equal(at(2 ** -25), 0);
      }
    });
  }
}

test('roundTo refuses a tensor that is not f32', () => {
  const x = T.cast(T.tensor([1, 2], [2], { backend: T.getBackend('js') }), 'bf16');
  assert.throws(() => T.roundTo(x, 'f16'), /roundTo.*must be f32, got bf16/);
});
