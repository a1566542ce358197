// Transformer++ (the precision-law paper's model): RMSNorm, SwiGLU MLP, rotary embeddings, no biases, optional
// tied embeddings. Weights, linear-layer inputs and the KV cache are each fake-quantized at their own precision.
// Shapes: B batch, T time, C d_model, nh heads, hs head size, V vocabulary.
import type { FakeQuantSpec } from '../numerics/spec.ts';
import { onebitLayer } from '../onebit/linear.ts';
import type { Tensor } from '../tensor/index.ts';
import * as T from '../tensor/index.ts';
import { type ArchOptions, ropeInvFreq } from './arch.ts';
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
  const a = c.arch;
  const q = a ? c.nHeads * a.headSize : C; // widths of the query and key/value projections
  const kv = a ? a.nKvHeads * a.headSize : C;
  const shapes: [string, number[]][] = [['tok_emb.weight', [c.vocabSize, C]]];
  if (a?.positions === 'learned') shapes.push(['pos_emb.weight', [c.context, C]]);
  const norm = (name: string) => {
    shapes.push([`${name}.weight`, [C]]);
    if (a?.norm === 'layer') shapes.push([`${name}.bias`, [C]]);
  };
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blocks.${l}.`;
    const linear = (name: string, rows: number, cols: number) => {
      shapes.push([`${p}${name}.weight`, [rows, cols]]);
      // A OneBit linear (rows, cols) has value vectors g (cols) and h (rows) beside its latent weight.
      if (c.onebit) shapes.push([`${p}${name}.g`, [cols]], [`${p}${name}.h`, [rows]]);
      if (a?.biases.includes(name)) shapes.push([`${p}${name}.bias`, [rows]]);
    };
    norm(`${p}attn_norm`);
    linear('attn.wq', q, C);
    linear('attn.wk', kv, C);
    linear('attn.wv', kv, C);
    linear('attn.wo', C, q);
    norm(`${p}mlp_norm`);
    if (a?.mlp !== 'gelu') linear('mlp.w_gate', c.dFf, C);
    linear('mlp.w_up', c.dFf, C);
    linear('mlp.w_down', C, c.dFf);
  }
  norm('norm');
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
    } else if (name.endsWith('.bias')) {
      t = T.zeros(shape);
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
  /** Half-precision compute, emulated: activations (and, through T.roundTo's gradient, their gradients) are
   *  rounded to this storage type at every layer boundary. Absent: fp32. */
  compute?: 'bf16' | 'f16';
  /** The backend's products round their operands and, in backward, their output gradients to `compute`, and its
   *  attention rounds its q, k and v operands to it (cuda with the matching matmul mode: src/train/compute-dtype.ts):
   *  a plain product's input value and its output's gradient are then not rounded again, and a product's output
   *  value is rounded by the kernel that reads it (rope, swiglu, the residual add; attention for v), which
   *  changes no number and saves a pass over each. Ignored while onLinearInput observes or linearInput replaces
   *  the inputs (they see the rounded values, as without it). */
  productsRound?: boolean;
  /** Linear layers as FP8 products (T.linearFp8: E4M3 weights and inputs, E5M2 output gradients) in place of
   *  fake quantization around matmuls: the same forward values (src/nn/low-precision.ts decides when). */
  fp8Linear?: boolean;
  /** Sees the residual stream after every block (OneBit's distillation compares these). */
  onBlockOutput?: (layer: number, x: Tensor) => void;
}

/** Names of the linear layers' weights: what weight precision and post-training quantization apply to. */
export const isLinearWeight = (name: string) => /^blocks\.\d+\.(attn|mlp)\.w\w*\.weight$/.test(name);
const isValueVector = (name: string) => /^blocks\.\d+\.(attn|mlp)\.w\w*\.[gh]$/.test(name);

/** Logits (B, T, V) for i32 tokens (B, T). */
export function forward(c: ModelConfig, params: Params, tokens: Tensor, options: ForwardOptions): Tensor {
  const final = hiddenState(c, params, tokens, options);
  // Under half compute the logits are half too (their gradient is where fp16 overflows first).
  return halfOf(options.compute)(T.matmul(final, headWeight(c, params), { transB: true }));
}

/** Rounds to the half compute type and keeps f32 (the emulation of half compute; one pass, and the gradient is
 *  rounded the same way); the identity without one. */
const halfOf = (compute: ForwardOptions['compute']) => (x: Tensor) => (compute ? T.roundTo(x, compute) : x);

/** The output head's weight (V, C): the embedding table when tied. Embeddings and the head stay in full
 *  precision: N counts non-embedding parameters. */
const headWeight = (c: ModelConfig, params: Params) =>
  params.get(c.tiedEmbeddings ? 'tok_emb.weight' : 'lm_head.weight')!;

/** The final normalized hidden state (B, T, C) for i32 tokens (B, T): what the output head reads. */
export function hiddenState(c: ModelConfig, params: Params, tokens: Tensor, options: ForwardOptions): Tensor {
  const p = resolvePrecision(c.precision);
  const [B, Tn] = tokens.shape;
  const a = c.arch;
  const nh = c.nHeads;
  const hs = a ? a.headSize : c.dModel / nh;
  const nkv = a ? a.nKvHeads : nh;
  const get = (name: string) => params.get(name)!;
  const drop = (x: Tensor) => (options.train && c.dropout > 0 ? T.dropout(x, c.dropout) : x);
  const half = halfOf(options.compute);
  const fp8 = options.fp8Linear === true && !c.onebit;
  // The type the products round their operands to themselves (see productsRound), where the model may leave the
  // rounding to them: then a product's input keeps its value. (An FP8 product quantizes its input rounded to it,
  // and its output's gradient too: T.linearFp8's roundInput and roundGradient.)
  const byProducts =
    options.productsRound && !options.onLinearInput && !options.linearInput ? options.compute : undefined;
  // The same for a plain product's output (a OneBit layer ends in its LayerNorm): its gradient is left to the
  // product's backward, and its value to the kernel that reads it, which rounds as it loads (`onLoad`; dropout
  // between a product and the residual add would round after it).
  const onLoad = c.onebit ? undefined : byProducts;
  const productInput = (x: Tensor) => (byProducts ? T.roundTo(x, byProducts, { value: false }) : half(x));
  const productOutput = (y: Tensor) => (onLoad ? T.roundTo(y, onLoad, { gradient: false }) : half(y));
  const dropping = options.train && c.dropout > 0;
  // Fake-quantized values that only products (and attention) read: rounded to their type as stored, and kept as
  // the 16-bit copies they read (HalfOnly).
  const quantized = (x: Tensor, spec: FakeQuantSpec | null, onlyProducts = true) =>
    spec && byProducts && onlyProducts
      ? T.fakeQuant(x, spec, 'clipped', { roundOutput: byProducts, halfOnly: true })
      : maybeQuant(x, spec);
  // Linear inputs at the activation precision; an FP8 product quantizes its own operands (act is the identity).
  const actIsIdentity = fp8 || !p.activations;
  const act = (x: Tensor) => (fp8 ? x : quantized(x, p.activations));
  // x (..., in) @ W(out, in)ᵀ with W at the weight precision; x is already at the activation precision. The
  // output's value rounded here, or (readerRounds, where it can) left to its reader: then `round` says to what.
  // `readsCopy`: that reader reads the product's 16-bit copy (the fused kernels, attention), so the product may
  // keep only that copy (HalfOnly); a reader that takes f32 values (a broadcast, a rope by tables) would have them
  // written from the copy, a pass more than the product writing f32.
  const product = (x: Tensor, name: string, readerRounds: boolean, readsCopy = readerRounds): Rounding => {
    // Observers see the input at the activation precision, as fake quantization hands it over.
    if (options.onLinearInput) options.onLinearInput(name, fp8 ? maybeQuant(x, p.activations) : x);
    const input = options.linearInput ? options.linearInput(name, x) : x;
    const { g, h } = valueVectorNames(name);
    const bias = a ? params.get(name.replace(/weight$/, 'bias')) : undefined;
    // An output only its reader reads, rounded on load: the product may round it itself, and keep only the 16-bit
    // copy that its reader then reads (HalfOnly).
    const toReader = readerRounds && readsCopy && !bias ? onLoad : undefined;
    const y = c.onebit
      ? onebitLayer(input, get(name), get(g), get(h))
      : fp8
        ? T.linearFp8(input, get(name), {
            roundInput: byProducts,
            roundGradient: byProducts,
            roundOutput: toReader,
            halfOnly: toReader !== undefined,
          })
        : T.matmul(input, quantized(get(name), p.weights), {
            transB: true,
            roundOutput: toReader,
            halfOnly: toReader !== undefined,
          });
    if (bias) return { y: half(T.add(y, bias)) };
    return readerRounds && onLoad ? { y, round: onLoad } : { y: productOutput(y) };
  };
  const linear = (x: Tensor, name: string) => product(x, name, false).y;
  const usesRmsNorm = a?.norm !== 'layer';
  // A block's RMSNorm output is only its products' input (through act) where the products round: the gradient
  // rounding productInput adds after act is then the norm's backward's, as it loads the gradient, where act's
  // gradient is the identity (no activation quantization, or one whose straight-through estimator cannot clip).
  const actPassesGradient = fp8 || !p.activations || !T.canClip(p.activations);
  const normRounds = byProducts && actPassesGradient && usesRmsNorm ? byProducts : undefined;
  // Where, besides, act is the identity, a block's norm output is only its products' input: the norm may round
  // it as it stores it, and keep only the 16-bit copy the products read (HalfOnly). The same holds for SwiGLU's
  // output, and for the gradients of products' outputs that SwiGLU and rope write (the products round them).
  const normOutput = normRounds && actIsIdentity ? normRounds : undefined;
  const halfOut = (to: 'bf16' | 'f16' | undefined) => ({ roundOutput: to, halfOnly: to !== undefined });
  const blockInput = (normed: Tensor) => (normRounds ? act(normed) : productInput(act(normed)));
  const norm = (x: Tensor, name: string, roundGradient?: 'bf16' | 'f16') =>
    a?.norm === 'layer'
      ? T.layerNorm(x, get(`${name}.weight`), get(`${name}.bias`), a.normEps)
      : T.rmsNorm(x, get(`${name}.weight`), a?.normEps, { roundGradient });
  // A residual add and the norm that follows it: the new stream and its norm (RMSNorm: one fused kernel, which
  // rounds the delta as it loads it).
  const addNorm = (
    x: Tensor,
    delta: Rounding,
    name: string,
    roundGradient?: 'bf16' | 'f16',
    roundOutput?: 'bf16' | 'f16',
  ) => {
    if (usesRmsNorm) {
      const { y, round } = delta;
      return T.addRmsNorm(x, y, get(`${name}.weight`), a?.normEps, {
        roundDelta: round,
        roundGradient,
        ...halfOut(roundOutput),
      });
    }
    const sum = T.add(x, rounded(delta));
    return { sum, out: norm(sum, name) };
  };
  // A residual delta: a product's output, with dropout between them in training.
  const residual = (x: Tensor, name: string) =>
    dropping || !usesRmsNorm ? { y: drop(linear(x, name)) } : product(x, name, true);
  const rope = ropeOf(c, a, Tn, tokens, onLoad);
  const fusedRope = a?.positions !== 'learned' && !a?.ropeScaling; // (the kernel, which reads 16-bit copies)

  let x = T.embedding(get('tok_emb.weight'), tokens); // (B, T, C)
  if (a?.positions === 'learned') {
    const positions = T.tensor(
      Int32Array.from({ length: Tn }, (_, i) => i),
      [Tn],
      { dtype: 'i32', backend: tokens.backend },
    );
    x = T.add(x, T.embedding(get('pos_emb.weight'), positions));
  }
  x = half(x);
  // The norm of x at the next block's input (each block's second residual add computes it).
  let normed = c.nLayers > 0 ? norm(x, 'blocks.0.attn_norm', normRounds) : norm(x, 'norm');
  for (let l = 0; l < c.nLayers; l++) {
    const lin = (x: Tensor, name: string) => linear(x, `blocks.${l}.${name}`);
    const h = blockInput(normed);
    const heads = (t: Tensor, n: number) => T.reshape(t, [B, Tn, n, hs]);
    const prod = (x: Tensor, name: string, readerRounds: boolean, readsCopy = readerRounds) =>
      product(x, `blocks.${l}.${name}`, readerRounds, readsCopy);
    const headsOf = (r: Rounding, n: number) => ({ ...r, y: heads(r.y, n) });
    const q = rope(headsOf(prod(h, 'attn.wq.weight', true, fusedRope), nh), true);
    // k is attention's own input unless the KV cache's quantization or the heads' repetition reads it first.
    const kToAttention = !p.kv && nkv === nh;
    const k = repeatKv(
      quantized(
        rope(headsOf(prod(h, 'attn.wk.weight', true, fusedRope), nkv), kToAttention),
        p.kv,
        nkv === nh,
      ),
      nh,
    );
    // Attention rounds v as it loads it: v needs no rounding of its own unless the KV cache's quantization reads it;
    // where that reads 16-bit copies (no STE mask), the product rounds v as it stores it and keeps the copy alone.
    const vRounded = !p.kv || (nkv === nh && !T.canClip(p.kv));
    const vOut = prod(h, 'attn.wv.weight', vRounded, vRounded && nkv === nh);
    const v = repeatKv(quantized(heads(vOut.y, nkv), p.kv, nkv === nh), nh);
    const att = productInput(act(T.reshape(T.attention(q, k, v, true), [B, Tn, nh * hs])));
    const attended = addNorm(
      x,
      residual(att, `blocks.${l}.attn.wo.weight`),
      `blocks.${l}.mlp_norm`,
      normRounds,
      normOutput,
    );
    x = attended.sum;

    const m = blockInput(attended.out);
    // Rounded before act: only a product's input when act is the identity. SwiGLU's kernels round it, value and
    // gradient, as they store the one and load the other: what half, or productInput, does after it.
    const hidden =
      a?.mlp === 'gelu'
        ? (actIsIdentity ? productInput : half)(T.gelu(lin(m, 'mlp.w_up.weight')))
        : swiglu(prod(m, 'mlp.w_gate.weight', true), prod(m, 'mlp.w_up.weight', true), {
            // (where the down projection rounds its input itself, rounding here as well changes nothing; its
            // reader, the product or an activation quantization without STE mask, reads the 16-bit copy)
            roundOutput: options.compute,
            halfOnly: byProducts !== undefined && actPassesGradient,
            roundGradient: options.compute,
            roundInputGradients: onLoad,
            halfOnlyGradients: onLoad !== undefined,
          });
    const next = l + 1 < c.nLayers ? `blocks.${l + 1}.attn_norm` : 'norm';
    const mixed = addNorm(
      x,
      residual(act(hidden), `blocks.${l}.mlp.w_down.weight`),
      next,
      l + 1 < c.nLayers ? normRounds : undefined,
      l + 1 < c.nLayers ? normOutput : undefined,
    );
    x = mixed.sum;
    normed = mixed.out;
    options.onBlockOutput?.(l, x);
  }
  return half(normed);
}

/** A product's output and, when its value is still to be rounded by the kernel that reads it, the type to. */
interface Rounding {
  y: Tensor;
  round?: 'bf16' | 'f16';
}

/** The value of r, rounded here where a reader that cannot round on load takes it. */
const rounded = ({ y, round }: Rounding) => (round ? T.roundTo(y, round, { gradient: false }) : y);

/** SwiGLU of two products' outputs, rounding them as it loads them where both still need it; `out`: the other
 *  options (roundings of the output, its gradient and the inputs' gradients; HalfOnly). */
function swiglu(gate: Rounding, up: Rounding, out: Omit<T.SwigluOptions, 'round'>): Tensor {
  if (gate.round && gate.round === up.round) return T.swiglu(gate.y, up.y, { round: gate.round, ...out });
  return T.swiglu(rounded(gate), rounded(up), out);
}

/** Grouped-query attention: each of the nkv key/value heads serves nh / nkv consecutive query heads. */
function repeatKv(x: Tensor, nh: number): Tensor {
  const [B, Tn, nkv, hs] = x.shape;
  if (nkv === nh) return x;
  const wide = T.broadcastTo(T.reshape(x, [B, Tn, nkv, 1, hs]), [B, Tn, nkv, nh / nkv, hs]);
  return T.reshape(wide, [B, Tn, nh, hs]);
}

/** The rotary embedding of (B, T, heads, hs) of a product's output: the fused kernel (which rounds its input as
 *  it loads it), or cos/sin tables for rescaled frequencies. `products` (ForwardOptions.productsRound's type,
 *  where the product rounds the gradient of its output itself): the kernel rounds x's gradient to it, and
 *  the output too where `toAttention` (attention rounds its operands to it), keeping 16-bit copies alone. */
function ropeOf(
  c: ModelConfig,
  a: ArchOptions | undefined,
  Tn: number,
  tokens: Tensor,
  products: 'bf16' | 'f16' | undefined,
): (x: Rounding, toAttention: boolean) => Tensor {
  if (a?.positions === 'learned') return rounded;
  if (!a?.ropeScaling)
    return ({ y, round }, toAttention) =>
      T.rope(y, c.ropeBase, 0, {
        roundInput: round,
        roundInputGradient: products,
        halfOnlyGradient: products !== undefined,
        roundOutput: toAttention ? products : undefined,
        halfOnly: toAttention && products !== undefined,
      });
  const hs = a.headSize;
  const half = hs / 2;
  const f = ropeInvFreq(c.ropeBase, hs, a.ropeScaling, Tn);
  const cos = new Float32Array(Tn * hs);
  const sin = new Float32Array(Tn * hs);
  for (let t = 0; t < Tn; t++) {
    for (let j = 0; j < hs; j++) {
      const angle = Math.fround(t * f[j % half]);
      cos[t * hs + j] = Math.cos(angle);
      sin[t * hs + j] = Math.sin(angle);
    }
  }
  const backend = tokens.backend;
  const cosT = T.tensor(cos, [Tn, 1, hs], { backend });
  const sinT = T.tensor(sin, [Tn, 1, hs], { backend });
  // x * cos + rotate_half(x) * sin, rotate_half(x) = (-x2, x1): transformers' convention (the kernel's too).
  return (r) => {
    const x = rounded(r);
    const rotated = T.concat([T.neg(T.slice(x, 3, half, hs)), T.slice(x, 3, 0, half)], 3);
    return T.add(T.mul(x, cosT), T.mul(rotated, sinT));
  };
}

/** Mean next-token cross-entropy (nats) of inputs -> targets, both i32 (B, T). */
export function lossOf(
  c: ModelConfig,
  params: Params,
  inputs: Tensor,
  targets: Tensor,
  options: ForwardOptions,
): Tensor {
  // The head fused with its cross-entropy (no full fp32 logits), its logits and their gradient rounded to half
  // chunk by chunk under bf16 as forward's cast does. Not under fp16: there the loss scale must multiply the
  // gradient before it is rounded to half (or small ones flush to zero), and the fused head rounds the
  // gradient in the forward, before the scale is known; so fp16 keeps the unfused head, exactly as it was.
  if (options.compute === 'f16') return T.crossEntropy(forward(c, params, inputs, options), targets);
  const final = hiddenState(c, params, inputs, options);
  return T.linearCrossEntropy(final, headWeight(c, params), targets, {
    round: options.compute,
    productsRound: options.productsRound,
  });
}
