// A trained Transformer++ (src/nn/transformer.ts) as a packed OneBit model: every linear layer's weight
// becomes sign(W) packed 1 bit per weight with SVID's value vectors (linear.ts's svidInit), every other
// tensor (embeddings, norms) is kept dense, in fp16 by default. What a distilled student stores; here from
// the teacher's own weights, the student's starting point.
import { f32ToF16Bits } from '../base/half.ts';
import type { SafeTensor } from '../io/safetensors.ts';
import { isLinearWeight, type Params, valueVectorNames } from '../nn/transformer.ts';
import { OneBitError } from './errors.ts';
import { packLayer, type SvidMethod, svidInit } from './linear.ts';
import type { PackedModel } from './packed-file.ts';

export interface DenseWeight {
  shape: number[];
  data: Float32Array;
}

export interface PackOptions {
  method?: SvidMethod;
  /** Storage of embeddings and norms. */
  denseDtype?: 'F16' | 'F32';
  /** Which weights to pack (default: the model's linear layers). */
  packs?: (name: string) => boolean;
}

function denseTensor(shape: number[], data: Float32Array, dtype: 'F16' | 'F32'): SafeTensor {
  return dtype === 'F32'
    ? { dtype: 'F32', shape, data }
    : { dtype: 'F16', shape, data: Uint16Array.from(data, f32ToF16Bits) };
}

/**
 * A trained OneBit Transformer (model.onebit: true) as stored for inference: each linear layer's own sign(W)
 * packed with its own g and h, every other tensor dense. Nothing is re-derived, so the file decodes to the
 * student that was evaluated (up to the fp16 rounding of g, h and the dense tensors).
 */
export function packOnebitParams(params: Params, denseDtype: 'F16' | 'F32' = 'F16'): PackedModel {
  const model: PackedModel = { linears: new Map(), dense: new Map() };
  const values = new Set<string>();
  for (const name of params.keys()) {
    if (!isLinearWeight(name)) continue;
    const { g, h } = valueVectorNames(name);
    const [gt, ht] = [params.get(g), params.get(h)];
    if (!gt || !ht)
      throw new OneBitError(
        name,
        'a linear weight without value vectors',
        `${g} and ${h} (a model with onebit: true)`,
      );
    const w = params.get(name)!;
    const f32 = (t: typeof w) => Float32Array.from(t.toArray());
    model.linears.set(name, packLayer(f32(w), f32(gt), f32(ht)));
    values.add(g).add(h);
  }
  for (const [name, t] of params)
    if (!model.linears.has(name) && !values.has(name))
      model.dense.set(name, denseTensor(t.shape.slice(), Float32Array.from(t.toArray()), denseDtype));
  return model;
}

export function packTransformer(weights: Map<string, DenseWeight>, options: PackOptions = {}): PackedModel {
  const { method = 'nmf', denseDtype = 'F16', packs = isLinearWeight } = options;
  const model: PackedModel = { linears: new Map(), dense: new Map() };
  for (const [name, { shape, data }] of weights) {
    if (data.length !== shape.reduce((a, b) => a * b, 1))
      throw new OneBitError(`${name}.data.length`, data.length, `the product of shape [${shape}]`);
    if (packs(name)) {
      if (shape.length !== 2)
        throw new OneBitError(`${name}.shape`, `[${shape}]`, '(rows, cols) for a linear weight');
      const init = svidInit(data, shape[0], shape[1], method);
      model.linears.set(name, packLayer(init.w, init.g, init.h));
    } else {
      model.dense.set(name, denseTensor(shape, data, denseDtype));
    }
  }
  return model;
}
