// Decoding with the whole step on one backend: decode.ts's Transformer++ (the same math, the same weights) as
// tensor-engine ops, so on the cuda backend activations, the KV cache, norms, rotary embeddings, attention over
// the cache, SwiGLU, OneBit's output LayerNorm and the head all stay on the GPU; per step the token ids go in
// and the logits row (sampling) or only the chosen id (greedy, argmax on the device) comes back. On js / cpu
// the same code runs on the CPU, which is how it is tested against decode.ts.
// Packed layers run Backend.packedGemm (T.packedMatmul: native/cuda/onebit.cu on cuda, the exact fp32 kernel
// on cpu), dense ones T.matmul (on cuda in the backend's matmul mode, bf16 by default), so a packed model and
// its full-precision teacher differ only in their linears.
// The KV cache is preallocated per layer as (nh, context, hs): head-major, so each head's keys are one dense
// (context, hs) matrix. New keys and values are written into it in place (Backend.strided), and attention reads
// its first L positions by batched products with the head's stride (Backend.matmul); no copy of the cache.
// Those two products run in fp32 whatever the cuda backend's matmul mode: they are tiny, and in bf16 mode the
// cache, written at every step, would be recast to 16 bits for each of them.
// Shapes: T new tokens, C d_model, nh heads, hs head size, V vocabulary, L0 cached positions, L = L0 + T.
import { type Backend, matmulArgs } from '../backends/backend.ts';
import type { MatmulMode } from '../backends/cuda/cuda-backend.ts';
import type { ModelConfig } from '../nn/config.ts';
import * as T from '../tensor/index.ts';
import {
  type DecoderWeights,
  denseDecoderWeights,
  type Linears,
  packedDecoderWeights,
  type Shaped,
} from './decode.ts';
import { OneBitError } from './errors.ts';
import { ONEBIT_NORM_EPS } from './linear.ts';
import { rowBytes } from './packed.ts';
import type { PackedModel } from './packed-file.ts';

/** A linear layer on a backend: x (T, cols) -> x Wᵀ (T, rows). */
export interface DeviceLinear extends Shaped {
  apply(x: T.Tensor): T.Tensor;
}

/** decode.ts's Linears on one backend, and the uploads they made (freed together by dispose). */
export interface DeviceLinears extends Linears<DeviceLinear> {
  readonly backend: Backend;
  /** The array on the backend, uploaded once per array unless `shared` is false (then a copy of its own). */
  upload(data: Float32Array, shape: number[], shared?: boolean): T.Tensor;
  dispose(): void;
}

export function deviceLinears(backend: Backend): DeviceLinears {
  const uploads = new Map<Float32Array, T.Tensor>();
  const owned: T.Tensor[] = [];
  const make = (data: ArrayLike<number>, shape: number[], dtype: 'f32' | 'i32' = 'f32') => {
    const t = T.tensor(data, shape, { dtype, backend }).keep();
    owned.push(t);
    return t;
  };
  const upload = (data: Float32Array, shape: number[], shared = true) => {
    if (!shared) return make(data, shape);
    let t = uploads.get(data);
    if (!t) {
      t = make(data, shape);
      uploads.set(data, t);
    }
    return t;
  };
  return {
    backend,
    upload,
    packed(layer) {
      const { rows, cols, codes, format } = layer.weight;
      const ternary = format === 'ternary2';
      if (codes.length !== rows * rowBytes(cols, format))
        throw new OneBitError(
          'weight.codes.length',
          codes.length,
          `rows * rowBytes = ${rows * rowBytes(cols, format)}`,
        );
      const words = new Int32Array(T.packedCodesSize(rows, cols, ternary));
      new Uint8Array(words.buffer).set(codes);
      const w: T.PackedWeight = {
        codes: make(words, [words.length], 'i32'),
        g: make(layer.g, [cols]),
        h: make(layer.h, [rows]),
        rows,
        cols,
        ternary,
      };
      return { rows, cols, apply: (x) => T.packedMatmul(x, w) };
    },
    dense(data, rows, cols) {
      if (data.length !== rows * cols)
        throw new OneBitError('w.length', data.length, `rows * cols = ${rows * cols}`);
      const w = upload(data, [rows, cols]);
      return { rows, cols, apply: (x) => T.matmul(x, w, { transB: true }) };
    },
    outputNorm: (linear) => ({
      ...linear,
      apply: (x) => T.layerNorm(linear.apply(x), null, null, ONEBIT_NORM_EPS),
    }),
    dispose() {
      for (const t of owned) t.dispose();
      owned.length = 0;
      uploads.clear();
    },
  };
}

