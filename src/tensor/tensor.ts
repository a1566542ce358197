// Tensor: a shape, a dtype, and a reference-counted storage on one backend. Tensors are immutable from the
// user's view; views (reshape) share storage, so storage is freed when its last tensor is disposed.
import type { Backend, DType } from '../backends/backend.ts';
import { EngineError, fmtShape } from './errors.ts';
import { trackInScope } from './scope.ts';

export class Storage {
  refs = 1;
  constructor(
    readonly backend: Backend,
    readonly handle: unknown,
    readonly dtype: DType,
    readonly size: number,
  ) {}

  release(): void {
    if (--this.refs === 0) this.backend.free(this.handle);
  }
}

/** How a tensor came to be: its inputs and the rule that maps the output's gradient to theirs. */
export interface GradNode {
  op: string;
  inputs: readonly Tensor[];
  /** Returns one gradient per input (null where the input needs none). */
  backward(gradOutput: Tensor, gathered: GatheredGrads): (Tensor | null)[];
}

/** The gradients backward has gathered so far for a node's inputs, from the nodes it has already walked. A rule
 *  that can add its contribution as it computes it (a product's accumulate, a norm's kernel) takes one and
 *  returns it, with its contribution added in place, as that input's gradient: one pass fewer than an add. */
export interface GatheredGrads {
  /** Input i's gradient so far, now the caller's to add into in place; null when there is none or when it may
   *  not be written (it shares its storage, or the input appears twice among the node's inputs). */
  take(i: number): Tensor | null;
}

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  requiresGrad = false;
  /** Accumulated gradient of a leaf tensor (a parameter); kept across scopes. */
  grad: Tensor | null = null;
  node: GradNode | null = null;
  /** Kept tensors survive the scope they were made in. */
  kept = false;
  /** Optional name (parameters use their safetensors key). */
  name?: string;
  private storageRef: Storage | null;

  constructor(
    storage: Storage,
    readonly shape: readonly number[],
  ) {
    this.storageRef = storage;
    this.size = shape.reduce((a, b) => a * b, 1);
    if (this.size !== storage.size) {
      throw new EngineError(
        'tensor',
        `shape ${fmtShape(shape)} needs ${this.size} elements, storage has ${storage.size}`,
      );
    }
    trackInScope(this);
  }

  get storage(): Storage {
    if (!this.storageRef)
      throw new EngineError('tensor', `tensor #${this.id} ${fmtShape(this.shape)} was disposed`);
    return this.storageRef;
  }
  get handle(): unknown {
    return this.storage.handle;
  }
  get backend(): Backend {
    return this.storage.backend;
  }
  get dtype(): DType {
    return this.storage.dtype;
  }
  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this.storageRef === null;
  }

  /** A new tensor object over the same storage, in another shape with the same number of elements. */
  view(shape: readonly number[]): Tensor {
    const storage = this.storage;
    storage.refs++;
    return new Tensor(storage, shape);
  }

  dispose(): void {
    if (!this.storageRef) return;
    this.storageRef.release();
    this.storageRef = null;
  }

  /** Marks the tensor to outlive the current scope; returns it. */
  keep(): this {
    this.kept = true;
    return this;
  }

  /** A host copy of the values (Float32Array, Float64Array on js64, Int32Array for i32). */
  toArray(): Float32Array | Float64Array | Int32Array {
    const storage = this.storage;
    return this.backend.read(storage.handle, storage.dtype, this.size);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1)
      throw new EngineError('item', `tensor of shape ${fmtShape(this.shape)} has ${this.size} elements`);
    return this.toArray()[0];
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}, ${this.backend.name})`;
  }
}

/** A fresh tensor of zeros. */
export function emptyTensor(shape: readonly number[], dtype: DType, backend: Backend): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new EngineError('tensor', `invalid shape ${fmtShape(shape)}`);
  }
  return new Tensor(new Storage(backend, backend.alloc(dtype, size), dtype, size), shape);
}
