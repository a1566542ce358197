// An exported file (export-model.ts) as a model again: its config, tokenizer and weights, dequantized
// exactly as stored.
import { CheckpointError, readSafetensorsHeader } from '../io/safetensors.ts';
import type { ModelConfig } from '../nn/config.ts';
import type { Params } from '../nn/transformer.ts';
import { unpackMatrix } from '../onebit/packed.ts';
import { PACKED_LAYOUT, readPackedModel } from '../onebit/packed-file.ts';
import * as T from '../tensor/index.ts';
import { dequantizeInt } from './int-codes.ts';
import { INT_LAYOUT, readIntModel } from './int-file.ts';

export const configKey = 'bitscale.model_config';
export const tokenizerKey = 'bitscale.tokenizer_json';

/** Whether a safetensors file is a bitscale export (its metadata carries the model config). */
export function isExportFile(path: string): boolean {
  if (!path.endsWith('.safetensors')) return false;
  try {
    return readSafetensorsHeader(path).metadata[configKey] !== undefined;
  } catch {
    return false;
  }
}

export interface ExportedModel {
  layout: string;
  config: ModelConfig;
  params: Params;
  tokenizerJson: string | null;
}

/** An exported file as a model again: its config and its weights, dequantized exactly as stored. */
export function readExport(path: string): ExportedModel {
  const { metadata } = readSafetensorsHeader(path);
  const layout = metadata['bitscale.layout'];
  if (metadata[configKey] === undefined)
    throw new CheckpointError(path, `metadata ${configKey} is missing: not a bitscale export`);
  const config = JSON.parse(metadata[configKey]) as ModelConfig;
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  if (layout === INT_LAYOUT) {
    const m = readIntModel(path);
    for (const [name, q] of m.linears) weights.set(name, { shape: [q.rows, q.cols], data: dequantizeInt(q) });
    for (const [name, t] of m.dense) weights.set(name, { shape: t.shape, data: t.data as Float32Array });
  } else if (layout === PACKED_LAYOUT) {
    const m = readPackedModel(path);
    for (const [name, { weight, g, h }] of m.linears) {
      const s = unpackMatrix(weight);
      const { rows, cols } = weight;
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) s[r * cols + c] = h[r] * s[r * cols + c] * g[c];
      weights.set(name, { shape: [rows, cols], data: s });
    }
    for (const [name, t] of m.dense) weights.set(name, { shape: t.shape, data: t.data as Float32Array });
  } else {
    throw new CheckpointError(
      path,
      `layout ${JSON.stringify(layout)} is not ${INT_LAYOUT} or ${PACKED_LAYOUT}`,
    );
  }
  const params: Params = new Map();
  for (const [name, { shape, data }] of weights) {
    const t = T.tensor(data, shape).keep();
    t.name = name;
    params.set(name, t);
  }
  return { layout, config, params, tokenizerJson: metadata[tokenizerKey] ?? null };
}
