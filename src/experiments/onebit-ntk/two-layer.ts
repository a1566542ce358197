// f(x) = c * sum_r a_r relu(<w_r, x>), c = 1/sqrt(m) (NTK) or 1/m (mean-field), with standard normal latent
// hidden weights w_r and output weights a_r = ±1. The 1-bit network uses sign(w_r) x scale in place of w_r
// (straight-through to w_r); its full-precision twin uses w_r itself. Both start from the same latent weights.

import * as T from '../../tensor/index.ts';
import type { RunConfig } from './config.ts';
import { normals, streams } from './seeds.ts';
import { signSte } from './sign-ste.ts';

export type Precision = 'onebit' | 'fp';

type NetConfig = Pick<
  RunConfig,
  'width' | 'inputDim' | 'parameterization' | 'scale' | 'ste' | 'symmetricInit' | 'trainOutput' | 'seed'
>;

export class TwoLayerNet {
  private constructor(
    readonly config: NetConfig,
    readonly precision: Precision,
    /** (m, d) latent hidden weights. */
    public latent: T.Tensor,
    /** (m, 1) output weights. */
    public output: T.Tensor,
  ) {}

  /** The pair: a 1-bit network and its full-precision twin, from the same latent init (copies). */
  static twins(config: NetConfig): { onebit: TwoLayerNet; fp: TwoLayerNet } {
    const { latent, output } = initialWeights(config);
    const make = (precision: Precision) =>
      new TwoLayerNet(
        config,
        precision,
        T.tensor(latent, [config.width, config.inputDim]).keep(),
        T.tensor(output, [config.width, 1]).keep(),
      );
    return { onebit: make('onebit'), fp: make('fp') };
  }

  /** Tensors gradient descent updates, in order. */
  parameters(): T.Tensor[] {
    return this.config.trainOutput ? [this.latent, this.output] : [this.latent];
  }

  setParameters(values: T.Tensor[]): void {
    this.latent = values[0];
    if (this.config.trainOutput) this.output = values[1];
  }

  /** (n, d) -> (n, 1). */
  forward(x: T.Tensor): T.Tensor {
    return this.forwardWith(this.parameters(), x);
  }

  /** The forward pass with explicit parameters (what T.grad differentiates). */
  forwardWith(params: T.Tensor[], x: T.Tensor): T.Tensor {
    const latent = params[0];
    const output = this.config.trainOutput ? params[1] : this.output;
    const hidden = this.precision === 'onebit' ? signSte(latent, this.config.scale, this.config.ste) : latent;
    const h = T.relu(T.matmul(x, hidden, { transB: true })); // (n, m)
    return T.affine(T.matmul(h, output), outputScale(this.config)); // (n, 1)
  }

  dispose(): void {
    this.latent.dispose();
    this.output.dispose();
  }
}

export function outputScale(c: Pick<RunConfig, 'width' | 'parameterization'>): number {
  return c.parameterization === 'ntk' ? 1 / Math.sqrt(c.width) : 1 / c.width;
}

/** Latent weights (m*d) and output weights (m); with symmetricInit the second half mirrors the first
 *  with negated output weights, so f = 0 at init for both precisions. */
export function initialWeights(c: NetConfig): { latent: Float32Array; output: Float32Array } {
  const m = c.width;
  const d = c.inputDim;
  const drawn = c.symmetricInit ? m / 2 : m;
  const latent = new Float32Array(m * d);
  latent.set(normals(c.seed, streams.hidden, drawn * d));
  const signs = normals(c.seed, streams.output, drawn);
  const output = new Float32Array(m);
  for (let r = 0; r < drawn; r++) output[r] = signs[r] >= 0 ? 1 : -1;
  if (c.symmetricInit) {
    latent.copyWithin(drawn * d, 0, drawn * d);
    for (let r = 0; r < drawn; r++) output[drawn + r] = -output[r];
  }
  return { latent, output };
}
