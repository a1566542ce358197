// A bitscale model as a GGUF file llama.cpp can load (architectures llama, qwen2, gpt2), and back.
// Linear weights are quantized with ggml's reference quantizers (Q8_0, Q4_0, TQ2_0, TQ1_0; F32 where a row is
// not whole blocks), everything else stays F32. Names and metadata follow llama.cpp's convert_hf_to_gguf:
//   llama: q and k rows are permuted from transformers' rotate-half order to ggml's interleaved rotary pairs
//          (per head: (2, hs/2) -> (hs/2, 2)); llama3 rope scaling becomes rope_freqs.weight (frequency divisors)
//   qwen2: NEOX rotary in ggml, no permutation; q/k/v biases
//   gpt2:  q, k, v fused back into attn_qkv; learned positions as position_embd
import type { HfTokenizer } from '../hf/tokenizer.ts';
import { ropeInvFreq } from '../nn/arch.ts';
import type { ModelConfig } from '../nn/config.ts';
import { isLinearWeight, type Params, parameterShapes } from '../nn/transformer.ts';
import * as T from '../tensor/index.ts';
import { type BlockCodec, Q4_0, Q8_0, TQ1_0, TQ2_0 } from './ggml-quants.ts';
import {
  GgmlType,
  GgufError,
  type GgufTensor,
  type GgufValue,
  ggmlTypes,
  readGgufHeader,
  readGgufTensorData,
  writeGguf,
} from './gguf.ts';

export const ggufTypes = {
  q8_0: GgmlType.Q8_0,
  q4_0: GgmlType.Q4_0,
  tq2_0: GgmlType.TQ2_0,
  tq1_0: GgmlType.TQ1_0,
  f32: GgmlType.F32,
} as const;
export type GgufQuant = keyof typeof ggufTypes;
const codecs: Record<number, BlockCodec> = {
  [GgmlType.Q8_0]: Q8_0,
  [GgmlType.Q4_0]: Q4_0,
  [GgmlType.TQ2_0]: TQ2_0,
  [GgmlType.TQ1_0]: TQ1_0,
};
/** llama_ftype of a file whose linear weights are mostly this type. */
const fileType: Record<GgufQuant, number> = { f32: 0, q4_0: 2, q8_0: 7, tq1_0: 36, tq2_0: 37 };

type GgufArch = 'llama' | 'qwen2' | 'gpt2';

export function ggufArchOf(c: ModelConfig): GgufArch {
  const a = c.arch;
  if (!a) return 'llama'; // Transformer++: RMSNorm, SwiGLU, rotate-half RoPE, no biases
  if (a.norm === 'layer' && a.mlp === 'gelu' && a.positions === 'learned') return 'gpt2';
  const biases = [...a.biases].sort().join(',');
  if (a.norm === 'rms' && a.mlp === 'swiglu' && a.positions === 'rope') {
    if (biases === '') return 'llama';
    if (biases === 'attn.wk,attn.wq,attn.wv') return 'qwen2';
  }
  throw new GgufError(
    '<model>',
    `no llama.cpp architecture has this model's options (biases: ${biases || 'none'})`,
  );
}

/** ggml name of each bitscale parameter (gpt2's q/k/v all go to attn_qkv). */
function ggufName(arch: GgufArch, name: string): string {
  const block = /^blocks\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (block) {
    const [, l, part, kind] = block;
    const map: Record<string, string> = {
      attn_norm: 'attn_norm',
      'attn.wq': arch === 'gpt2' ? 'attn_qkv' : 'attn_q',
      'attn.wk': arch === 'gpt2' ? 'attn_qkv' : 'attn_k',
      'attn.wv': arch === 'gpt2' ? 'attn_qkv' : 'attn_v',
      'attn.wo': 'attn_output',
      mlp_norm: 'ffn_norm',
      'mlp.w_gate': 'ffn_gate',
      'mlp.w_up': 'ffn_up',
      'mlp.w_down': 'ffn_down',
    };
    return `blk.${l}.${map[part]}.${kind}`;
  }
  const top: Record<string, string> = {
    'tok_emb.weight': 'token_embd.weight',
    'pos_emb.weight': 'position_embd.weight',
    'norm.weight': 'output_norm.weight',
    'norm.bias': 'output_norm.bias',
    'lm_head.weight': 'output.weight',
  };
  return top[name];
}

