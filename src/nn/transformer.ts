// Transformer++ (the precision-law paper's model): RMSNorm, SwiGLU MLP, rotary embeddings, no biases, optional
// tied embeddings. Weights, linear-layer inputs and the KV cache are each fake-quantized at their own precision.
// Shapes: B batch, T time, C d_model, nh heads, hs head size, V vocabulary.
import type { FakeQuantSpec } from '../numerics/spec.ts';
import { onebitLayer } from '../onebit/linear.ts';
import type { Tensor } from '../tensor/index.ts';
import * as T from '../tensor/index.ts';
import type { ModelConfig } from './config.ts';
import { resolvePrecision } from './precision.ts';

export type Params = Map<string, Tensor>;

/** A OneBit layer's value vectors, stored next to its latent weight NAME.weight as NAME.g and NAME.h. */
export const valueVectorNames = (weightName: string) => {
  const base = weightName.replace(/\.weight$/, '');
  return { g: `${base}.g`, h: `${base}.h` };
};

/** Parameter names and shapes, in a fixed order (their safetensors keys). */
export function parameterShapes(c: ModelConfig): [string, number[]][] {
  const C = c.dModel;
  const shapes: [string, number[]][] = [['tok_emb.weight', [c.vocabSize, C]]];
  // A OneBit linear (rows, cols) has value vectors g (cols) and h (rows) beside its latent weight.
  const linear = (name: string, rows: number, cols: number): [string, number[]][] => {
    if (!c.onebit) return [[name, [rows, cols]]];
    const { g, h } = valueVectorNames(name);
    return [
      [name, [rows, cols]],
      [g, [cols]],
      [h, [rows]],
    ];
  };
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blocks.${l}.`;
    shapes.push(
      [`${p}attn_norm.weight`, [C]],
      ...linear(`${p}attn.wq.weight`, C, C),
      ...linear(`${p}attn.wk.weight`, C, C),
      ...linear(`${p}attn.wv.weight`, C, C),
      ...linear(`${p}attn.wo.weight`, C, C),
      [`${p}mlp_norm.weight`, [C]],
      ...linear(`${p}mlp.w_gate.weight`, c.dFf, C),
      ...linear(`${p}mlp.w_up.weight`, c.dFf, C),
      ...linear(`${p}mlp.w_down.weight`, C, c.dFf),
    );
  }
  shapes.push(['norm.weight', [C]]);
  if (!c.tiedEmbeddings) shapes.push(['lm_head.weight', [c.vocabSize, C]]);
  return shapes;
}

/** Fresh parameters: N(0, 0.02), residual output projections scaled by 1/sqrt(2 n_layers), norms and OneBit
 *  value vectors at 1 (as OneBit's BitLinear starts). */
export function initParams(c: ModelConfig, seed: number): Params {
  const params: Params = new Map();
  parameterShapes(c).forEach(([name, shape], i) => {
    let t: Tensor;
    if (name.endsWith('norm.weight') || isValueVector(name)) {
      t = T.ones(shape);
    } else {
      const std =
        name.endsWith('wo.weight') || name.endsWith('w_down.weight') ? 0.02 / Math.sqrt(2 * c.nLayers) : 0.02;
      t = T.tidy(() => T.affine(T.randn(shape, { seed: seed * 1_000_003 + i }), std));
    }
    t.name = name;
    params.set(name, T.requireGrad(t.keep()));
  });
  return params;
}

const maybeQuant = (x: Tensor, spec: FakeQuantSpec | null) => (spec ? T.fakeQuant(x, spec) : x);

export interface ForwardOptions {
  /** Apply dropout (training) — off for evaluation. */
  train: boolean;
  /** Sees the input of every linear layer (post-training quantization calibrates on these). */
  onLinearInput?: (weightName: string, input: Tensor) => void;
  /** Sees the residual stream after every block (OneBit's distillation compares these). */
  onBlockOutput?: (layer: number, x: Tensor) => void;
}

/** Names of the linear layers' weights: what weight precision and post-training quantization apply to. */
export const isLinearWeight = (name: string) => /^blocks\.\d+\.(attn|mlp)\.w\w*\.weight$/.test(name);
const isValueVector = (name: string) => /^blocks\.\d+\.(attn|mlp)\.w\w*\.[gh]$/.test(name);

/** Logits (B, T, V) for i32 tokens (B, T). */
export function forward(c: ModelConfig, params: Params, tokens: Tensor, options: ForwardOptions): Tensor {
  const p = resolvePrecision(c.precision);
  const [B, Tn] = tokens.shape;
  const nh = c.nHeads;
  const hs = c.dModel / nh;
  const get = (name: string) => params.get(name)!;
  const drop = (x: Tensor) => (options.train && c.dropout > 0 ? T.dropout(x, c.dropout) : x);
  // x (..., in) @ W(out, in)ᵀ with W at the weight precision; x is already at the activation precision.
  const linear = (x: Tensor, name: string) => {
    options.onLinearInput?.(name, x);
    if (c.onebit) {
      const { g, h } = valueVectorNames(name);
      return onebitLayer(x, get(name), get(g), get(h));
    }
    return T.matmul(x, maybeQuant(get(name), p.weights), { transB: true });
  };

  let x = T.embedding(get('tok_emb.weight'), tokens); // (B, T, C)
  for (let l = 0; l < c.nLayers; l++) {
    const w = (name: string) => get(`blocks.${l}.${name}`);
    const lin = (x: Tensor, name: string) => linear(x, `blocks.${l}.${name}`);
    const h = maybeQuant(T.rmsNorm(x, w('attn_norm.weight')), p.activations);
    const heads = (t: Tensor) => T.reshape(t, [B, Tn, nh, hs]);
    const q = T.rope(heads(lin(h, 'attn.wq.weight')), c.ropeBase);
    const k = maybeQuant(T.rope(heads(lin(h, 'attn.wk.weight')), c.ropeBase), p.kv);
    const v = maybeQuant(heads(lin(h, 'attn.wv.weight')), p.kv);
    const a = maybeQuant(T.reshape(T.attention(q, k, v, true), [B, Tn, c.dModel]), p.activations);
    x = T.add(x, drop(lin(a, 'attn.wo.weight')));

    const m = maybeQuant(T.rmsNorm(x, w('mlp_norm.weight')), p.activations);
    const gated = T.mul(T.silu(lin(m, 'mlp.w_gate.weight')), lin(m, 'mlp.w_up.weight'));
    x = T.add(x, drop(lin(maybeQuant(gated, p.activations), 'mlp.w_down.weight')));
    options.onBlockOutput?.(l, x);
  }
  const final = T.rmsNorm(x, get('norm.weight'));
  // Embeddings and the output head stay in full precision: N counts non-embedding parameters.
  const head = c.tiedEmbeddings ? get('tok_emb.weight') : get('lm_head.weight');
  return T.matmul(final, head, { transB: true });
}

/** Mean next-token cross-entropy (nats) of inputs -> targets, both i32 (B, T). */
export function lossOf(
  c: ModelConfig,
  params: Params,
  inputs: Tensor,
  targets: Tensor,
  options: ForwardOptions,
): Tensor {
  return T.crossEntropy(forward(c, params, inputs, options), targets);
}
