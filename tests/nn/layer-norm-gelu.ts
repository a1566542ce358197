// The architecture the model tests run beside Transformer++: LayerNorm and GELU (GPT-2's), with rope; `more`
// overrides fields (grouped-query heads, a bias).
import type { ArchOptions } from '../../src/nn/arch.ts';

export const layerNormGelu = (more: Partial<ArchOptions> = {}): ArchOptions => ({
  norm: 'layer',
  normEps: 1e-5,
  mlp: 'gelu',
  positions: 'rope',
  ropeScaling: null,
  nKvHeads: 4,
  headSize: 32,
  biases: [],
  ...more,
});
