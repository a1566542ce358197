// Every op's forward and gradients on every available float32 backend against the float64 js reference.
// Tolerance: |ours - ref| <= 1e-4 + 1e-4 |ref| (float32 accumulation over at most a few dozen terms).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';
import { testedBackends } from './fixtures.ts';
import { makeInputs, opCases } from './op-cases.ts';

const reference = T.getBackend('js64');

function run(c: (typeof opCases)[number], backend: ReturnType<typeof T.getBackend>) {
  return T.tidy(() => {
    const inputs = makeInputs(c, backend, 2);
    const out = c.fn(...inputs);
    const w = T.tensor(
      T.randn(out.shape.slice(), { backend: reference, seed: 5 }).toArray(),
      out.shape.slice(),
      { backend },
    );
    T.backward(T.sum(T.mul(out, w)));
    return { out: out.toArray(), grads: inputs.map((x) => (x.requiresGrad ? x.grad!.toArray() : null)) };
  });
}

function close(what: string, ours: ArrayLike<number>, ref: ArrayLike<number>) {
  assert.equal(ours.length, ref.length, `${what}: length`);
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(ours[i] - ref[i]);
    assert.ok(err <= 1e-4 + 1e-4 * Math.abs(ref[i]), `${what}[${i}]: ${ours[i]} vs reference ${ref[i]}`);
  }
}

for (const name of testedBackends) {
  for (const c of opCases) {
    test(`${name} matches js64: ${c.name}`, () => {
      const expected = run(c, reference);
      const actual = run(c, T.getBackend(name));
      close(`${c.name} forward`, actual.out, expected.out);
      expected.grads.forEach((g, i) => {
        if (g) close(`${c.name} grad ${i}`, actual.grads[i]!, g);
      });
    });
  }
}
