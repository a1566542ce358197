// Decoding with a KV cache, on plain Float32Arrays: the Transformer++ of src/nn/transformer.ts (RMSNorm,
// rotary embeddings, causal attention, SwiGLU) for inference only. Every linear layer is a `Linear`: a packed
// OneBit layer runs a packed kernel on its bits (gemv.ts, never unpacked: 'lut', the fast int8 table lookup,
// by default; 'exact' sums in fp32, equal to the unpacked fp32 model), a dense one the fp32 product,
// so a packed model and its full-precision peer decode through the same code (bench/onebit-decode.ts).
// Activations are fp32; a model config's fake-quant precision does not apply here.
// Shapes: T new tokens, C d_model, nh heads, hs head size, V vocabulary, L0 the positions already cached.
import { loadCpuAddon } from '../backends/cpu/load-addon.ts';
import type { ModelConfig } from '../nn/config.ts';
import { OneBitError } from './errors.ts';
import { packedGemm, packedGemvLut } from './gemv.ts';
import { ONEBIT_NORM_EPS } from './linear.ts';
import type { PackedLinear, PackedModel } from './packed-file.ts';
import { toF32 } from './packed-file.ts';

/** A linear layer's shape: W is (rows, cols). */
export interface Shaped {
  rows: number;
  cols: number;
}

/** y (batch, rows) = x (batch, cols) Wᵀ for some W (rows, cols), on host arrays. */
export interface Linear extends Shaped {
  apply(x: Float32Array, batch: number, y: Float32Array): void;
}

export type PackedKernel = 'lut' | 'exact';

export function packedLinear(layer: PackedLinear, kernel: PackedKernel = 'lut'): Linear {
  const { rows, cols } = layer.weight;
  const product = kernel === 'lut' ? packedGemvLut : packedGemm;
  return { rows, cols, apply: (x, batch, y) => void product(layer, x, batch, y) };
}

/** A dense fp32 W (rows, cols): OpenBLAS sgemm through the native addon when built, else a loop. */
export function denseLinear(w: Float32Array, rows: number, cols: number): Linear {
  if (w.length !== rows * cols) throw new OneBitError('w.length', w.length, `rows * cols = ${rows * cols}`);
  const loaded = loadCpuAddon();
  const addon = 'error' in loaded ? null : loaded.addon;
  return {
    rows,
    cols,
    apply(x, batch, y) {
      if (addon) return addon.matmul(x, w, y, 1, batch, rows, cols, false, true, 0, 0, 1, false);
      for (let b = 0; b < batch; b++)
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let c = 0; c < cols; c++) s += x[b * cols + c] * w[r * cols + c];
          y[b * rows + r] = s;
        }
    },
  };
}

/** The layer followed by OneBit's LayerNorm without affine parameters over each output row (linear.ts). */
export function withOutputNorm(linear: Linear, eps = ONEBIT_NORM_EPS): Linear {
  const { rows } = linear;
  return {
    ...linear,
    apply(x, batch, y) {
      linear.apply(x, batch, y);
      for (let b = 0; b < batch; b++) {
        const row = y.subarray(b * rows, (b + 1) * rows);
        let mean = 0;
        for (let i = 0; i < rows; i++) mean += row[i];
        mean /= rows;
        let variance = 0;
        for (let i = 0; i < rows; i++) variance += (row[i] - mean) ** 2;
        const rstd = 1 / Math.sqrt(variance / rows + eps);
        for (let i = 0; i < rows; i++) row[i] = (row[i] - mean) * rstd;
      }
    },
  };
}

/** Where a decoder's linear layers run: how to make one from a packed layer and from a dense matrix, and how
 *  to follow one by OneBit's output LayerNorm. L: this decoder's kind of layer (host Linear, or a device one). */
export interface Linears<L extends Shaped = Linear> {
  packed(layer: PackedLinear): L;
  dense(w: Float32Array, rows: number, cols: number): L;
  outputNorm(linear: L): L;
}

/** On the CPU: packed layers by the given kernel, dense ones by OpenBLAS. */
export function cpuLinears(kernel: PackedKernel = 'lut'): Linears {
  return { packed: (layer) => packedLinear(layer, kernel), dense: denseLinear, outputNorm: withOutputNorm };
}

