// How one Hugging Face tensor becomes bitscale parameters (and back): optionally transposed (GPT-2's Conv1D
// stores (in, out)), then cut into row ranges (GPT-2's fused c_attn holds q, k and v).
import type { ModelConfig } from '../nn/config.ts';

export interface TensorMapping {
  /** The tensor's name in the HF checkpoint. */
  hf: string;
  /** Its shape there, as the config implies. */
  shape: number[];
  /** Conv1D layout: the HF tensor is the transpose of ours. */
  transpose: boolean;
  /** Our parameters, each the rows [from, to) of the (transposed) tensor; one part covering all rows is a copy. */
  parts: { name: string; rows: [number, number] }[];
}

/** What an architecture file provides: reading its config.json, and the name mapping for a model. */
export interface HfArchitecture {
  /** The transformers model classes (config.json `architectures`) it reads. */
  classes: readonly string[];
  /** model_type values it reads. */
  modelTypes: readonly string[];
  modelConfig(reader: import('./config-fields.ts').ConfigReader): ModelConfig;
  /** Every tensor of the checkpoint, for a model of this config; `names` are the ones present (prefixes vary). */
  tensors(c: ModelConfig, names: ReadonlySet<string>): TensorMapping[];
  /** Tensors a checkpoint may hold that are not weights (buffers of older transformers versions). */
  ignored: RegExp;
}

/** A 1:1 mapping. */
export const same = (hf: string, name: string, shape: number[]): TensorMapping => ({
  hf,
  shape,
  transpose: false,
  parts: [{ name, rows: [0, shape[0]] }],
});

/** Our (rows, cols) data of a part, from the HF tensor's f32 data. */
export function extractPart(m: TensorMapping, data: Float32Array, rows: [number, number]): Float32Array {
  if (m.shape.length === 1 || !m.transpose) {
    const width = m.shape.length === 1 ? 1 : m.shape[1];
    if (rows[0] === 0 && rows[1] === m.shape[0]) return data;
    return data.slice(rows[0] * width, rows[1] * width);
  }
  // HF (in, out) -> ours (out, in), rows of ours = columns of theirs.
  const [inDim, outDim] = m.shape;
  const out = new Float32Array((rows[1] - rows[0]) * inDim);
  for (let r = rows[0]; r < rows[1]; r++)
    for (let i = 0; i < inDim; i++) out[(r - rows[0]) * inDim + i] = data[i * outDim + r];
  return out;
}

/** The HF tensor's f32 data assembled from our parameters' data (the inverse of extractPart). */
export function assembleTensor(m: TensorMapping, get: (name: string) => Float32Array): Float32Array {
  const size = m.shape.reduce((a, b) => a * b, 1);
  if (m.parts.length === 1 && (!m.transpose || m.shape.length === 1)) return get(m.parts[0].name);
  const out = new Float32Array(size);
  for (const { name, rows } of m.parts) {
    const part = get(name);
    if (m.shape.length === 1 || !m.transpose) {
      const width = m.shape.length === 1 ? 1 : m.shape[1];
      out.set(part, rows[0] * width);
      continue;
    }
    const [inDim, outDim] = m.shape;
    for (let r = rows[0]; r < rows[1]; r++)
      for (let i = 0; i < inDim; i++) out[i * outDim + r] = part[(r - rows[0]) * inDim + i];
  }
  return out;
}
