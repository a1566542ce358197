// LLaMA-family checkpoints (LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM without sliding window):
// RMSNorm, SwiGLU, RoPE with its rescalings, grouped-query attention, optional biases, tied or untied head.
import type { RopeScaling } from '../nn/arch.ts';
import type { ModelConfig } from '../nn/config.ts';
import { fullPrecision } from '../nn/precision.ts';
import type { ConfigReader } from './config-fields.ts';
import { show } from './errors.ts';
import { type HfArchitecture, same, type TensorMapping } from './mapping.ts';

/** bitscale's name inside a block <-> transformers' name inside model.layers.N. */
const blockNames: [string, string][] = [
  ['attn_norm', 'input_layernorm'],
  ['attn.wq', 'self_attn.q_proj'],
  ['attn.wk', 'self_attn.k_proj'],
  ['attn.wv', 'self_attn.v_proj'],
  ['attn.wo', 'self_attn.o_proj'],
  ['mlp_norm', 'post_attention_layernorm'],
  ['mlp.w_gate', 'mlp.gate_proj'],
  ['mlp.w_up', 'mlp.up_proj'],
  ['mlp.w_down', 'mlp.down_proj'],
];

function ropeScaling(r: ConfigReader, raw: unknown, field: string, maxPositions: number): RopeScaling | null {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) return r.fail(field, `${show(raw)} is not an object`);
  const s = raw as Record<string, unknown>;
  const type = s.rope_type ?? s.type ?? 'default';
  const num = (key: string, fallback?: number) => {
    const v = s[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) r.fail(`${field}.${key}`, `${show(v)} is not a positive number`);
    return v as number;
  };
  const known = ['rope_type', 'type', 'rope_theta', 'factor', 'low_freq_factor', 'high_freq_factor'];
  known.push('original_max_position_embeddings', 'partial_rotary_factor');
  for (const key of Object.keys(s))
    if (!known.includes(key)) r.fail(`${field}.${key}`, `${show(s[key])} is not a supported rope option`);
  if (s.partial_rotary_factor !== undefined && s.partial_rotary_factor !== 1)
    r.fail(`${field}.partial_rotary_factor`, `${show(s.partial_rotary_factor)} is not supported (only 1)`);
  switch (type) {
    case 'default':
      return null;
    case 'linear':
      return { type: 'linear', factor: num('factor') };
    case 'dynamic':
      return { type: 'dynamic', factor: num('factor'), maxPositions };
    case 'llama3':
      return {
        type: 'llama3',
        factor: num('factor'),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositions: num('original_max_position_embeddings'),
      };
    default:
      return r.fail(
        `${field}.rope_type`,
        `${show(type)} is not supported (allowed: default, linear, dynamic, llama3)`,
      );
  }
}

