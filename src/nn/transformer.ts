// Transformer++ (the precision-law paper's model): RMSNorm, SwiGLU MLP, rotary embeddings, no biases, optional
// tied embeddings. Weights, linear-layer inputs and the KV cache are each fake-quantized at their own precision.
// Shapes: B batch, T time, C d_model, nh heads, hs head size, V vocabulary.
import type { FakeQuantSpec } from '../numerics/spec.ts';
import type { Tensor } from '../tensor/index.ts';
import * as T from '../tensor/index.ts';
import type { ModelConfig } from './config.ts';
import { resolvePrecision } from './precision.ts';

export type Params = Map<string, Tensor>;

/** Parameter names and shapes, in a fixed order (their safetensors keys). */
export function parameterShapes(c: ModelConfig): [string, number[]][] {
  const C = c.dModel;
  const shapes: [string, number[]][] = [['tok_emb.weight', [c.vocabSize, C]]];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blocks.${l}.`;
    shapes.push(
      [`${p}attn_norm.weight`, [C]],
      [`${p}attn.wq.weight`, [C, C]],
      [`${p}attn.wk.weight`, [C, C]],
      [`${p}attn.wv.weight`, [C, C]],
      [`${p}attn.wo.weight`, [C, C]],
      [`${p}mlp_norm.weight`, [C]],
      [`${p}mlp.w_gate.weight`, [c.dFf, C]],
      [`${p}mlp.w_up.weight`, [c.dFf, C]],
      [`${p}mlp.w_down.weight`, [C, c.dFf]],
    );
  }
  shapes.push(['norm.weight', [C]]);
  if (!c.tiedEmbeddings) shapes.push(['lm_head.weight', [c.vocabSize, C]]);
  return shapes;
}

/** Fresh parameters: N(0, 0.02), residual output projections scaled by 1/sqrt(2 n_layers), norms at 1. */
export function initParams(c: ModelConfig, seed: number): Params {
  const params: Params = new Map();
  parameterShapes(c).forEach(([name, shape], i) => {
    let t: Tensor;
    if (name.endsWith('norm.weight')) {
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
  /** Replaces the input of a linear layer (activation quantization after training), after onLinearInput. */
  linearInput?: (weightName: string, input: Tensor) => Tensor;
  /** Half-precision compute, emulated: activations (and, through the casts' gradients, their gradients) are
   *  rounded to this storage type at every layer boundary. Absent: fp32. */
  compute?: 'bf16' | 'f16';
}

/** Names of the linear layers' weights: what weight precision and post-training quantization apply to. */
export const isLinearWeight = (name: string) => /^blocks\.\d+\.(attn|mlp)\.w/.test(name);

/** Logits (B, T, V) for i32 tokens (B, T). */
export function forward(c: ModelConfig, params: Params, tokens: Tensor, options: ForwardOptions): Tensor {
  const p = resolvePrecision(c.precision);
  const [B, Tn] = tokens.shape;
  const nh = c.nHeads;
  const hs = c.dModel / nh;
  const get = (name: string) => params.get(name)!;
  const drop = (x: Tensor) => (options.train && c.dropout > 0 ? T.dropout(x, c.dropout) : x);
  const compute = options.compute;
  const half = (x: Tensor) => (compute ? T.cast(T.cast(x, compute), 'f32') : x);
  // x (..., in) @ W(out, in)ᵀ with W at the weight precision; x is already at the activation precision.
  const linear = (x: Tensor, name: string) => {
    options.onLinearInput?.(name, x);
    const input = options.linearInput ? options.linearInput(name, x) : x;
    return half(T.matmul(input, maybeQuant(get(name), p.weights), { transB: true }));
  };

  let x = half(T.embedding(get('tok_emb.weight'), tokens)); // (B, T, C)
  for (let l = 0; l < c.nLayers; l++) {
    const w = (name: string) => get(`blocks.${l}.${name}`);
    const lin = (x: Tensor, name: string) => linear(x, `blocks.${l}.${name}`);
    const h = half(maybeQuant(T.rmsNorm(x, w('attn_norm.weight')), p.activations));
    const heads = (t: Tensor) => T.reshape(t, [B, Tn, nh, hs]);
    const q = T.rope(heads(lin(h, 'attn.wq.weight')), c.ropeBase);
    const k = maybeQuant(T.rope(heads(lin(h, 'attn.wk.weight')), c.ropeBase), p.kv);
    const v = maybeQuant(heads(lin(h, 'attn.wv.weight')), p.kv);
    const a = half(maybeQuant(T.reshape(T.attention(q, k, v, true), [B, Tn, c.dModel]), p.activations));
    x = T.add(x, drop(lin(a, 'attn.wo.weight')));

    const m = half(maybeQuant(T.rmsNorm(x, w('mlp_norm.weight')), p.activations));
    const gated = half(T.mul(T.silu(lin(m, 'mlp.w_gate.weight')), lin(m, 'mlp.w_up.weight')));
    x = T.add(x, drop(lin(maybeQuant(gated, p.activations), 'mlp.w_down.weight')));
  }
  const final = half(T.rmsNorm(x, get('norm.weight')));
  // Embeddings and the output head stay in full precision: N counts non-embedding parameters.
  const head = c.tiedEmbeddings ? get('tok_emb.weight') : get('lm_head.weight');
  // Under half compute the logits are half too (their gradient is where fp16 overflows first).
  return half(T.matmul(final, head, { transB: true }));
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