/** Rows of q or k from rotate-half order to ggml's interleaved pairs, or back (inverse). */
function permuteRotary(
  w: Float32Array,
  heads: number,
  cols: number,
  inverse: boolean,
): Float32Array<ArrayBuffer> {
  const rows = w.length / cols;
  const hs = rows / heads;
  const half = hs / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const hf = h * hs + j * half + i; // transformers: (2, half)
        const gg = h * hs + i * 2 + j; // ggml: (half, 2)
        const [from, to] = inverse ? [gg, hf] : [hf, gg];
        out.set(w.subarray(from * cols, (from + 1) * cols), to * cols);
      }
  return out;
}

function encodeTensor(name: string, data: Float32Array, shape: number[], type: number): GgufTensor {
  const dims = [...shape].reverse();
  const codec = codecs[type];
  if (!codec || dims[0] % codec.blockSize !== 0)
    return {
      name,
      dims,
      type: GgmlType.F32,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  const out = new Uint8Array((data.length / codec.blockSize) * codec.blockBytes);
  codec.quantize(data, out);
  return { name, dims, type, data: out };
}

export interface GgufExportOptions {
  quant: GgufQuant;
  name?: string;
  tokenizer?: HfTokenizer | null;
}

/** Writes a model as GGUF; returns how many linear weights were quantized and how many stayed F32. */
export function writeGgufModel(
  path: string,
  config: ModelConfig,
  params: Params,
  options: GgufExportOptions,
): { quantized: number; f32: number } {
  const arch = ggufArchOf(config);
  const a = config.arch;
  const hs = a?.headSize ?? config.dModel / config.nHeads;
  const nkv = a?.nKvHeads ?? config.nHeads;
  const type = ggufTypes[options.quant];
  const scaling = a?.ropeScaling ?? null;
  if (scaling?.type === 'dynamic')
    throw new GgufError(path, 'dynamic NTK rope scaling has no GGUF equivalent in llama.cpp');
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const f32 = (value: number): GgufValue => ({ type: 'f32', value });
  const meta: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: options.name ?? 'bitscale export' }],
    ['general.file_type', u32(fileType[options.quant])],
    ['general.quantization_version', u32(2)],
    ['general.alignment', u32(32)],
    [`${arch}.context_length`, u32(config.context)],
    [`${arch}.embedding_length`, u32(config.dModel)],
    [`${arch}.block_count`, u32(config.nLayers)],
    [`${arch}.feed_forward_length`, u32(config.dFf)],
    [`${arch}.attention.head_count`, u32(config.nHeads)],
  ];
  if (arch === 'gpt2') meta.push([`${arch}.attention.layer_norm_epsilon`, f32(a!.normEps)]);
  else {
    meta.push(
      [`${arch}.attention.head_count_kv`, u32(nkv)],
      [`${arch}.rope.freq_base`, f32(config.ropeBase)],
      [`${arch}.attention.layer_norm_rms_epsilon`, f32(a?.normEps ?? 1e-6)],
      [`${arch}.rope.dimension_count`, u32(hs)],
    );
    if (hs * config.nHeads !== config.dModel)
      meta.push([`${arch}.attention.key_length`, u32(hs)], [`${arch}.attention.value_length`, u32(hs)]);
    if (scaling?.type === 'linear')
      meta.push(
        [`${arch}.rope.scaling.type`, { type: 'string', value: 'linear' }],
        [`${arch}.rope.scaling.factor`, f32(scaling.factor)],
      );
  }
  if (options.tokenizer) meta.push(...tokenizerMetadata(options.tokenizer, config.vocabSize));

  const tensors: GgufTensor[] = [];
  let quantized = 0;
  let kept = 0;
  const data = (name: string) => Float32Array.from(params.get(name)!.toArray());
  const done = new Set<string>();
  for (const [name, p] of params) {
    if (done.has(name)) continue;
    let values: Float32Array = data(name);
    let shape = p.shape.slice();
    const fused = arch === 'gpt2' && /attn\.wq\.(weight|bias)$/.test(name);
    if (fused) {
      // q, k, v back into one (3C, C) weight / (3C) bias, as GPT-2's c_attn.
      const parts = ['wq', 'wk', 'wv'].map((x) => name.replace('.wq.', `.${x}.`));
      for (const part of parts) done.add(part);
      values = new Float32Array(parts.reduce((n, part) => n + params.get(part)!.size, 0));
      let at = 0;
      for (const part of parts) {
        values.set(data(part), at);
        at += params.get(part)!.size;
      }
      shape = [3 * shape[0], ...shape.slice(1)];
    } else if (arch === 'gpt2' && /attn\.w[kv]\./.test(name)) continue;
    if (arch === 'llama' && /attn\.w[qk]\.weight$/.test(name))
      values = permuteRotary(values, name.includes('.wq.') ? config.nHeads : nkv, shape[1], false);
    const linear = isLinearWeight(name);
    const t = encodeTensor(ggufName(arch, name), values, shape, linear ? type : GgmlType.F32);
    if (linear && t.type !== GgmlType.F32) quantized++;
    else if (linear) kept++;
    tensors.push(t);
  }
  if (scaling?.type === 'llama3') {
    const plain = ropeInvFreq(config.ropeBase, hs, null, config.context);
    const scaled = ropeInvFreq(config.ropeBase, hs, scaling, config.context);
    const factors = Float32Array.from(plain, (v, i) => v / scaled[i]);
    tensors.push({
      name: 'rope_freqs.weight',
      dims: [hs / 2],
      type: GgmlType.F32,
      data: new Uint8Array(factors.buffer),
    });
  }
  writeGguf(path, meta, tensors);
  return { quantized, f32: kept };
}

