// `bitscale export`'s library side: quantize a model's linear layers (RTN or GPTQ) and write them as codes,
// not as dequantized floats. Integer formats go to the int-codes/1 layout (int-file.ts), ternary and binary to
// OneBit's packed layout (onebit/packed-file.ts, y = h ⊙ (S x) with g = 1 and h the per-row scales). The model
// config and tokenizer ride in the metadata, so an exported file can be evaluated on its own (readExport).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { registerNativeGptq } from '../backends/cpu/gptq-kernels.ts';
import type { LoadOptions } from '../hf/load.ts';
import { openModel } from '../hf/open-model.ts';
import { slidingWindowPerplexity } from '../hf/perplexity.ts';
import { loadHfTokenizer } from '../hf/tokenizer.ts';
import { readSafetensorsHeader, type SafeTensor } from '../io/safetensors.ts';
import { isLinearWeight } from '../nn/transformer.ts';
import { gptqKernels } from '../numerics/gptq-kernels.ts';
import { chooseParams, quantizerFor } from '../numerics/quantizer.ts';
import { quantSpec } from '../numerics/spec.ts';
import { packLayer, svidInit } from '../onebit/linear.ts';
import { packSigns, packTernary } from '../onebit/packed.ts';
import { PACKED_LAYOUT, type PackedLinear, writePackedModel } from '../onebit/packed-file.ts';
import { linearHessians } from '../ptq/calibrate.ts';
import { PtqError } from '../ptq/settings.ts';
import type * as T from '../tensor/index.ts';
import { type GgufQuant, ggufArchOf, ggufTypes, readGgufModel, writeGgufModel } from './gguf-model.ts';
import { type IntLinear, quantizeIntGptq, quantizeIntRtn } from './int-codes.ts';
import { INT_LAYOUT, writeIntModel } from './int-file.ts';
import { configKey, tokenizerKey } from './read-export.ts';

/** Integer codes (int-codes/1), per-row RTN ternary/binary, or OneBit's SVID initialization (sign(W) with value vectors g, h). */
export const exportFormats = [
  'int2',
  'int3',
  'int4',
  'int5',
  'int6',
  'int7',
  'int8',
  'ternary',
  'binary',
  'onebit',
];

export interface ExportOptions extends LoadOptions {
  format: string;
  method?: 'rtn' | 'gptq';
  /** Columns per scale group; 0 = one per output channel (ternary/binary: per channel only). */
  groupSize?: number;
  /** GPTQ calibration text (tokenized with the model's tokenizer). */
  calibrationText?: string;
  calibrationTokens?: number;
}

export interface ExportSummary {
  path: string;
  layout: string;
  format: string;
  method: string;
  groupSize: number;
  linears: number;
  bytes: number;
}

/** Quantizes and writes a model (HF folder or bitscale run) to `out`. */
export function exportQuantized(modelPath: string, out: string, options: ExportOptions): ExportSummary {
  const { format, method = 'rtn', groupSize = 0, calibrationTokens = 8192 } = options;
  if (!exportFormats.includes(format))
    throw new PtqError(
      '--format',
      `${JSON.stringify(format)} cannot be exported as codes (allowed: ${exportFormats.join(', ')})`,
    );
  const oneBit = format === 'ternary' || format === 'binary' || format === 'onebit';
  if (oneBit && (groupSize !== 0 || method !== 'rtn'))
    throw new PtqError(
      '--group-size',
      `${format} keeps one scale per row (OneBit's packed layout): no groups, no GPTQ`,
    );
  if (method === 'gptq' && options.calibrationText === undefined)
    throw new PtqError('--calibration-text', 'GPTQ needs a calibration text');
  const model = openModel(modelPath, options);
  try {
    const { config, params } = model;
    const metadata: Record<string, string> = {
      [configKey]: JSON.stringify(config),
      'bitscale.source': modelPath,
    };
    const tokenizer = tokenizerText(modelPath);
    if (tokenizer !== null) metadata[tokenizerKey] = tokenizer;
    const dense = new Map<string, SafeTensor>();
    for (const [name, p] of params)
      if (!isLinearWeight(name))
        dense.set(name, { dtype: 'F32', shape: p.shape.slice(), data: Float32Array.from(p.toArray()) });
    let count = 0;
    if (oneBit) {
      const linears = new Map<string, PackedLinear>();
      for (const [name, p] of params) {
        if (!isLinearWeight(name)) continue;
        if (format !== 'onebit') linears.set(name, packOneBit(p, format));
        else {
          const [rows, cols] = p.shape;
          const init = svidInit(Float32Array.from(p.toArray()), rows, cols, 'nmf');
          linears.set(name, packLayer(init.w, init.g, init.h));
        }
      }
      count = linears.size;
      writePackedModel(out, { linears, dense }, { valueDtype: 'F32', metadata });
    } else {
      const hessians =
        method === 'gptq'
          ? (() => {
              if (!gptqKernels()) registerNativeGptq();
              if (!model.encode) throw new PtqError('--calibration-text', `${modelPath} has no tokenizer`);
              const tokens = Uint32Array.from(model.encode(options.calibrationText!));
              return linearHessians(config, params, tokens, calibrationTokens, 8, 1234);
            })()
          : null;
      const bits = Number(format.slice(3));
      const spec = quantSpec(format);
      const linears = new Map<string, IntLinear>();
      for (const [name, p] of params) {
        if (!isLinearWeight(name)) continue;
        const [rows, cols] = p.shape;
        if (groupSize > 0 && cols % groupSize !== 0)
          throw new PtqError('--group-size', `${groupSize} does not divide ${name}'s ${cols} columns`);
        const w = Float32Array.from(p.toArray());
        const h = hessians?.get(name);
        linears.set(
          name,
          h
            ? quantizeIntGptq(w, rows, cols, h, { bits, groupSize, actOrder: true })
            : quantizeIntRtn(w, rows, cols, spec, groupSize),
        );
      }
      count = linears.size;
      writeIntModel(out, { linears, dense }, metadata);
    }
    const header = readSafetensorsHeader(out);
    const bytes = header.dataStart + (header.entries.at(-1)?.to ?? 0);
    return {
      path: out,
      layout: oneBit ? PACKED_LAYOUT : INT_LAYOUT,
      format,
      method,
      groupSize,
      linears: count,
      bytes,
    };
  } finally {
    for (const p of model.params.values()) p.dispose();
  }
}

