// The engine's public surface: tensors, autodiff, scopes, backends, and every op.
import { installGradOps } from './autograd.ts';
import { output, stridesOf } from './ops/common.ts';
import { add } from './ops/elementwise.ts';
import type { Tensor } from './tensor.ts';

export {
  backward,
  grad,
  isGradEnabled,
  noGrad,
  record,
  requireGrad,
  setGradientFolding,
} from './autograd.ts';
export { EngineError } from './errors.ts';
export * from './ops/broadcast.ts';
export { cast, type RoundToOptions, roundTo } from './ops/cast.ts';
export * from './ops/create.ts';
export * from './ops/elementwise.ts';
export * from './ops/fp8.ts';
export * from './ops/linear-cross-entropy.ts';
export * from './ops/matmul.ts';
export * from './ops/nn.ts';
export * from './ops/packed.ts';
export * from './ops/quant.ts';
export * from './ops/reduce.ts';
export * from './ops/shape.ts';
export {
  availableBackends,
  defaultBackend,
  getBackend,
  registerBackend,
  setDefaultBackend,
  tryBackend,
} from './registry.ts';
export { keep, tidy, tidyAsync } from './scope.ts';
export { type GradNode, Storage, Tensor } from './tensor.ts';

installGradOps({
  onesLike(t: Tensor) {
    const out = output(t.shape, t.backend);
    t.backend.fill(out.handle, out.size, 1);
    return out;
  },
  accumulate(a: Tensor, b: Tensor) {
    if (a.storage.refs === 1 && a.size === b.size) {
      const s = stridesOf(a.shape);
      a.backend.binary('add', a.handle, s, b.handle, s, a.handle, a.shape);
      return a;
    }
    const sum = add(a, b);
    a.dispose();
    return sum;
  },
  clone(t: Tensor) {
    const out = output(t.shape, t.backend);
    t.backend.affine(t.handle, out.handle, t.size, 1, 0);
    return out;
  },
});