/** A packed model's decoder on `backend`: packed linears stay packed there. */
export function packedDeviceDecoder(
  config: ModelConfig,
  model: PackedModel,
  backend: Backend,
): DeviceDecoder {
  const linears = deviceLinears(backend);
  return new DeviceDecoder(packedDecoderWeights(config, model, linears), linears);
}

/** A dense model's decoder on `backend` (parameter name -> fp32 data), e.g. the full-precision teacher. */
export function denseDeviceDecoder(
  config: ModelConfig,
  weights: Map<string, Float32Array>,
  backend: Backend,
): DeviceDecoder {
  const linears = deviceLinears(backend);
  return new DeviceDecoder(denseDecoderWeights(config, weights, linears), linears);
}

const MASKED = -1e30; // a score no position can reach: exp(MASKED - max) is 0

/**
 * One sequence's decoder state on a backend, as decode.ts's Decoder: `forward` appends tokens and returns the
 * logits of the last, `forwardArgmax` only its most likely id (the first of equals, as the greedy sampler
 * picks). When the cache is full the oldest half is dropped and the kept tokens are re-encoded from position 0.
 */
export class DeviceDecoder {
  readonly config: ModelConfig;
  readonly backend: Backend;
  private readonly w: DecoderWeights<DeviceLinear>;
  private readonly linears: DeviceLinears;
  private readonly embedding: T.Tensor;
  private readonly norms = new Map<string, T.Tensor>();
  /** Per layer (nh, context, hs), written in place. */
  private readonly keys: T.Tensor[];
  private readonly values: T.Tensor[];
  /** -v at index v (V): argmax's tie-break, the smallest index among the maxima. */
  private readonly negIndex: T.Tensor;
  private tokens: number[] = [];

  constructor(weights: DecoderWeights<DeviceLinear>, linears: DeviceLinears) {
    this.w = weights;
    this.linears = linears;
    this.config = weights.config;
    this.backend = linears.backend;
    const { nLayers, context, dModel: C, vocabSize: V } = this.config;
    // Its own copy even when the head is tied to it: on cuda a gather drops the bf16 copy that the head's
    // products keep on their operand (native/cuda/matmul.cu), which would then be recast at every token.
    this.embedding = linears.upload(weights.embedding, [V, C], false);
    for (const [name, w] of weights.norms) this.norms.set(name, linears.upload(w, [C]));
    const cache = () => T.zeros([context * C], { backend: this.backend }).keep();
    this.keys = Array.from({ length: nLayers }, cache);
    this.values = Array.from({ length: nLayers }, cache);
    this.negIndex = T.tensor(
      Float32Array.from({ length: V }, (_, v) => -v),
      [V],
      { backend: this.backend },
    ).keep();
  }

  /** Positions held in the cache. */
  get length(): number {
    return this.tokens.length;
  }

  reset(): void {
    this.tokens = [];
  }

  /** Appends tokens (one batch through every layer); the logits (V) of the last, read back to the host. */
  forward(tokens: number[]): Float32Array {
    const logits = this.append(tokens, (l) => l.toArray());
    return logits instanceof Float32Array ? logits : Float32Array.from(logits);
  }

  /** Appends tokens; the id of the last one's largest logit, found on the device (one number comes back). */
  forwardArgmax(tokens: number[]): number {
    const V = this.config.vocabSize;
    const id = this.append(tokens, (logits) => {
      const best = T.max(logits, -1, true);
      return -T.max(T.where(T.eq(logits, best), this.negIndex, -V), -1).item();
    });
    if (!(id >= 0 && id < V)) throw new OneBitError('logits', 'not finite', `finite logits (argmax ${id})`);
    return id;
  }

  /** Frees the cache and every weight this decoder uploaded. */
  dispose(): void {
    for (const t of [...this.keys, ...this.values, this.negIndex]) t.dispose();
    this.linears.dispose();
  }

  private append<R>(tokens: number[], read: (logits: T.Tensor) => R): R {
    if (tokens.length === 0) throw new OneBitError('tokens.length', 0, 'at least one token');
    const { context, vocabSize: V } = this.config;
    if (this.tokens.length + tokens.length > context) {
      const all = [...this.tokens, ...tokens];
      const keep = all.slice(-Math.max(1, Math.min(context, Math.floor(context / 2) + tokens.length)));
      this.reset();
      return this.append(keep, read);
    }
    for (const [t, id] of tokens.entries())
      if (!Number.isInteger(id) || id < 0 || id >= V)
        throw new OneBitError(`tokens[${t}]`, id, `0 ≤ id < ${V}`);
    const out = T.tidy(() => T.noGrad(() => read(this.step(tokens))));
    this.tokens.push(...tokens);
    return out;
  }