function tokenizerText(modelPath: string): string | null {
  const path = join(modelPath, 'tokenizer.json');
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Per-row absmean ternary / binary RTN (numerics' scale choice), as OneBit's packed layout. */
function packOneBit(p: T.Tensor, format: string): PackedLinear {
  const [rows, cols] = p.shape;
  const w = p.toArray();
  const qz = quantizerFor(quantSpec(format, { granularity: { kind: 'row' } }));
  const signs = new Float32Array(rows * cols);
  const h = new Float32Array(rows);
  const values = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) values[c] = w[r * cols + c];
    const { scale } = chooseParams(qz, values, cols);
    h[r] = scale;
    for (let c = 0; c < cols; c++) {
      let v = values[c] * (1 / scale);
      if (v < qz.lo) v = qz.lo;
      else if (v > qz.hi) v = qz.hi;
      signs[r * cols + c] = qz.grid.nearest(v);
    }
  }
  const weight = format === 'binary' ? packSigns(signs, rows, cols) : packTernary(signs, rows, cols);
  return { weight, g: new Float32Array(cols).fill(1), h };
}

export interface GgufExportSummary {
  path: string;
  quant: GgufQuant;
  architecture: string;
  quantized: number;
  f32: number;
  bytes: number;
  /** With a text: perplexity of the source and of the GGUF's weights read back, and δ (nats/token). */
  text?: { perplexity: number; exportedPerplexity: number; delta: number };
}

/** Writes a model (HF folder or run) as GGUF; with `text`, reads the file back and measures δ on it. */
export function exportGguf(
  modelPath: string,
  out: string,
  options: LoadOptions & { quant: GgufQuant; text?: string; window?: number; stride?: number },
): GgufExportSummary {
  if (!Object.hasOwn(ggufTypes, options.quant))
    throw new PtqError(
      '--gguf',
      `${JSON.stringify(options.quant)} is not a GGUF type bitscale writes (allowed: ${Object.keys(ggufTypes).join(', ')})`,
    );
  const model = openModel(modelPath, options);
  try {
    const tokenizerPath = join(modelPath, 'tokenizer.json');
    const tokenizer = existsSync(tokenizerPath) ? loadHfTokenizer(tokenizerPath) : null;
    const written = writeGgufModel(out, model.config, model.params, {
      quant: options.quant,
      name: basename(modelPath),
      tokenizer,
    });
    const summary: GgufExportSummary = {
      path: out,
      quant: options.quant,
      architecture: ggufArchOf(model.config),
      ...written,
      bytes: statSync(out).size,
    };
    if (options.text !== undefined && model.encode) {
      const ids = model.encode(options.text);
      const window = { window: options.window, stride: options.stride };
      const base = slidingWindowPerplexity(model.config, model.params, ids, window);
      const params = readGgufModel(out, model.config);
      try {
        const exported = slidingWindowPerplexity(model.config, params, ids, window);
        summary.text = {
          perplexity: base.perplexity,
          exportedPerplexity: exported.perplexity,
          delta: exported.nll - base.nll,
        };
      } finally {
        for (const p of params.values()) p.dispose();
      }
    }
    return summary;
  } finally {
    for (const p of model.params.values()) p.dispose();
  }
}
