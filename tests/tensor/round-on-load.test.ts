// The fused ops that round an input to a half type as they load it (emulated half compute without a separate
// roundTo pass): T.swiglu(gate, up, { round }), T.addRmsNorm(x, r, w, eps, { roundDelta }) and
// T.rope(x, base, posOffset, { roundInput }), each against the composition it replaces (T.roundTo with
// { gradient: false } first, then the plain op); and those that round what they store (swiglu's input gradients,
// addRmsNorm's out, rope's output and input gradient, a product's output) against roundTo after (or, for gradients, roundTo with
// { value: false } before) the plain op: values and every gradient bit for bit, on every float32 backend here
// (js, cpu; cuda on a GPU, where both run cuda's kernels). The inputs hold ties and values between half-type
// neighbours, so the rounding is real: the result also differs from the op without it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';
import { testedBackends } from './fixtures.ts';
import {
  addRmsNormCase,
  addRmsNormOutputCase,
  fakeQuantOutputCase,
  firstDifference,
  matmulOutputCase,
  normGradientCase,
  ropeCase,
  ropeStoreCase,
  swigluCase,
  swigluGradientsCase,
  swigluHalfOnlyCase,
  swigluOutputCase,
} from './round-on-load-cases.ts';

const cases = [
  ['swiglu { round }', swigluCase([3, 7, 53])], // 1113 elements: a tail after any vector body
  ['swiglu { roundOutput, roundGradient }', swigluOutputCase([3, 7, 53], true)],
  ['swiglu { roundGradient }', swigluOutputCase([3, 7, 53], false)],
  ['addRmsNorm { roundDelta }', addRmsNormCase([2, 5, 37])], // rows of 37: not a multiple of 4 or 8
  ['addRmsNorm and rmsNorm { roundGradient }', normGradientCase([2, 5, 37])],
  ['rope { roundInput }', ropeCase([2, 5, 3, 8])],
  ['swiglu { roundInputGradients }', swigluGradientsCase([3, 7, 53])],
  ['swiglu { roundOutput, halfOnly }', swigluHalfOnlyCase([3, 7, 53])],
  ['addRmsNorm { roundOutput }', addRmsNormOutputCase([2, 5, 37])],
  ['rope { roundOutput, roundInputGradient }', ropeStoreCase([2, 5, 3, 8])],
  ['matmul { roundOutput }', matmulOutputCase(7, 13, 5)],
  ['fakeQuant int8 per tensor { roundOutput }', fakeQuantOutputCase([6, 40], 'tensor')],
  ['fakeQuant int4 per row { roundOutput }', fakeQuantOutputCase([6, 64], 'row')],
] as const;

for (const name of testedBackends) {
  for (const [op, run] of cases) {
    for (const to of ['bf16', 'f16'] as const) {
      test(`${op} ${to} on ${name}: values and gradients are roundTo then the op, bit for bit`, () => {
        const backend = T.getBackend(name);
        const fused = run(backend, to, true);
        assert.equal(firstDifference(fused, run(backend, to, false)), null);
        assert.notEqual(firstDifference(fused, run(backend, undefined, false)), null, 'the rounding is real');
      });
    }
    test(`${op} absent on ${name}: the plain op`, () => {
      const backend = T.getBackend(name);
      assert.equal(firstDifference(run(backend, undefined, true), run(backend, undefined, false)), null);
    });
  }
}
