// Synthetic tasks on the unit sphere in R^d, as in the kernel-regime theory (inputs of norm 1):
//   teacher:        y = a two-layer ReLU network of width 8 with random weights
//   smooth:         y = sin(z1) + z2^2 / 2, z_k = <u_k, x> with u_k standard normal (unit variance)
//   classification: y = sign(teacher(x)) in {-1, +1}, fitted with the squared loss (as the theory does)
// Targets are standardized over train + test. Noise goes on the training labels only, so held-out loss
// measures how well the clean function was learned.

import type { RunConfig } from './config.ts';
import { normals, streams, uniforms } from './seeds.ts';

export interface TaskData {
  inputDim: number;
  /** (nTrain, d) row-major. */
  xTrain: Float32Array;
  yTrain: Float32Array;
  /** (nTest, d) row-major. */
  xTest: Float32Array;
  /** Clean targets. */
  yTest: Float32Array;
}

const TEACHER_WIDTH = 8;

type TaskConfig = Pick<RunConfig, 'task' | 'inputDim' | 'nTrain' | 'nTest' | 'noise' | 'seed'>;

export function makeTask(c: TaskConfig): TaskData {
  const d = c.inputDim;
  const n = c.nTrain + c.nTest;
  const x = normals(c.seed, streams.inputs, n * d);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < d; j++) norm += x[i * d + j] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let j = 0; j < d; j++) x[i * d + j] /= norm;
  }
  const y = c.task === 'smooth' ? smoothTarget(x, n, d, c.seed) : teacherTarget(x, n, d, c.seed);
  standardize(y);
  if (c.task === 'classification') for (let i = 0; i < n; i++) y[i] = y[i] >= 0 ? 1 : -1;

  const yTrain = Float32Array.from(y.subarray(0, c.nTrain));
  if (c.noise > 0) {
    if (c.task === 'classification') {
      const u = uniforms(c.seed, streams.noise, c.nTrain);
      for (let i = 0; i < c.nTrain; i++) if (u[i] < c.noise) yTrain[i] = -yTrain[i];
    } else {
      const e = normals(c.seed, streams.noise, c.nTrain);
      for (let i = 0; i < c.nTrain; i++) yTrain[i] += c.noise * e[i];
    }
  }
  return {
    inputDim: d,
    xTrain: Float32Array.from(x.subarray(0, c.nTrain * d)),
    yTrain,
    xTest: Float32Array.from(x.subarray(c.nTrain * d)),
    yTest: Float32Array.from(y.subarray(c.nTrain)),
  };
}

/** <u_k, x> for a standard normal u_k: a unit-variance projection of a unit-norm input. */
function projection(x: Float64Array, i: number, d: number, u: Float64Array, k: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += x[i * d + j] * u[k * d + j];
  return s;
}

function teacherTarget(x: Float64Array, n: number, d: number, seed: number): Float64Array {
  const w = normals(seed, streams.teacher, TEACHER_WIDTH * (d + 1));
  const v = w.subarray(TEACHER_WIDTH * d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < TEACHER_WIDTH; k++) y[i] += v[k] * Math.max(0, projection(x, i, d, w, k));
  }
  return y;
}

function smoothTarget(x: Float64Array, n: number, d: number, seed: number): Float64Array {
  const u = normals(seed, streams.teacher, 2 * d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = Math.sin(projection(x, i, d, u, 0)) + projection(x, i, d, u, 1) ** 2 / 2;
  return y;
}

function standardize(y: Float64Array): void {
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  const variance = y.reduce((s, v) => s + (v - mean) ** 2, 0) / y.length;
  const std = Math.sqrt(variance) || 1;
  for (let i = 0; i < y.length; i++) y[i] = (y[i] - mean) / std;
}
