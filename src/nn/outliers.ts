// Activation and weight statistics of a language model (Ahmadian et al.; Dettmers et al.'s LLM.int8 criterion):
// per linear layer, max |x| and kurtosis (Pearson's: 3 for a normal distribution) of its input, and the input
// dimensions whose magnitude reaches the outlier threshold on many positions; per linear weight, max |w| and
// kurtosis. Everything is reduced on the backend with tensor ops (so every backend computes it) and read to the
// host once, as one small vector.
import type { Tensor } from '../tensor/index.ts';
import * as T from '../tensor/index.ts';
import { isLinearWeight, type Params } from './transformer.ts';

/** LLM.int8's outlier features: |x| >= threshold in >= layerFraction of layers and >= positionFraction of positions. */
export interface OutlierCriterion {
  threshold: number;
  layerFraction: number;
  positionFraction: number;
}

export const llmInt8Criterion: OutlierCriterion = {
  threshold: 6,
  layerFraction: 0.25,
  positionFraction: 0.06,
};

/** One linear layer's input (the inputs of wq, wk and wv are one tensor: one site, named by wq). */
export interface SiteStats {
  site: string;
  maxAbs: number;
  kurtosis: number;
  /** Input dimensions with |x| >= threshold on >= positionFraction of the positions, at this site. */
  dims: number[];
}

export interface WeightStats {
  name: string;
  maxAbs: number;
  kurtosis: number;
}

export interface ActivationStats {
  sites: SiteStats[];
  /** Dimensions of the residual width (d_model) that are outliers by the criterion over all its sites. */
  outlierDims: number[];
  maxAbs: number;
  /** Mean over sites. */
  kurtosis: number;
}

/** max |x|, second and fourth central moments: the vector [maxAbs, m2, m4] (3) on the backend. */
function moments(flat: Tensor, abs = T.abs(flat)): Tensor {
  const maxAbs = T.max(abs);
  const centered = T.sub(flat, T.mean(flat));
  const sq = T.square(centered);
  return T.concat(
    [T.reshape(maxAbs, [1]), T.reshape(T.mean(sq), [1]), T.reshape(T.mean(T.square(sq)), [1])],
    0,
  );
}

const kurtosisOf = (m2: number, m4: number) => (m2 > 0 ? m4 / (m2 * m2) : 0);
const siteName = (weightName: string) => weightName.replace(/\.weight$/, '');

/**
 * Collects the statistics of every linear layer's input during one forward pass: pass `observe` as the forward's
 * onLinearInput, then call `read()` once. Each site leaves a (3 + width) vector on the backend; nothing is read
 * before read().
 */
export class LinearInputStats {
  private readonly seen = new Set<Tensor>();
  private readonly sites: { site: string; width: number; row: Tensor }[] = [];

  constructor(readonly criterion: OutlierCriterion = llmInt8Criterion) {}

  readonly observe = (weightName: string, x: Tensor): void => {
    if (this.seen.has(x)) return; // wq, wk, wv share their input
    this.seen.add(x);
    const width = x.shape[x.rank - 1];
    const row = T.noGrad(() =>
      T.tidy(() => {
        const flat = T.reshape(x, [-1, width]);
        // Fraction of positions (rows) where each dimension reaches the threshold.
        const abs = T.abs(flat);
        const hits = T.mean(T.ge(abs, this.criterion.threshold), 0);
        return T.concat([moments(flat, abs), hits], 0).keep();
      }),
    );
    this.sites.push({ site: siteName(weightName), width, row });
  };

  /** Reads every site's statistics back (one read) and frees them. */
  read(): ActivationStats {
    return this.readWith(new Map()).activations;
  }

  /** read(), with the statistics of the linear weights of `params` in the same read. */
  readWith(params: Params): { activations: ActivationStats; weights: WeightStats[] } {
    const names = [...params.keys()].filter(isLinearWeight);
    const weightRows = names.map((n) =>
      T.noGrad(() => T.tidy(() => moments(T.reshape(params.get(n)!, [-1])).keep())),
    );
    const rows = [...this.sites.map((s) => s.row), ...weightRows];
    const values = rows.length > 0 ? T.noGrad(() => T.tidy(() => T.concat(rows, 0).toArray())) : [];
    for (const row of rows) row.dispose();
    const activations = this.parse(values);
    const at = values.length - 3 * names.length;
    const weights = names.map((name, i) => ({
      name: siteName(name),
      maxAbs: values[at + 3 * i],
      kurtosis: kurtosisOf(values[at + 3 * i + 1], values[at + 3 * i + 2]),
    }));
    this.sites.length = 0;
    this.seen.clear();
    return { activations, weights };
  }

  private parse(values: ArrayLike<number>): ActivationStats {
    if (this.sites.length === 0) return { sites: [], outlierDims: [], maxAbs: 0, kurtosis: 0 };
    const { positionFraction, layerFraction } = this.criterion;
    const sites: SiteStats[] = [];
    const fractions: number[][] = [];
    let at = 0;
    for (const s of this.sites) {
      const [maxAbs, m2, m4] = [values[at], values[at + 1], values[at + 2]];
      const hits = Array.from({ length: s.width }, (_, d) => values[at + 3 + d]);
      at += 3 + s.width;
      const dims = hits.flatMap((h, d) => (h >= positionFraction ? [d] : []));
      sites.push({ site: s.site, maxAbs, kurtosis: kurtosisOf(m2, m4), dims });
      fractions.push(hits);
    }
    // The residual stream's features: the sites as wide as the first (d_model), counted across layers.
    const width = this.sites[0].width;
    const residual = this.sites.map((s, i) => (s.width === width ? i : -1)).filter((i) => i >= 0);
    const outlierDims: number[] = [];
    for (let d = 0; d < width; d++) {
      const layers = residual.filter((i) => fractions[i][d] >= positionFraction).length;
      if (layers > 0 && layers >= layerFraction * residual.length) outlierDims.push(d);
    }
    return {
      sites,
      outlierDims,
      maxAbs: Math.max(...sites.map((s) => s.maxAbs)),
      kurtosis: sites.reduce((sum, s) => sum + s.kurtosis, 0) / sites.length,
    };
  }
}

/** max |w| and kurtosis of every linear weight, with one read. */
export const weightStats = (params: Params): WeightStats[] => new LinearInputStats().readWith(params).weights;

/** The few numbers a run table carries: activation and weight extremes, mean kurtosis, outlier dimensions. */
export interface OutlierSummary {
  actMaxAbs: number;
  actKurtosis: number;
  outlierDims: number;
  weightMaxAbs: number;
  weightKurtosis: number;
}

export function summarizeOutliers(act: ActivationStats, weights: WeightStats[]): OutlierSummary {
  return {
    actMaxAbs: act.maxAbs,
    actKurtosis: act.kurtosis,
    outlierDims: act.outlierDims.length,
    weightMaxAbs: Math.max(0, ...weights.map((w) => w.maxAbs)),
    weightKurtosis: weights.length ? weights.reduce((s, w) => s + w.kurtosis, 0) / weights.length : 0,
  };
}