/** llama.cpp's BPE tokenizer keys (tokenizer.ggml.*), vocabulary padded to the model's rows. */
function tokenizerMetadata(t: HfTokenizer, vocabSize: number): [string, GgufValue][] {
  const tokens: string[] = [];
  const types: number[] = [];
  const special = new Set(t.tokenizer.specialTokens.map((s) => s.id));
  for (let id = 0; id < vocabSize; id++) {
    const token = t.tokenizer.vocab[id];
    tokens.push(token ?? `[PAD${id}]`);
    types.push(token === undefined ? 4 : special.has(id) ? 3 : 1); // user-defined pad, control, normal
  }
  const pattern = t.tokenizer.options.splitPattern?.source ?? null;
  const pre = pattern === null ? 'gpt-2' : pattern.includes('\\p{N}{1,3}') ? 'llama-bpe' : 'qwen2';
  const meta: [string, GgufValue][] = [
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: pre }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', values: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', values: types }],
    [
      'tokenizer.ggml.merges',
      { type: 'array', itemType: 'string', values: t.tokenizer.merges.map(([a, b]) => `${a} ${b}`) },
    ],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: t.prefix.length > 0 }],
  ];
  if (t.prefix.length === 1) meta.push(['tokenizer.ggml.bos_token_id', { type: 'u32', value: t.prefix[0] }]);
  return meta;
}

/** The f32 values of a GGUF tensor (F32, F16 or a block type bitscale writes). */
export function dequantizeGgufTensor(
  path: string,
  info: ReturnType<typeof readGgufHeader>['tensors'][number],
): Float32Array {
  const bytes = readGgufTensorData(path, info);
  const n = info.dims.reduce((a, b) => a * b, 1);
  if (info.type === GgmlType.F32) return new Float32Array(bytes.buffer, bytes.byteOffset, n).slice();
  const codec = codecs[info.type];
  if (!codec)
    throw new GgufError(
      path,
      `tensor ${info.name}: cannot dequantize ${ggmlTypes[info.type]?.name ?? info.type}`,
    );
  const out = new Float32Array(n);
  codec.dequantize(bytes, out);
  return out;
}

/** A GGUF written by writeGgufModel as bitscale parameters again (for the config it was written from). */
export function readGgufModel(path: string, config: ModelConfig): Params {
  const file = readGgufHeader(path);
  const arch = ggufArchOf(config);
  const nkv = config.arch?.nKvHeads ?? config.nHeads;
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const params: Params = new Map();
  for (const [name, shape] of parameterShapes(config)) {
    const g = ggufName(arch, name);
    const info = byName.get(g);
    if (!info) throw new GgufError(path, `tensor ${g} (for ${name}) is missing`);
    let values = dequantizeGgufTensor(path, info);
    if (arch === 'gpt2' && /attn\.w[qkv]\./.test(name)) {
      const size = shape.reduce((x, y) => x * y, 1);
      const index = ['wq', 'wk', 'wv'].findIndex((x) => name.includes(`.${x}.`));
      values = values.slice(index * size, (index + 1) * size);
    }
    if (arch === 'llama' && /attn\.w[qk]\.weight$/.test(name))
      values = permuteRotary(values, name.includes('.wq.') ? config.nHeads : nkv, shape[1], true);
    const t = T.tensor(values, shape).keep();
    t.name = name;
    params.set(name, t);
  }
  return params;
}
