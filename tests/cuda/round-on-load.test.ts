// The cuda kernels that round an input to a half type on load (native/cuda/round_half.cuh): swiglu and its
// gradient (fused_elementwise.cu), addRmsNorm (norm.cu), rope (rope.cu), each against cuda's own composition
// (roundTo with { gradient: false }, then the plain op) bit for bit, values and gradients, and near the js
// reference of the same fused op. Shapes that take the float4 paths (aligned, a multiple of 4) and the scalar
// ones (a tail, rows of 37), and one past a grid's worth of threads. And attention in the bf16 / fp16 matmul
// modes, which rounds q, k and v itself on every path (flash at head size 64, cuBLASLt at 48, the fp32 kernels on
// rounded copies at 20): the same values and gradients as on operands rounded first. Skips without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';
import { uniform } from '../tensor/fixtures.ts';
import {
  addRmsNormCase,
  addRmsNormOutputCase,
  type Case,
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
} from '../tensor/round-on-load-cases.ts';
import { assertClose, cuda, skip } from './helpers.ts';

const cases: [string, Case, boolean][] = [
  ['swiglu [4, 33, 64]', swigluCase([4, 33, 64]), true],
  ['swiglu [1113]', swigluCase([1113]), true],
  ['swiglu { roundOutput, roundGradient } [4, 33, 64]', swigluOutputCase([4, 33, 64], true), true],
  ['swiglu { roundGradient } [1113]', swigluOutputCase([1113], false), true],
  ['swiglu [2^22 + 3]', swigluCase([(1 << 22) + 3]), false], // the grid-stride loop; too big for js here
  ['addRmsNorm [6, 256]', addRmsNormCase([6, 256]), true],
  ['addRmsNorm [2, 5, 37]', addRmsNormCase([2, 5, 37]), true],
  ['rmsNorm { roundGradient } [6, 256]', normGradientCase([6, 256]), true],
  ['rmsNorm { roundGradient } [2, 5, 37]', normGradientCase([2, 5, 37]), true],
  ['rope [2, 17, 4, 64]', ropeCase([2, 17, 4, 64]), true],
  ['rope [1, 3, 2, 6]', ropeCase([1, 3, 2, 6]), true],
];

for (const [name, run, againstJs] of cases) {
  for (const to of ['bf16', 'f16'] as const) {
    test(`${name} ${to} on cuda: bit for bit roundTo then the op, and near js`, { skip }, () => {
      const cuda = T.getBackend('cuda');
      const fused = run(cuda, to, true);
      assert.equal(firstDifference(fused, run(cuda, to, false)), null);
      assert.notEqual(firstDifference(fused, run(cuda, undefined, false)), null, 'the rounding is real');
      if (!againstJs) return;
      const js = run(T.getBackend('js'), to, true);
      for (const key of Object.keys(js)) assertClose(`${name} ${key}`, fused[key], js[key], 1e-4, 1e-4);
    });
  }
}

// The kernels that round what they store (an output, an input's gradient), with the HalfOnly hint: in the matmul
// mode of the rounding's type they keep those values as 16-bit copies alone, and reading them must give the same
// bits as the composition (roundTo after the op, or before it on the gradient) computes.
// (keeps: whether the kernel keeps any copy at that shape; addRmsNorm's rows of 37 take the path that writes none)
const storeCases: [string, (halfOnly: boolean) => Case, boolean][] = [
  ['swiglu { roundInputGradients } [4, 33, 64]', (h) => swigluGradientsCase([4, 33, 64], h), true],
  ['swiglu { roundInputGradients } [1113]', (h) => swigluGradientsCase([1113], h), true],
  ['swiglu { roundOutput, halfOnly } [4, 33, 64]', () => swigluHalfOnlyCase([4, 33, 64]), true],
  ['addRmsNorm { roundOutput } [6, 256]', (h) => addRmsNormOutputCase([6, 256], h), true],
  ['addRmsNorm { roundOutput } [2, 5, 37]', (h) => addRmsNormOutputCase([2, 5, 37], h), false],
  ['rope { roundOutput, roundInputGradient } [2, 17, 4, 64]', (h) => ropeStoreCase([2, 17, 4, 64], h), true],
  ['rope { roundOutput, roundInputGradient } [1, 3, 2, 6]', (h) => ropeStoreCase([1, 3, 2, 6], h), true],
  [
    'fakeQuant int8 per tensor { roundOutput } [64, 256]',
    (h) => fakeQuantOutputCase([64, 256], 'tensor', h),
    true,
  ],
  ['fakeQuant int4 per row { roundOutput } [48, 256]', (h) => fakeQuantOutputCase([48, 256], 'row', h), true],
  [
    'fakeQuant int4 per row { roundOutput } [4096, 64]',
    (h) => fakeQuantOutputCase([4096, 64], 'row', h),
    true,
  ],
  // rows of 96: the warp-per-row kernel (fused_groups), where 64 and 256 take the short-group one
  ['fakeQuant int4 per row { roundOutput } [40, 96]', (h) => fakeQuantOutputCase([40, 96], 'row', h), true],
];
const keptSoFar = () => cuda.addon.halfOnlyCounts!()[0];

