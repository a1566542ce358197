// Reverse-mode autodiff on a tape: each op that sees an input requiring gradients attaches a GradNode to its
// output; backward() walks the nodes in reverse topological order. Gradients of leaves (parameters) are
// accumulated into their kept .grad tensors, so several backward passes add up (gradient accumulation).
import { EngineError } from './errors.ts';
import type { GatheredGrads, GradNode, Tensor } from './tensor.ts';

let gradDepth = 0;

export function isGradEnabled(): boolean {
  return gradDepth === 0;
}

/** Runs fn without recording anything for autodiff. */
export function noGrad<T>(fn: () => T): T {
  gradDepth++;
  try {
    return fn();
  } finally {
    gradDepth--;
  }
}

/** Attaches a gradient rule to `out` when any input needs gradients. Returns out. */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: GradNode['backward'],
): Tensor {
  if (gradDepth === 0 && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

let folding = true;
/** Whether rules may add into the gradients gathered for their inputs (GatheredGrads); off, every gradient is
 *  summed by an add. The same terms either way, summed with other roundings where a backend's kernel adds as it
 *  computes (a GEMM accumulating panel by panel, a fused multiply-add): equal up to float rounding, not bit for
 *  bit. For tests and A/B timing. Returns the previous setting. */
export function setGradientFolding(on: boolean): boolean {
  const previous = folding;
  folding = on;
  return previous;
}

/** Marks a tensor as a leaf that collects gradients. */
export function requireGrad<T extends Tensor>(t: T): T {
  t.requiresGrad = true;
  return t;
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: graphs of deep models overflow the call stack when walked recursively.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, next] = top;
    const inputs = t.node?.inputs ?? [];
    if (next < inputs.length) {
      top[1]++;
      const input = inputs[next];
      if (input.requiresGrad && !seen.has(input)) {
        seen.add(input);
        stack.push([input, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order.reverse();
}

export interface GradOps {
  onesLike(t: Tensor): Tensor;
  /** The sum a + b, computed in place into a when a's storage is not shared (else a is disposed and a new
   *  tensor returned). b is left to the caller. */
  accumulate(a: Tensor, b: Tensor): Tensor;
  clone(t: Tensor): Tensor;
}

let gradOps: GradOps | undefined;
/** The ops module installs the few ops backward itself needs (avoids an import cycle). */
export function installGradOps(ops: GradOps): void {
  gradOps = ops;
}

/**
 * Back-propagates from `loss` (a scalar unless `gradient` is given). Leaves' gradients are accumulated into
 * their .grad; intermediate gradients are disposed as soon as they are consumed.
 */
export function backward(loss: Tensor, gradient?: Tensor): void {
  const ops = gradOps!;
  if (!loss.requiresGrad)
    throw new EngineError('backward', 'the tensor does not depend on any tensor that requires grad');
  if (!gradient && loss.size !== 1) {
    throw new EngineError(
      'backward',
      `loss must be a scalar, got ${loss.size} elements; pass the output gradient`,
    );
  }
  const grads = new Map<Tensor, Tensor>();
  grads.set(loss, gradient ? gradient.view(gradient.shape) : ops.onesLike(loss));
  noGrad(() => {
    for (const t of topologicalOrder(loss)) {
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (!t.node) {
        // A leaf: accumulate into its persistent gradient. A first gradient that owns its storage alone becomes
        // .grad as it is; one that shares it (a view handed to several inputs) is copied, since later passes
        // accumulate into .grad in place.
        if (!t.grad && !g.kept && g.storage.refs === 1) {
          t.grad = g.keep();
          continue;
        }
        t.grad = (t.grad ? ops.accumulate(t.grad, g) : ops.clone(g)).keep();
        g.dispose();
        continue;
      }
      const { inputs } = t.node;
      const taken = new Set<number>();
      const gathered: GatheredGrads = {
        take(i) {
          const input = inputs[i];
          const existing = folding && input?.requiresGrad ? grads.get(input) : undefined;
          if (!existing || existing.kept || existing.storage.refs !== 1) return null;
          if (inputs.indexOf(input) !== inputs.lastIndexOf(input)) return null;
          taken.add(i);
          return existing;
        },
      };
      const inputGrads = t.node.backward(g, gathered);
      const handed = new Set<Tensor>();
      inputs.forEach((input, i) => {
        let gi = inputGrads[i];
        if (taken.has(i)) {
          // The rule added into the gradient it took: that tensor is the input's gradient now.
          if (gi !== grads.get(input))
            throw new EngineError(
              'backward',
              `${t.node!.op} took input ${i}'s gradient but did not return it`,
            );
          handed.add(gi!);
          return;
        }
        if (!gi || !input.requiresGrad) return;
        // The same tensor may be handed to several inputs (add, views): give each its own view.
        if (gi === g || handed.has(gi)) gi = gi.view(gi.shape);
        handed.add(gi);
        const existing = grads.get(input);
        if (existing) {
          grads.set(input, ops.accumulate(existing, gi));
          gi.dispose();
        } else {
          grads.set(input, gi);
        }
      });
      for (const gi of inputGrads) if (gi && !handed.has(gi) && gi !== g) gi.dispose();
      g.dispose();
    }
  });
}

/** Computes gradients of a scalar function with respect to its inputs, without touching their .grad. */
export function grad(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): Tensor[] {
  const saved = inputs.map((x) => ({ x, grad: x.grad, requiresGrad: x.requiresGrad }));
  for (const x of inputs) {
    x.grad = null;
    x.requiresGrad = true;
  }
  try {
    const loss = fn(...inputs);
    backward(loss);
    return inputs.map((x) => x.grad ?? zerosLike(x));
  } finally {
    for (const s of saved) {
      s.x.grad = s.grad;
      s.x.requiresGrad = s.requiresGrad;
    }
  }
}

/** The gradient of an input that did not influence the output. */
function zerosLike(x: Tensor): Tensor {
  const z = gradOps!.onesLike(x);
  z.backend.fill(z.handle, z.size, 0);
  return z;
}
