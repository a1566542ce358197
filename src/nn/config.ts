// The shape of a Transformer++ language model, validated before any work starts.
import { type ArchOptions, checkArchOptions } from './arch.ts';
import { ConfigError, type ConfigIssue, Fields } from './fields.ts';
import { bitnetPresets, checkPrecisionConfig, fullPrecision, type PrecisionConfig } from './precision.ts';

export { ConfigError, type ConfigIssue } from './fields.ts';

export interface ModelConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** SwiGLU hidden size (default: 8/3 d_model rounded up to a multiple of 8). */
  dFf: number;
  /** Context length T. */
  context: number;
  tiedEmbeddings: boolean;
  ropeBase: number;
  dropout: number;
  precision: PrecisionConfig;
  /** OneBit linear layers (src/onebit/linear.ts) in place of dense ones; present only when true, so the
   *  configs (and run ids) of dense models stay what they were. */
  onebit?: true;
  /** A model from another code base (src/hf): LayerNorm, GELU, learned positions, biases, GQA. Absent: Transformer++. */
  arch?: ArchOptions;
}

export const defaultDff = (dModel: number) => Math.ceil((8 * dModel) / 3 / 8) * 8;

const modelKeys = [
  'vocabSize',
  'dModel',
  'nLayers',
  'nHeads',
  'dFf',
  'context',
  'tiedEmbeddings',
  'ropeBase',
  'dropout',
  'precision',
  'bitnet',
  'onebit',
  'arch',
];

/** Fills defaults and checks every field; throws a ConfigError listing every bad one. */
export function resolveModelConfig(raw: unknown, prefix = 'model.'): ModelConfig {
  const issues: ConfigIssue[] = [];
  const model = checkModelConfig(raw, prefix, issues);
  if (!model) throw new ConfigError(issues);
  return model;
}

/**
 * Checks a model section (camelCase or snake_case keys, plus `bitnet: <preset>`), adding every problem to
 * `issues` under the name the user wrote; returns the config, or null if anything is wrong.
 */
export function checkModelConfig(raw: unknown, prefix: string, issues: ConfigIssue[]): ModelConfig | null {
  const before = issues.length;
  const f = new Fields(raw, prefix, modelKeys, issues);
  const int = (key: string, fallback?: number) => f.number(key, fallback, 1, 2 ** 31, true);
  const vocabSize = int('vocabSize');
  const dModel = int('dModel');
  const nLayers = int('nLayers');
  const nHeads = int('nHeads');
  const context = int('context');
  const dFf = int('dFf', dModel === undefined ? 1 : defaultDff(dModel));
  const tiedEmbeddings = f.boolean('tiedEmbeddings', true);
  const ropeBase = f.number('ropeBase', 10000, Number.MIN_VALUE);
  const dropout = f.number('dropout', 0, 0, 0.999999);
  const arch = f.has('arch') ? checkArchOptions(f.get('arch'), f.name('arch'), issues) : undefined;
  let headSize: number | undefined = arch?.headSize;
  if (!f.has('arch') && dModel !== undefined && nHeads !== undefined) {
    if (dModel % nHeads !== 0)
      f.problem('nHeads', `${nHeads} does not divide ${f.name('dModel').slice(prefix.length)} ${dModel}`);
    else if ((dModel / nHeads) % 2 !== 0)
      f.problem('nHeads', `head size ${dModel / nHeads} must be even for rotary embeddings`);
    else headSize = dModel / nHeads;
  }
  const bitnet = f.string('bitnet', 'none', ['none', ...Object.keys(bitnetPresets)]);
  const preset = bitnet && bitnet !== 'none' ? bitnetPresets[bitnet] : fullPrecision;
  const widths =
    headSize !== undefined && dFf !== undefined ? { dModel: dModel as number, dFf, headSize } : undefined;
  const precision = checkPrecisionConfig(
    f.get('precision'),
    `${f.name('precision')}.`,
    issues,
    widths,
    preset,
  );
  const onebit = f.boolean('onebit', false);
  // OneBit replaces the weight format; the other components keep whatever precision is asked for.
  if (onebit && precision && precision.weights !== fullPrecision.weights)
    f.problem(
      'onebit',
      `OneBit layers keep sign(W) and fp value vectors; precision.weights must stay fp32, not ${precision.weights}`,
    );
  if (issues.length > before) return null;
  return {
    vocabSize: vocabSize as number,
    dModel: dModel as number,
    nLayers: nLayers as number,
    nHeads: nHeads as number,
    dFf: dFf as number,
    context: context as number,
    tiedEmbeddings: tiedEmbeddings as boolean,
    ropeBase: ropeBase as number,
    dropout: dropout as number,
    precision: precision as PrecisionConfig,
    ...(onebit ? { onebit: true as const } : {}),
    ...(arch ? { arch } : {}),
  };
}

/** Non-embedding parameters N (what the scaling laws use) and the total. A OneBit model counts the weights
 *  it replaces: its value vectors g, h are storage (see packedModelBits), not parameters of N. */
export function parameterCount(c: ModelConfig): { nonEmbedding: number; total: number } {
  const perLayer = 4 * c.dModel * c.dModel + 3 * c.dModel * c.dFf + 2 * c.dModel;
  const nonEmbedding = c.nLayers * perLayer + c.dModel;
  const embeddings = c.vocabSize * c.dModel * (c.tiedEmbeddings ? 1 : 2);
  return { nonEmbedding, total: nonEmbedding + embeddings };
}