for (const [name, make, keeps] of storeCases) {
  for (const [to, mode] of [
    ['bf16', 'bf16'],
    ['f16', 'fp16'],
  ] as const) {
    test(`${name} ${to} on cuda: bit for bit the composition, also kept as 16-bit copies in ${mode} mode`, {
      skip,
    }, () => {
      const backend = T.getBackend('cuda');
      const want = make(false)(backend, to, false);
      assert.equal(firstDifference(make(false)(backend, to, true), want), null);
      assert.notEqual(
        firstDifference(want, make(false)(backend, undefined, false)),
        null,
        'the rounding is real',
      );
      const previous = cuda.setMatmulMode(mode);
      try {
        const kept = keptSoFar();
        assert.equal(firstDifference(make(true)(backend, to, true), want), null, 'with HalfOnly');
        assert.equal(keptSoFar() > kept, keeps, 'outputs kept as copies alone');
      } finally {
        cuda.setMatmulMode(previous);
      }
    });
  }
}

// A product rounded as it is stored: in the bf16 / fp16 modes with the HalfOnly hint, cuBLASLt writes the 16-bit
// output alone (with an algorithm tuned for that output): here bit for bit the f32 product rounded after, in the
// same mode (the mode decides the operands' type). Shapes: a tile's worth, and one with ragged edges, whose
// rows (45 values) are not 16-byte aligned in 16 bits: computed in f32 and rounded after, no copy kept alone.
for (const [m, k, n, keeps] of [
  [256, 128, 192, true],
  [70, 33, 45, false],
] as const) {
  for (const [to, mode] of [
    ['bf16', 'bf16'],
    ['f16', 'fp16'],
  ] as const) {
    test(`matmul { roundOutput, halfOnly } ${m}x${k}x${n} ${to} in ${mode} mode: the 16-bit output alone, bit for bit`, {
      skip,
    }, () => {
      const backend = T.getBackend('cuda');
      const previous = cuda.setMatmulMode(mode);
      try {
        const want = matmulOutputCase(m, k, n)(backend, to, false);
        assert.equal(
          firstDifference(matmulOutputCase(m, k, n)(backend, to, true), want),
          null,
          'rounded after',
        );
        const kept = keptSoFar();
        assert.equal(
          firstDifference(matmulOutputCase(m, k, n, true)(backend, to, true), want),
          null,
          'HalfOnly',
        );
        assert.equal(keptSoFar() > kept, keeps, 'the output kept as its 16-bit copy alone');
      } finally {
        cuda.setMatmulMode(previous);
      }
    });
  }
}

for (const [to, mode] of [
  ['bf16', 'bf16'],
  ['f16', 'fp16'],
] as const) {
  for (const hs of [64, 48, 20]) {
    test(`attention in ${mode} mode, head size ${hs}: rounds q, k, v itself (bit for bit rounded first)`, {
      skip,
    }, () => {
      const previous = cuda.setMatmulMode(mode);
      try {
        const shape = [2, 19, 3, hs];
        const run = (round: boolean) =>
          T.tidy(() => {
            const backend = T.getBackend('cuda');
            const n = shape.reduce((a, b) => a * b, 1);
            const [q, k, v] = [1, 2, 3].map((seed) =>
              T.requireGrad(
                T.tensor(
                  uniform(n, seed).map((u) => 2 * u),
                  shape,
                  { backend },
                ),
              ),
            );
            const r = (x: T.Tensor) => (round ? T.roundTo(x, to, { gradient: false }) : x);
            const y = T.attention(r(q), r(k), r(v), true);
            T.backward(
              y,
              T.tensor(
                Array.from({ length: n }, (_, i) => Math.sin(i)),
                shape,
                { backend },
              ),
            );
            return { y: y.toArray(), gq: q.grad!.toArray(), gk: k.grad!.toArray(), gv: v.grad!.toArray() };
          });
        assert.equal(firstDifference(run(false), run(true)), null);
      } finally {
        cuda.setMatmulMode(previous);
      }
    });
  }
}