/** What a decoder needs: the shape, dense embeddings and norms, and every block's seven linear layers. */
export interface DecoderWeights<L extends Shaped = Linear> {
  config: ModelConfig;
  /** tok_emb.weight (V, C), fp32. */
  embedding: Float32Array;
  /** The output head (V, C): lm_head, or the embedding when tied. */
  head: L;
  /** Norm weights by name (blocks.l.attn_norm.weight, ..., norm.weight), fp32. */
  norms: Map<string, Float32Array>;
  /** Linear layers by weight name (blocks.l.attn.wq.weight, ...). */
  linears: Map<string, L>;
}

const linearNames = ['attn.wq', 'attn.wk', 'attn.wv', 'attn.wo', 'mlp.w_gate', 'mlp.w_up', 'mlp.w_down'];

function requireTensor<V>(map: Map<string, V>, name: string, what: string): V {
  const v = map.get(name);
  if (v === undefined) throw new OneBitError(name, 'missing', what);
  return v;
}

/** Decoder weights from a packed model: packed linears stay packed; embeddings and norms become fp32. */
export function packedDecoderWeights(
  config: ModelConfig,
  model: PackedModel,
  linears?: PackedKernel,
): DecoderWeights;
export function packedDecoderWeights<L extends Shaped>(
  config: ModelConfig,
  model: PackedModel,
  linears: Linears<L>,
): DecoderWeights<L>;
export function packedDecoderWeights<L extends Shaped>(
  config: ModelConfig,
  model: PackedModel,
  linears: Linears<L> | PackedKernel = 'lut',
): DecoderWeights<L> {
  const make = (typeof linears === 'string' ? cpuLinears(linears) : linears) as Linears<L>;
  const dense = (name: string) =>
    toF32(requireTensor(model.dense, name, 'a dense tensor of the packed model'));
  const layers = new Map<string, L>();
  // A trained OneBit model (onebit: true) normalizes every layer's output, as it was trained (linear.ts).
  for (const [name, layer] of model.linears)
    if (name !== 'lm_head.weight')
      layers.set(name, config.onebit ? make.outputNorm(make.packed(layer)) : make.packed(layer));
  const embedding = dense('tok_emb.weight');
  const head = config.tiedEmbeddings
    ? make.dense(embedding, config.vocabSize, config.dModel)
    : model.linears.has('lm_head.weight')
      ? make.packed(model.linears.get('lm_head.weight')!)
      : make.dense(dense('lm_head.weight'), config.vocabSize, config.dModel);
  const norms = new Map<string, Float32Array>();
  for (let l = 0; l < config.nLayers; l++)
    for (const n of ['attn_norm', 'mlp_norm'])
      norms.set(`blocks.${l}.${n}.weight`, dense(`blocks.${l}.${n}.weight`));
  norms.set('norm.weight', dense('norm.weight'));
  return checkWeights({ config, embedding, head, norms, linears: layers });
}

/** Decoder weights from dense fp32 tensors (parameter name -> data), e.g. the full-precision teacher. */
export function denseDecoderWeights(config: ModelConfig, weights: Map<string, Float32Array>): DecoderWeights;
export function denseDecoderWeights<L extends Shaped>(
  config: ModelConfig,
  weights: Map<string, Float32Array>,
  linears: Linears<L>,
): DecoderWeights<L>;
export function denseDecoderWeights<L extends Shaped>(
  config: ModelConfig,
  weights: Map<string, Float32Array>,
  linears: Linears<L> = cpuLinears() as unknown as Linears<L>,
): DecoderWeights<L> {
  const get = (name: string) => requireTensor(weights, name, 'a parameter of the model');
  const C = config.dModel;
  const layers = new Map<string, L>();
  for (let l = 0; l < config.nLayers; l++)
    for (const n of linearNames) {
      const name = `blocks.${l}.${n}.weight`;
      const [rows, cols] =
        n === 'mlp.w_gate' || n === 'mlp.w_up'
          ? [config.dFf, C]
          : n === 'mlp.w_down'
            ? [C, config.dFf]
            : [C, C];
      layers.set(name, linears.dense(get(name), rows, cols));
    }
  const embedding = get('tok_emb.weight');
  const head = linears.dense(config.tiedEmbeddings ? embedding : get('lm_head.weight'), config.vocabSize, C);
  const norms = new Map<string, Float32Array>();
  for (let l = 0; l < config.nLayers; l++)
    for (const n of ['attn_norm', 'mlp_norm'])
      norms.set(`blocks.${l}.${n}.weight`, get(`blocks.${l}.${n}.weight`));
  norms.set('norm.weight', get('norm.weight'));
  return checkWeights({ config, embedding, head, norms, linears: layers });
}

