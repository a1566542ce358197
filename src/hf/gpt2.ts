// GPT-2 checkpoints (GPT2LMHeadModel): LayerNorm, GELU (tanh approximation), learned positions, biases
// everywhere, tied head. Its linear layers are Conv1D, stored (in, out), and attention's q, k, v are one
// fused c_attn: both are undone here, so bitscale sees plain (out, in) linear weights.
import type { ModelConfig } from '../nn/config.ts';
import { fullPrecision } from '../nn/precision.ts';
import type { ConfigReader } from './config-fields.ts';
import type { HfArchitecture, TensorMapping } from './mapping.ts';

function modelConfig(r: ConfigReader): ModelConfig {
  const dModel = r.int('n_embd');
  const nHeads = r.int('n_head');
  if (dModel % nHeads !== 0) r.fail('n_head', `${nHeads} does not divide n_embd = ${dModel}`);
  r.only('activation_function', ['gelu_new', 'gelu_pytorch_tanh'], 'GELU with the tanh approximation only');
  r.only('scale_attn_weights', [true], 'attention scaled by 1/sqrt(head size)');
  r.only('scale_attn_by_inverse_layer_idx', [false], 'attention scaled by 1/sqrt(head size) only');
  r.only('add_cross_attention', [false], 'a decoder-only language model');
  // Upcasting attention to fp32 changes nothing when the model already runs in fp32.
  r.ignore('reorder_and_upcast_attn', 'n_ctx', 'resid_pdrop', 'embd_pdrop', 'attn_pdrop');
  r.ignore('summary_type', 'summary_use_proj', 'summary_activation', 'summary_proj_to_labels');
  r.ignore('summary_first_dropout');
  const dFf = r.has('n_inner') ? r.int('n_inner') : 4 * dModel;
  r.ignore('n_inner'); // null: 4 * n_embd
  return {
    vocabSize: r.int('vocab_size'),
    dModel,
    nLayers: r.int('n_layer'),
    nHeads,
    dFf,
    context: r.int('n_positions'),
    tiedEmbeddings: r.boolean('tie_word_embeddings', true),
    ropeBase: 10000,
    dropout: 0,
    precision: fullPrecision,
    arch: {
      norm: 'layer',
      normEps: r.number('layer_norm_epsilon', 1e-5),
      mlp: 'gelu',
      positions: 'learned',
      ropeScaling: null,
      nKvHeads: nHeads,
      headSize: dModel / nHeads,
      biases: ['attn.wq', 'attn.wk', 'attn.wv', 'attn.wo', 'mlp.w_up', 'mlp.w_down'],
    },
  };
}

function tensors(c: ModelConfig, names: ReadonlySet<string>): TensorMapping[] {
  const C = c.dModel;
  // GPT2LMHeadModel saves under transformer.*, the original GPT-2 files (GPT2Model) without a prefix.
  const p = names.has('transformer.wte.weight') ? 'transformer.' : '';
  const copy = (hf: string, name: string, shape: number[]): TensorMapping => ({
    hf: p + hf,
    shape,
    transpose: false,
    parts: [{ name, rows: [0, shape[0]] }],
  });
  const conv = (hf: string, name: string, inDim: number, outDim: number): TensorMapping[] => [
    {
      hf: `${p}${hf}.weight`,
      shape: [inDim, outDim],
      transpose: true,
      parts: [{ name: `${name}.weight`, rows: [0, outDim] }],
    },
    copy(`${hf}.bias`, `${name}.bias`, [outDim]),
  ];
  const norm = (hf: string, name: string) => [
    copy(`${hf}.weight`, `${name}.weight`, [C]),
    copy(`${hf}.bias`, `${name}.bias`, [C]),
  ];
  const out: TensorMapping[] = [
    copy('wte.weight', 'tok_emb.weight', [c.vocabSize, C]),
    copy('wpe.weight', 'pos_emb.weight', [c.context, C]),
  ];
  for (let l = 0; l < c.nLayers; l++) {
    const h = `h.${l}`;
    const b = `blocks.${l}`;
    const qkv = (suffix: 'weight' | 'bias') => [
      { name: `${b}.attn.wq.${suffix}`, rows: [0, C] as [number, number] },
      { name: `${b}.attn.wk.${suffix}`, rows: [C, 2 * C] as [number, number] },
      { name: `${b}.attn.wv.${suffix}`, rows: [2 * C, 3 * C] as [number, number] },
    ];
    out.push(
      ...norm(`${h}.ln_1`, `${b}.attn_norm`),
      { hf: `${p}${h}.attn.c_attn.weight`, shape: [C, 3 * C], transpose: true, parts: qkv('weight') },
      { hf: `${p}${h}.attn.c_attn.bias`, shape: [3 * C], transpose: false, parts: qkv('bias') },
      ...conv(`${h}.attn.c_proj`, `${b}.attn.wo`, C, C),
      ...norm(`${h}.ln_2`, `${b}.mlp_norm`),
      ...conv(`${h}.mlp.c_fc`, `${b}.mlp.w_up`, C, c.dFf),
      ...conv(`${h}.mlp.c_proj`, `${b}.mlp.w_down`, c.dFf, C),
    );
  }
  out.push(...norm('ln_f', 'norm'));
  if (!c.tiedEmbeddings || names.has('lm_head.weight')) {
    const head = copy('lm_head.weight', 'lm_head.weight', [c.vocabSize, C]);
    head.hf = 'lm_head.weight';
    if (c.tiedEmbeddings) head.parts = [];
    out.push(head);
  }
  return out;
}

export const gpt2: HfArchitecture = {
  classes: ['GPT2LMHeadModel'],
  modelTypes: ['gpt2'],
  modelConfig,
  tensors,
  ignored: /\.attn\.(masked_)?bias$/,
};
