// The empirical neural tangent kernel on a probe set: K_ij = <df(x_i)/dtheta, df(x_j)/dtheta>, the Gram
// matrix of per-example parameter gradients (one backward per probe example), and its relative drift
// ||K_t - K_0||_F / ||K_0||_F. For the 1-bit network theta are the latent weights and df/dtheta is the
// straight-through gradient, the quantity the kernel-regime theory tracks.

import * as T from '../../tensor/index.ts';
import type { TwoLayerNet } from './two-layer.ts';

/** The Jacobian of f on the probe set as a (P, number of parameters) tensor: row i is df(x_i)/dtheta,
 *  from one backward pass per probe example. */
export function probeJacobian(net: TwoLayerNet, probes: Float32Array, inputDim: number): T.Tensor {
  const count = probes.length / inputDim;
  return T.tidy(() => {
    const rows: T.Tensor[] = [];
    for (let i = 0; i < count; i++) {
      const x = T.tensor(probes.subarray(i * inputDim, (i + 1) * inputDim), [1, inputDim]);
      const grads = T.grad((...params) => T.sum(net.forwardWith(params, x)), net.parameters());
      rows.push(
        T.concat(
          grads.map((g) => T.reshape(g, [1, g.size])),
          1,
        ),
      );
    }
    return T.concat(rows, 0);
  });
}

/** K = J J^T on the probe set, a (P, P) symmetric matrix (row-major doubles). */
export function empiricalNtk(net: TwoLayerNet, probes: Float32Array, inputDim: number): Float64Array {
  return T.tidy(() => {
    const jacobian = probeJacobian(net, probes, inputDim);
    return Float64Array.from(T.matmul(jacobian, jacobian, { transB: true }).toArray());
  });
}

/** ||K - K0||_F / ||K0||_F. */
export function relativeChange(k: Float64Array, k0: Float64Array): number {
  let diff = 0;
  let base = 0;
  for (let i = 0; i < k.length; i++) {
    diff += (k[i] - k0[i]) ** 2;
    base += k0[i] ** 2;
  }
  return Math.sqrt(diff / base);
}