function checkWeights<L extends Shaped>(w: DecoderWeights<L>): DecoderWeights<L> {
  const { vocabSize: V, dModel: C, dFf: F } = w.config;
  if (w.embedding.length !== V * C)
    throw new OneBitError('tok_emb.weight', `${w.embedding.length} values`, `vocabSize * dModel = ${V * C}`);
  for (const [name, n] of w.norms)
    if (n.length !== C) throw new OneBitError(name, `${n.length} values`, `dModel = ${C}`);
  const expect = (name: string, l: Shaped | undefined, rows: number, cols: number) => {
    if (!l) throw new OneBitError(name, 'missing', 'a linear layer of the model');
    if (l.rows !== rows || l.cols !== cols)
      throw new OneBitError(name, `[${l.rows}, ${l.cols}]`, `[${rows}, ${cols}] for the model config`);
  };
  for (let l = 0; l < w.config.nLayers; l++)
    for (const n of linearNames) {
      const name = `blocks.${l}.${n}.weight`;
      const shape = n === 'mlp.w_gate' || n === 'mlp.w_up' ? [F, C] : n === 'mlp.w_down' ? [C, F] : [C, C];
      expect(name, w.linears.get(name), shape[0], shape[1]);
    }
  expect('lm_head.weight', w.head, V, C);
  return w;
}

const EPS = 1e-6; // T.rmsNorm's default

function rmsNorm(x: Float32Array, w: Float32Array, out: Float32Array, T: number, C: number): void {
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
    const s = 1 / Math.sqrt(ss / C + EPS);
    for (let c = 0; c < C; c++) out[o + c] = x[o + c] * s * w[c];
  }
}

/**
 * One sequence's decoder state: the KV cache of every layer, up to `context` positions. `forward` appends
 * tokens and returns the logits of the last; when the cache is full the oldest half is dropped and the kept
 * tokens are re-encoded from position 0 (rotary positions are baked into cached keys).
 */
