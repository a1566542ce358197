// Small packed models for the decoder tests: a OneBit model packed from a fresh transformer's weights (SVID by
// SVD, dense parts in fp32), and its ternary twin.
import type { ModelConfig } from '../../src/nn/config.ts';
import { initParams } from '../../src/nn/transformer.ts';
import { packTransformer } from '../../src/onebit/pack-model.ts';
import { packTernary, unpackMatrix } from '../../src/onebit/packed.ts';
import type { PackedModel } from '../../src/onebit/packed-file.ts';

export function packedModel(config: ModelConfig, seed: number): PackedModel {
  const params = initParams(config, seed);
  const weights = new Map(
    [...params].map(([name, t]) => [name, { shape: t.shape.slice(), data: Float32Array.from(t.toArray()) }]),
  );
  for (const p of params.values()) p.dispose();
  return packTransformer(weights, { method: 'svd', denseDtype: 'F32' });
}

/** The packed model with every linear made ternary: sign where |h S g| passes its mean, else 0; scale h. */
export function ternaryModel(config: ModelConfig, seed: number): PackedModel {
  const model = packedModel(config, seed);
  for (const [name, layer] of model.linears) {
    const { rows, cols } = layer.weight;
    const w = unpackMatrix(layer.weight).map((s, i) => s * layer.h[Math.floor(i / cols)] * layer.g[i % cols]);
    const scale = w.reduce((a, v) => a + Math.abs(v), 0) / w.length;
    const t = Array.from(w, (v) => (Math.abs(v) < scale ? 0 : Math.sign(v)));
    model.linears.set(name, {
      weight: packTernary(t, rows, cols),
      g: new Float32Array(cols).fill(1),
      h: new Float32Array(rows).fill(scale),
    });
  }
  return model;
}
