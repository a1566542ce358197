// The multitask sparse parity model: an MLP with `depth` hidden ReLU layers of `width` units and a
// 2-way softmax output (depth 1 is the paper's "2-layer" network: two weight layers).
//
// The first layer acts on [one-hot task (nTasks), bits (n)]. Its weight splits into a task part and a
// bit part; the task part times a one-hot vector is a row lookup, so we store it as an embedding table
// `l0.task` (nTasks, width) and skip the (B, nTasks) one-hot product — same function, same parameter
// count, ~(nTasks + n) / n times less first-layer work.
// Shapes: B batch, n bits, W width.

import type { Tensor } from '../../tensor/index.ts';
import * as T from '../../tensor/index.ts';
import { integerIn, QuantaConfigError } from './errors.ts';
import type { Batch } from './sparse-parity.ts';

export interface MlpConfig {
  width: number;
  /** Hidden layers (>= 1). */
  depth: number;
  activation: 'relu' | 'gelu' | 'tanh';
}

export const ACTIVATIONS = ['relu', 'gelu', 'tanh'] as const;

export type MlpParams = Map<string, Tensor>;

export function validateMlp(c: MlpConfig, field = 'model'): MlpConfig {
  integerIn(`${field}.width`, c.width, 1);
  integerIn(`${field}.depth`, c.depth, 1);
  if (!ACTIVATIONS.includes(c.activation)) {
    throw new QuantaConfigError(`${field}.activation`, c.activation, `one of ${ACTIVATIONS.join(', ')}`);
  }
  return c;
}

/** Parameter names and shapes; weights are (out, in) as in a linear layer. */
export function mlpShapes(c: MlpConfig, nTasks: number, n: number): [string, number[]][] {
  const shapes: [string, number[]][] = [
    ['l0.task', [nTasks, c.width]],
    ['l0.bits', [c.width, n]],
    ['l0.bias', [c.width]],
  ];
  for (let l = 1; l < c.depth; l++)
    shapes.push([`l${l}.weight`, [c.width, c.width]], [`l${l}.bias`, [c.width]]);
  shapes.push(['out.weight', [2, c.width]], ['out.bias', [2]]);
  return shapes;
}

/** Every parameter counts (N in the quanta paper's L(N)). */
export function mlpParameterCount(c: MlpConfig, nTasks: number, n: number): number {
  return mlpShapes(c, nTasks, n).reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0);
}

/** PyTorch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with the full first-layer fan-in. */
export function initMlp(c: MlpConfig, nTasks: number, n: number, seed: number): MlpParams {
  const params: MlpParams = new Map();
  mlpShapes(c, nTasks, n).forEach(([name, shape], i) => {
    const fanIn = name.startsWith('l0.') ? nTasks + n : c.width;
    const bound = 1 / Math.sqrt(fanIn);
    const t = T.tidy(() => T.affine(T.rand(shape, { seed: seed * 1_000_003 + i }), 2 * bound, -bound));
    t.name = name;
    params.set(name, T.requireGrad(t.keep()));
  });
  return params;
}

/** Logits (B, 2) of a batch. */
export function mlpForward(c: MlpConfig, params: MlpParams, batch: Batch): Tensor {
  const get = (name: string) => params.get(name)!;
  const n = batch.bits.length / batch.size;
  const act = (x: Tensor) =>
    c.activation === 'relu' ? T.relu(x) : c.activation === 'gelu' ? T.gelu(x) : T.tanh(x);
  const tasks = T.tensor(batch.tasks, [batch.size], { dtype: 'i32' });
  // Bits enter as ±1: an affine change the first-layer bias could absorb, but centered inputs let the
  // parity's signal reach the first layer's gradient without the offset of 0/1 bits.
  const bits = T.affine(T.tensor(batch.bits, [batch.size, n]), 2, -1);
  let h = T.add(T.embedding(get('l0.task'), tasks), T.matmul(bits, get('l0.bits'), { transB: true })); // (B, W)
  h = act(T.add(h, get('l0.bias')));
  for (let l = 1; l < c.depth; l++) {
    h = act(T.add(T.matmul(h, get(`l${l}.weight`), { transB: true }), get(`l${l}.bias`)));
  }
  return T.add(T.matmul(h, get('out.weight'), { transB: true }), get('out.bias')); // (B, 2)
}

export function disposeParams(params: MlpParams): void {
  for (const p of params.values()) {
    p.grad?.dispose();
    p.dispose();
  }
}
