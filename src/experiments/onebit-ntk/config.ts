// One run of the experiment: a two-layer network of a given width trained on a synthetic task, in 1-bit and
// in full precision from the same latent weights. Defaults, then overrides, then validation: the resolved
// config is what a sweep job carries and what its id hashes.

import { OnebitNtkConfigError } from './errors.ts';

export type TaskKind = 'teacher' | 'smooth' | 'classification';
/** 'ntk': f = a·relu(Wx)/sqrt(m), the kernel regime. 'mean-field': f = a·relu(Wx)/m, features move. */
export type Parameterization = 'ntk' | 'mean-field';
/** The 1-bit weight is sign(latent) x scale: 1 ({-1,+1} as in the theory) or mean |latent| (BitNet). */
export type OneBitScale = 'unit' | 'absmean';
/** Straight-through gradient of sign(): see sign-ste.ts. */
export type SteKind = 'plain' | 'clipped' | 'tanh';

export interface RunConfig {
  task: TaskKind;
  /** Input dimension d; inputs are uniform on the unit sphere. */
  inputDim: number;
  nTrain: number;
  nTest: number;
  /** Regression: std of Gaussian label noise; classification: probability of flipping a label. */
  noise: number;
  /** Hidden units m. */
  width: number;
  parameterization: Parameterization;
  scale: OneBitScale;
  ste: SteKind;
  /** Pairs of hidden units with equal latent weights and opposite output weights, so f starts at 0 for
   *  both networks: the gap between them then measures training, not two unrelated random functions. */
  symmetricInit: boolean;
  /** Train the output weights too (the theory fixes them at ±1 and trains the hidden layer only). */
  trainOutput: boolean;
  /** Full-batch gradient descent on the mean squared error / 2. In mean-field the step is lr * width. */
  lr: number;
  steps: number;
  /** Examples of the probe set the empirical NTK is measured on. */
  probeSize: number;
  /** Measurements at this many log-spaced steps (plus step 0 and the last step). */
  measurements: number;
  seed: number;
}

export const defaultRunConfig: RunConfig = {
  task: 'teacher',
  inputDim: 16,
  nTrain: 128,
  nTest: 256,
  noise: 0,
  width: 1024,
  parameterization: 'ntk',
  scale: 'unit',
  ste: 'plain',
  symmetricInit: true,
  trainOutput: false,
  lr: 1,
  steps: 500,
  probeSize: 32,
  measurements: 8,
  seed: 0,
};

const oneOf = <T extends string>(field: string, value: unknown, allowed: readonly T[]): T => {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new OnebitNtkConfigError(field, value, `one of ${allowed.join(', ')}`);
  }
  return value as T;
};

const integer = (field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OnebitNtkConfigError(field, value, `a whole number in [${min}, ${max}]`);
  }
  return value;
};

const boolean = (field: string, value: unknown): boolean => {
  if (typeof value !== 'boolean') throw new OnebitNtkConfigError(field, value, 'true or false');
  return value;
};

const number = (field: string, value: unknown, min: number, max: number, open = false): number => {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (open ? value > min : value >= min) &&
    value <= max;
  if (!ok) throw new OnebitNtkConfigError(field, value, `a number in ${open ? '(' : '['}${min}, ${max}]`);
  return value as number;
};

/** Defaults overridden by `overrides`, every field checked; unknown fields are an error (typos). */
export function resolveRunConfig(overrides: Readonly<Record<string, unknown>> = {}): RunConfig {
  for (const key of Object.keys(overrides)) {
    if (!(key in defaultRunConfig)) {
      throw new OnebitNtkConfigError(
        key,
        overrides[key],
        `a known field (${Object.keys(defaultRunConfig).join(', ')})`,
      );
    }
  }
  const c = { ...defaultRunConfig, ...overrides } as Record<keyof RunConfig, unknown>;
  const task = oneOf('task', c.task, ['teacher', 'smooth', 'classification'] as const);
  const symmetricInit = boolean('symmetricInit', c.symmetricInit);
  const width = integer('width', c.width, 1, 1 << 20);
  if (symmetricInit && width % 2 !== 0) {
    throw new OnebitNtkConfigError('width', width, 'an even number when symmetricInit is true');
  }
  return {
    task,
    inputDim: integer('inputDim', c.inputDim, 1, 4096),
    nTrain: integer('nTrain', c.nTrain, 1, 1 << 20),
    nTest: integer('nTest', c.nTest, 1, 1 << 20),
    noise: number('noise', c.noise, 0, task === 'classification' ? 0.5 : 1e6),
    width,
    parameterization: oneOf('parameterization', c.parameterization, ['ntk', 'mean-field'] as const),
    scale: oneOf('scale', c.scale, ['unit', 'absmean'] as const),
    ste: oneOf('ste', c.ste, ['plain', 'clipped', 'tanh'] as const),
    symmetricInit,
    trainOutput: boolean('trainOutput', c.trainOutput),
    lr: number('lr', c.lr, 0, 1e6, true),
    steps: integer('steps', c.steps, 0, 1e7),
    probeSize: integer('probeSize', c.probeSize, 1, 1024),
    measurements: integer('measurements', c.measurements, 1, 1000),
    seed: integer('seed', c.seed, 0, 2 ** 31 - 1),
  };
}

/** Trainable parameters of one network: the hidden layer, plus the output layer when it is trained. */
export function parameterCount(c: RunConfig): number {
  return c.width * c.inputDim + (c.trainOutput ? c.width : 0);
}
