// A trained Transformer++ (src/nn/transformer.ts) as a packed OneBit model: every linear layer's weight
// becomes sign(W) packed 1 bit per weight with SVID's value vectors (linear.ts's svidInit), every other
// tensor (embeddings, norms) is kept dense, in fp16 by default. What a distilled student stores; here from
// the teacher's own weights, the student's starting point.
import { f32ToF16Bits } from '../base/half.ts';
import type { SafeTensor } from '../io/safetensors.ts';
import { isLinearWeight } from '../nn/transformer.ts';
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
      const dense: SafeTensor =
        denseDtype === 'F32'
          ? { dtype: 'F32', shape, data }
          : { dtype: 'F16', shape, data: Uint16Array.from(data, f32ToF16Bits) };
      model.dense.set(name, dense);
    }
  }
  return model;
}