  /** The logits (1, V) of the last of `tokens`, their keys and values written to the cache. */
  private step(tokens: number[]): T.Tensor {
    const { dModel: C, nHeads: nh, nLayers, ropeBase } = this.config;
    const n = tokens.length;
    const L0 = this.tokens.length;
    const hs = C / nh;
    const lin = (l: number, name: string) => this.w.linears.get(`blocks.${l}.${name}.weight`)!;
    const norm = (name: string) => this.norms.get(name)!;
    const mask = n > 1 ? this.causalMask(n, L0) : null;
    let x = T.embedding(this.embedding, T.tensor(tokens, [n], { dtype: 'i32', backend: this.backend }));
    for (let l = 0; l < nLayers; l++) {
      const h = T.rmsNorm(x, norm(`blocks.${l}.attn_norm.weight`));
      const heads = (t: T.Tensor) => T.reshape(t, [1, n, nh, hs]);
      const q = T.rope(heads(lin(l, 'attn.wq').apply(h)), ropeBase, L0);
      this.store(this.keys[l], T.rope(heads(lin(l, 'attn.wk').apply(h)), ropeBase, L0), L0, n);
      this.store(this.values[l], lin(l, 'attn.wv').apply(h), L0, n);
      x = T.add(x, lin(l, 'attn.wo').apply(this.attend(q, l, L0 + n, mask)));

      const m = T.rmsNorm(x, norm(`blocks.${l}.mlp_norm.weight`));
      const gated = T.mul(T.silu(lin(l, 'mlp.w_gate').apply(m)), lin(l, 'mlp.w_up').apply(m));
      x = T.add(x, lin(l, 'mlp.w_down').apply(gated));
    }
    const last = n === 1 ? x : T.slice(x, 0, n - 1, n);
    return this.w.head.apply(T.rmsNorm(last, norm('norm.weight')));
  }

  /** Rows (n, nh, hs) of src into the cache (nh, context, hs) at positions L0 .. L0 + n - 1, in place. */
  private store(cache: T.Tensor, src: T.Tensor, L0: number, n: number): void {
    const { dModel: C, nHeads: nh, context } = this.config;
    const hs = C / nh;
    this.backend.strided(
      src.handle,
      0,
      [C, hs, 1],
      cache.handle,
      L0 * hs,
      [hs, context * hs, 1],
      [n, nh, hs],
    );
  }

  /** Softmax attention of q (1, n, nh, hs) over the layer's first L cached positions: (n, C). */
  private attend(q: T.Tensor, layer: number, L: number, mask: T.Tensor | null): T.Tensor {
    const { dModel: C, nHeads: nh, context } = this.config;
    const hs = C / nh;
    const n = q.shape[1];
    const backend = this.backend;
    const byHead = n === 1 ? T.reshape(q, [nh, 1, hs]) : T.permute(T.reshape(q, [n, nh, hs]), [1, 0, 2]);
    // Per head: the cache's first L positions of (context, hs), read with the head's stride (no copy).
    const head = { batch: nh, bBatchStride: context * hs };
    const out = this.inFp32(() => {
      const scores = T.zeros([nh, n, L], { backend });
      backend.matmul(
        byHead.handle,
        this.keys[layer].handle,
        scores.handle,
        matmulArgs(n, L, hs, { ...head, transB: true, aBatchStride: n * hs, alpha: 1 / Math.sqrt(hs) }),
      );
      const p = T.softmax(mask ? T.add(scores, mask) : scores);
      const o = T.zeros([nh, n, hs], { backend });
      backend.matmul(
        p.handle,
        this.values[layer].handle,
        o.handle,
        matmulArgs(n, hs, L, { ...head, aBatchStride: n * L }),
      );
      return o;
    });
    return n === 1 ? T.reshape(out, [1, C]) : T.reshape(T.permute(out, [1, 0, 2]), [n, C]);
  }

  /** fn with a backend that has matmul modes (cuda) set to fp32, the mode restored after. */
  private inFp32<R>(fn: () => R): R {
    const modal = this.backend as Backend & { setMatmulMode?(mode: MatmulMode): MatmulMode };
    if (!modal.setMatmulMode) return fn();
    const previous = modal.setMatmulMode('fp32');
    try {
      return fn();
    } finally {
      modal.setMatmulMode(previous);
    }
  }

  /** (n, L0 + n): 0 where new token t may see position s (s ≤ L0 + t), MASKED where not. */
  private causalMask(n: number, L0: number): T.Tensor {
    const L = L0 + n;
    const m = new Float32Array(n * L);
    for (let t = 0; t < n; t++) for (let s = L0 + t + 1; s < L; s++) m[t * L + s] = MASKED;
    return T.tensor(m, [n, L], { backend: this.backend });
  }
}