function modelConfig(r: ConfigReader): ModelConfig {
  const modelType = r.raw('model_type');
  const dModel = r.int('hidden_size');
  const nHeads = r.int('num_attention_heads');
  const nKvHeads = r.int('num_key_value_heads', nHeads);
  if (nHeads % nKvHeads !== 0)
    r.fail('num_key_value_heads', `${nKvHeads} does not divide num_attention_heads = ${nHeads}`);
  const headSize = r.int('head_dim', Math.floor(dModel / nHeads));
  if (headSize % 2 !== 0) r.fail('head_dim', `${headSize} must be even for rotary embeddings`);
  const context = r.int('max_position_embeddings');
  r.only('hidden_act', ['silu'], 'SwiGLU uses silu');
  r.only('pretraining_tp', [1], 'tensor-parallel slicing changes the arithmetic');
  r.only('partial_rotary_factor', [1], 'rotary embedding on every head dimension only');
  const qwen = modelType === 'qwen2';
  r.only('use_sliding_window', [false], 'full attention only');
  r.ignore('sliding_window', 'max_window_layers', 'mlp_bias', 'attention_bias');
  const layerTypes = r.raw('layer_types');
  if (Array.isArray(layerTypes) && layerTypes.some((t) => t !== 'full_attention'))
    r.fail('layer_types', `${show(layerTypes)}: only full_attention layers are supported`);
  if (modelType === 'mistral' && r.has('sliding_window') && (r.json.sliding_window as number) < context)
    r.fail('sliding_window', `${show(r.json.sliding_window)}: sliding-window attention is not supported`);
  // transformers 5 folds rope_theta and rope_scaling into rope_parameters.
  const params = r.raw('rope_parameters') as Record<string, unknown> | undefined;
  const ropeBase =
    params && typeof params === 'object' && params.rope_theta !== undefined
      ? (params.rope_theta as number)
      : r.number('rope_theta', 10000);
  r.ignore('rope_theta');
  const scaling = params
    ? ropeScaling(r, params, 'rope_parameters', context)
    : ropeScaling(r, r.raw('rope_scaling'), 'rope_scaling', context);
  const biases: string[] = [];
  if (qwen) biases.push('attn.wq', 'attn.wk', 'attn.wv');
  if (r.boolean('attention_bias', false)) biases.push('attn.wq', 'attn.wk', 'attn.wv', 'attn.wo');
  if (r.boolean('mlp_bias', false)) biases.push('mlp.w_gate', 'mlp.w_up', 'mlp.w_down');
  return {
    vocabSize: r.int('vocab_size'),
    dModel,
    nLayers: r.int('num_hidden_layers'),
    nHeads,
    dFf: r.int('intermediate_size'),
    context,
    tiedEmbeddings: r.boolean('tie_word_embeddings', false),
    ropeBase,
    dropout: 0,
    precision: fullPrecision,
    arch: {
      norm: 'rms',
      normEps: r.number('rms_norm_eps', 1e-6),
      mlp: 'swiglu',
      positions: 'rope',
      ropeScaling: scaling,
      nKvHeads,
      headSize,
      biases: [...new Set(biases)],
    },
  };
}

function tensors(c: ModelConfig, names: ReadonlySet<string>): TensorMapping[] {
  const a = c.arch!;
  const C = c.dModel;
  const q = c.nHeads * a.headSize;
  const kv = a.nKvHeads * a.headSize;
  const shapeOf: Record<string, number[]> = {
    'attn.wq': [q, C],
    'attn.wk': [kv, C],
    'attn.wv': [kv, C],
    'attn.wo': [C, q],
    'mlp.w_gate': [c.dFf, C],
    'mlp.w_up': [c.dFf, C],
    'mlp.w_down': [C, c.dFf],
  };
  const out: TensorMapping[] = [same('model.embed_tokens.weight', 'tok_emb.weight', [c.vocabSize, C])];
  for (let l = 0; l < c.nLayers; l++) {
    for (const [ours, theirs] of blockNames) {
      const hf = `model.layers.${l}.${theirs}`;
      const name = `blocks.${l}.${ours}`;
      const shape = shapeOf[ours] ?? [C];
      out.push(same(`${hf}.weight`, `${name}.weight`, shape));
      if (a.biases.includes(ours)) out.push(same(`${hf}.bias`, `${name}.bias`, [shape[0]]));
    }
  }
  out.push(same('model.norm.weight', 'norm.weight', [C]));
  // A tied model may still store lm_head (a copy); it is read only when the head is untied.
  if (!c.tiedEmbeddings || names.has('lm_head.weight')) {
    const head = same('lm_head.weight', 'lm_head.weight', [c.vocabSize, C]);
    if (c.tiedEmbeddings) head.parts = [];
    out.push(head);
  }
  return out;
}

export const llama: HfArchitecture = {
  classes: ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'MistralForCausalLM'],
  modelTypes: ['llama', 'qwen2', 'mistral'],
  modelConfig,
  tensors,
  ignored: /\.rotary_emb\.inv_freq$/,
};
