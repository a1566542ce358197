// One table of op cases, shared by the finite-difference test (js64) and the cross-backend test.
// Each case builds its inputs from a seed, so every backend sees the same numbers.
import type { Backend } from '../../src/backends/backend.ts';
import type { Tensor } from '../../src/tensor/index.ts';
import * as T from '../../src/tensor/index.ts';

export interface InputSpec {
  shape: number[];
  /** Input values: normal by default; 'positive' for log/sqrt; 'int:V' for i32 indices in [0, V). */
  kind?: 'normal' | 'positive' | `int:${number}` | 'targets';
  /** Whether a gradient flows to it (float inputs default to true). */
  grad?: boolean;
}

export interface OpCase {
  name: string;
  inputs: InputSpec[];
  fn: (...xs: Tensor[]) => Tensor;
  /** Skip the finite-difference check (ops with kinks at sampled points or non-true gradients). */
  noFiniteDifference?: boolean;
}

const unary = (
  name: string,
  fn: (x: Tensor) => Tensor,
  kind: InputSpec['kind'] = 'normal',
  fd = true,
): OpCase => ({
  name,
  inputs: [{ shape: [3, 5], kind }],
  fn,
  noFiniteDifference: !fd,
});

export const opCases: OpCase[] = [
  unary('neg', T.neg),
  unary('exp', T.exp),
  unary('log', T.log, 'positive'),
  unary('sqrt', T.sqrt, 'positive'),
  unary('rsqrt', T.rsqrt, 'positive'),
  unary('abs', T.abs),
  unary('relu', T.relu),
  unary('gelu', T.gelu),
  unary('silu', T.silu),
  unary('sigmoid', T.sigmoid),
  unary('tanh', T.tanh),
  unary('square', T.square),
  unary('reciprocal', T.reciprocal, 'positive'),
  unary('sign', T.sign, 'normal', false),
  unary('round', (x) => T.round(T.affine(x, 3)), 'normal', false),
  unary('floor', (x) => T.floor(T.affine(x, 3)), 'normal', false),
  unary('affine', (x) => T.affine(x, -1.5, 0.25)),
  unary('clamp', (x) => T.clamp(x, -0.5, 0.7)),
  { name: 'add broadcast', inputs: [{ shape: [2, 3, 4] }, { shape: [3, 1] }], fn: T.add },
  { name: 'sub broadcast', inputs: [{ shape: [4] }, { shape: [2, 3, 4] }], fn: T.sub },
  { name: 'mul broadcast', inputs: [{ shape: [2, 1, 4] }, { shape: [3, 1] }], fn: T.mul },
  { name: 'div', inputs: [{ shape: [3, 4] }, { shape: [3, 4], kind: 'positive' }], fn: T.div },
  { name: 'pow', inputs: [{ shape: [3, 4], kind: 'positive' }, { shape: [4] }], fn: T.pow },
  { name: 'maximum', inputs: [{ shape: [3, 4] }, { shape: [3, 4] }], fn: T.maximum },
  { name: 'minimum', inputs: [{ shape: [3, 4] }, { shape: [1, 4] }], fn: T.minimum },
  {
    name: 'scalar operand',
    inputs: [{ shape: [2, 3] }],
    fn: (x) => T.mul(T.add(x, 2), T.div(1.5, T.exp(x))),
  },
  {
    name: 'where',
    inputs: [{ shape: [3, 4], grad: false }, { shape: [3, 4] }, { shape: [4] }],
    fn: (c, a, b) => T.where(T.gt(c, 0), a, b),
  },
  { name: 'sum all', inputs: [{ shape: [2, 3, 4] }], fn: (x) => T.sum(x) },
  { name: 'sum axes', inputs: [{ shape: [2, 3, 4] }], fn: (x) => T.sum(x, [0, 2]) },
  { name: 'mean keepdims', inputs: [{ shape: [2, 3, 4] }], fn: (x) => T.mean(x, 1, true) },
  { name: 'max axis', inputs: [{ shape: [3, 5] }], fn: (x) => T.max(x, -1) },
  {
    name: 'reshape',
    inputs: [{ shape: [2, 6] }],
    fn: (x) => T.mul(T.reshape(x, [3, -1]), T.reshape(x, [3, 4])),
  },
  { name: 'permute', inputs: [{ shape: [2, 3, 4] }], fn: (x) => T.permute(x, [2, 0, 1]) },
  { name: 'transpose', inputs: [{ shape: [3, 5] }], fn: (x) => T.transpose(x) },
  { name: 'slice', inputs: [{ shape: [4, 6] }], fn: (x) => T.slice(x, 1, 2, 5) },
  { name: 'concat', inputs: [{ shape: [2, 3] }, { shape: [2, 2] }], fn: (a, b) => T.concat([a, b, a], 1) },
  { name: 'broadcastTo', inputs: [{ shape: [3, 1] }], fn: (x) => T.broadcastTo(x, [2, 3, 4]) },
  { name: 'matmul', inputs: [{ shape: [3, 4] }, { shape: [4, 5] }], fn: (a, b) => T.matmul(a, b) },
  {
    name: 'matmul transA',
    inputs: [{ shape: [4, 3] }, { shape: [4, 5] }],
    fn: (a, b) => T.matmul(a, b, { transA: true }),
  },
  {
    name: 'matmul transB',
    inputs: [{ shape: [3, 4] }, { shape: [5, 4] }],
    fn: (a, b) => T.matmul(a, b, { transB: true }),
  },
  {
    name: 'matmul both',
    inputs: [{ shape: [4, 3] }, { shape: [5, 4] }],
    fn: (a, b) => T.matmul(a, b, { transA: true, transB: true }),
  },
  {
    name: 'matmul linear',
    inputs: [{ shape: [2, 3, 4] }, { shape: [5, 4] }],
    fn: (a, b) => T.matmul(a, b, { transB: true }),
  },
  {
    name: 'matmul batched',
    inputs: [{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }],
    fn: (a, b) => T.matmul(a, b),
  },
  {
    name: 'matmul batched transA',
    inputs: [{ shape: [2, 4, 3] }, { shape: [2, 4, 5] }],
    fn: (a, b) => T.matmul(a, b, { transA: true }),
  },
  { name: 'softmax', inputs: [{ shape: [3, 6] }], fn: T.softmax },
  { name: 'logSoftmax', inputs: [{ shape: [3, 6] }], fn: T.logSoftmax },
  {
    name: 'crossEntropy mean',
    inputs: [{ shape: [2, 3, 7] }, { shape: [2, 3], kind: 'targets' }],
    fn: (l, t) => T.crossEntropy(l, t),
  },
  {
    name: 'crossEntropy none',
    inputs: [{ shape: [4, 7] }, { shape: [4], kind: 'int:7' }],
    fn: (l, t) => T.crossEntropy(l, t, 'none'),
  },
  { name: 'rmsNorm', inputs: [{ shape: [3, 8] }, { shape: [8] }], fn: (x, w) => T.rmsNorm(x, w) },
  {
    name: 'layerNorm',
    inputs: [{ shape: [3, 8] }, { shape: [8] }, { shape: [8] }],
    fn: (x, w, b) => T.layerNorm(x, w, b),
  },
  { name: 'layerNorm plain', inputs: [{ shape: [3, 8] }], fn: (x) => T.layerNorm(x) },
  { name: 'rope', inputs: [{ shape: [2, 5, 3, 4] }], fn: (x) => T.rope(x, 10000, 3) },
  {
    name: 'attention causal',
    inputs: [{ shape: [2, 5, 2, 4] }, { shape: [2, 5, 2, 4] }, { shape: [2, 5, 2, 4] }],
    fn: (q, k, v) => T.attention(q, k, v, true),
  },
  {
    name: 'attention full',
    inputs: [{ shape: [1, 4, 3, 2] }, { shape: [1, 4, 3, 2] }, { shape: [1, 4, 3, 2] }],
    fn: (q, k, v) => T.attention(q, k, v, false),
  },
  {
    name: 'embedding',
    inputs: [{ shape: [6, 4] }, { shape: [2, 5], kind: 'int:6' }],
    fn: (t, i) => T.embedding(t, i),
  },
  {
    name: 'dropout',
    inputs: [{ shape: [4, 8] }],
    fn: (x) => {
      T.manualSeed(11);
      return T.dropout(x, 0.3);
    },
  },
];

/** Builds a case's inputs on a backend from a seed (host-side draws, so every backend gets the same values). */
export function makeInputs(c: OpCase, backend: Backend, seed: number): Tensor[] {
  return c.inputs.map((spec, i) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float64Array(size);
    const normal = T.randn([size], { backend: T.getBackend('js64'), seed: seed * 100 + i }).toArray();
    const kind = spec.kind ?? 'normal';
    for (let j = 0; j < size; j++) {
      if (kind === 'normal') values[j] = normal[j];
      else if (kind === 'positive') values[j] = 0.5 + Math.abs(normal[j]);
      else if (kind === 'targets') values[j] = j % 5 === 2 ? -1 : Math.floor(Math.abs(normal[j]) * 3) % 7;
      else values[j] = Math.floor(Math.abs(normal[j]) * 1000) % Number(kind.slice(4));
    }
    const integer = kind.startsWith('int') || kind === 'targets';
    const t = T.tensor(values, spec.shape, { backend, dtype: integer ? 'i32' : 'f32' });
    if (!integer && spec.grad !== false) t.requiresGrad = true;
    return t;
  });
}