export class Decoder {
  readonly config: ModelConfig;
  private readonly w: DecoderWeights;
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];
  private readonly invFreq: Float64Array;
  private tokens: number[] = [];

  constructor(weights: DecoderWeights) {
    this.w = weights;
    this.config = weights.config;
    const { nLayers, context, dModel, nHeads } = this.config;
    this.keys = Array.from({ length: nLayers }, () => new Float32Array(context * dModel));
    this.values = Array.from({ length: nLayers }, () => new Float32Array(context * dModel));
    const hs = dModel / nHeads;
    this.invFreq = Float64Array.from({ length: hs / 2 }, (_, j) => this.config.ropeBase ** ((-2 * j) / hs));
  }

  /** Positions held in the cache. */
  get length(): number {
    return this.tokens.length;
  }

  reset(): void {
    this.tokens = [];
  }

  /** Appends tokens (all at once, as one batch through every linear layer); logits (V) of the last one. */
  forward(tokens: number[]): Float32Array {
    if (tokens.length === 0) throw new OneBitError('tokens.length', 0, 'at least one token');
    const { context } = this.config;
    if (this.tokens.length + tokens.length > context) {
      const all = [...this.tokens, ...tokens];
      const keep = all.slice(-Math.max(1, Math.min(context, Math.floor(context / 2) + tokens.length)));
      this.reset();
      return this.forward(keep);
    }
    const logits = this.run(tokens);
    this.tokens.push(...tokens);
    return logits;
  }

  private run(tokens: number[]): Float32Array {
    const { dModel: C, nHeads: nh, dFf: F, vocabSize: V, nLayers } = this.config;
    const T = tokens.length;
    const L0 = this.tokens.length;
    const hs = C / nh;
    const x = new Float32Array(T * C);
    for (const [t, id] of tokens.entries()) {
      if (!Number.isInteger(id) || id < 0 || id >= V)
        throw new OneBitError(`tokens[${t}]`, id, `0 ≤ id < ${V}`);
      x.set(this.w.embedding.subarray(id * C, (id + 1) * C), t * C);
    }
    const h = new Float32Array(T * C);
    const q = new Float32Array(T * C);
    const a = new Float32Array(T * C);
    const o = new Float32Array(T * C);
    const gate = new Float32Array(T * F);
    const up = new Float32Array(T * F);
    const scores = new Float64Array(L0 + T);
    const scale = 1 / Math.sqrt(hs);
    const lin = (l: number, name: string) => this.w.linears.get(`blocks.${l}.${name}.weight`)!;
    const norm = (name: string) => this.w.norms.get(name)!;
    for (let l = 0; l < nLayers; l++) {
      rmsNorm(x, norm(`blocks.${l}.attn_norm.weight`), h, T, C);
      const K = this.keys[l];
      const Vc = this.values[l];
      lin(l, 'attn.wq').apply(h, T, q);
      // New keys and values go straight into the cache, after the L0 cached positions.
      lin(l, 'attn.wk').apply(h, T, K.subarray(L0 * C, (L0 + T) * C));
      lin(l, 'attn.wv').apply(h, T, Vc.subarray(L0 * C, (L0 + T) * C));
      this.rope(q, T, L0);
      this.rope(K.subarray(L0 * C), T, L0);
      for (let t = 0; t < T; t++) {
        const last = L0 + t; // causal: position L0 + t sees 0..L0 + t
        for (let head = 0; head < nh; head++) {
          const qo = t * C + head * hs;
          let max = Number.NEGATIVE_INFINITY;
          for (let s = 0; s <= last; s++) {
            const ko = s * C + head * hs;
            let dot = 0;
            for (let i = 0; i < hs; i++) dot += q[qo + i] * K[ko + i];
            scores[s] = dot * scale;
            if (scores[s] > max) max = scores[s];
          }
          let sum = 0;
          for (let s = 0; s <= last; s++) {
            scores[s] = Math.exp(scores[s] - max);
            sum += scores[s];
          }
          for (let i = 0; i < hs; i++) {
            let acc = 0;
            for (let s = 0; s <= last; s++) acc += scores[s] * Vc[s * C + head * hs + i];
            a[qo + i] = acc / sum;
          }
        }
      }
      lin(l, 'attn.wo').apply(a, T, o);
      for (let i = 0; i < T * C; i++) x[i] += o[i];

      rmsNorm(x, norm(`blocks.${l}.mlp_norm.weight`), h, T, C);
      lin(l, 'mlp.w_gate').apply(h, T, gate);
      lin(l, 'mlp.w_up').apply(h, T, up);
      for (let i = 0; i < T * F; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i]; // silu(gate) ⊙ up
      lin(l, 'mlp.w_down').apply(gate, T, o);
      for (let i = 0; i < T * C; i++) x[i] += o[i];
    }
    const final = new Float32Array(C);
    rmsNorm(x.subarray((T - 1) * C), norm('norm.weight'), final, 1, C);
    const logits = new Float32Array(V);
    this.w.head.apply(final, 1, logits);
    return logits;
  }

  /** Rotary embedding in place for T rows of (nh, hs) at positions from pos0, as the js backend's rope. */
  private rope(x: Float32Array, T: number, pos0: number): void {
    const { dModel: C, nHeads: nh } = this.config;
    const hs = C / nh;
    const half = hs / 2;
    for (let t = 0; t < T; t++) {
      const pos = pos0 + t;
      for (let j = 0; j < half; j++) {
        const angle = pos * this.invFreq[j];
        const cos = Math.cos(angle);
        const sin = Math.sin(angle);
        for (let head = 0; head < nh; head++) {
          const o = t * C + head * hs;
          const x0 = x[o + j];
          const x1 = x[o + j + half];
          x[o + j] = x0 * cos - x1 * sin;
          x[o + j + half] = x0 * sin + x1 * cos;
        }
      }
    }
  }
}
