// The PTQ measurement of one finished run: validation loss before and after quantizing its weights to each
// requested P_post, and their difference delta_PTQ — the quantity Kumar et al.'s law predicts. The model,
// data and unquantized loss are loaded once for all variants.
import { prepareData } from '../data/index.ts';
import { evaluate } from '../train/evaluate.ts';
import { loadRun } from '../train/run.ts';
import { ptqModel } from './ptq-model.ts';
import { checkPtqOptions, defaultPtq, type PtqOptions } from './quantize-model.ts';

export interface PtqResult {
  format: string;
  method: string;
  groupSize: number;
  /** Linear inputs' precision ('fp32': weight-only) and whether the LLM.int8 decomposition ran. */
  activations: string;
  decomposed: boolean;
  /** Decomposition: outlier input dimensions kept in full precision, over all linear layers, and their share. */
  keptColumns?: number;
  keptFraction?: number;
  valLoss: number;
  baseValLoss: number;
  deltaPtq: number;
  seconds: number;
}

export type PtqVariant = Partial<PtqOptions> & Pick<PtqOptions, 'format' | 'method'>;

export interface PtqSettings {
  backend?: string;
  cacheDir?: string;
  evalTokens?: number;
}

export function evaluatePtqVariants(
  runDir: string,
  variants: PtqVariant[],
  settings: PtqSettings = {},
): PtqResult[] {
  const { config, params } = loadRun(runDir, settings.backend);
  try {
    // Every variant is checked against this model before the data is prepared or anything is evaluated.
    const options = variants.map((variant): PtqOptions => ({ ...defaultPtq, ...definedOnly(variant) }));
    for (const opts of options) checkPtqOptions(config.model, opts);
    const data = prepareData({ ...config.data, cacheDir: settings.cacheDir });
    const evalTokens = settings.evalTokens ?? config.train.evalTokens;
    const baseValLoss = evaluate(config.model, params, data.val, config.train.batchSize, evalTokens);
    return options.map((opts) => {
      const started = performance.now();
      const q = ptqModel(config.model, params, data.train, opts, config.train.batchSize);
      const { keep } = q;
      let valLoss: number;
      try {
        const { batchSize } = config.train;
        valLoss = evaluate(config.model, q.params, data.val, batchSize, evalTokens, q.hooks);
      } finally {
        q.dispose();
      }
      const kept = keep ? [...keep.values()].reduce((s, d) => s + d.length, 0) : undefined;
      const inputs = keep ? [...keep.keys()].reduce((s, n) => s + params.get(n)!.shape[1], 0) : 0;
      return {
        format: opts.format,
        method: opts.method,
        groupSize: opts.groupSize,
        activations: opts.activations,
        decomposed: opts.decompose,
        ...(kept === undefined ? {} : { keptColumns: kept, keptFraction: kept / Math.max(1, inputs) }),
        valLoss,
        baseValLoss,
        deltaPtq: valLoss - baseValLoss,
        seconds: (performance.now() - started) / 1000,
      };
    });
  } finally {
    for (const p of params.values()) p.dispose();
  }
}

export const evaluatePtq = (runDir: string, variant: PtqVariant, settings: PtqSettings = {}): PtqResult =>
  evaluatePtqVariants(runDir, [variant], settings)[0];

/** A variant's fields that are set: `groupSize: undefined` from a settings file must not erase the default. */
function definedOnly(variant: PtqVariant): PtqVariant {
  return Object.fromEntries(Object.entries(variant).filter(([, v]) => v !== undefined)) as PtqVariant;
}
