// Activation and weight statistics of a language model (Ahmadian et al.; Dettmers et al.'s LLM.int8 criterion):
// per linear layer, max |x| and kurtosis (Pearson's: 3 for a normal distribution) of its input, and the input
// dimensions whose magnitude reaches the outlier threshold on many positions; per linear weight, max |w| and
// kurtosis. Each tensor is reduced on the backend by one op (columnStats: every backend has it, and it does not
// synchronize), and everything is read to the host once, as one small vector.
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

/** columnStats' vector of x viewed as (rows, last axis): [maxAbs, mean, m2, m4, hit fraction per column]. */
const statsOf = (x: Tensor, threshold: number) => T.noGrad(() => T.columnStats(x, threshold).keep());
const head = 4;

const kurtosisOf = (m2: number, m4: number) => (m2 > 0 ? m4 / (m2 * m2) : 0);
/** max |x| and kurtosis from the head of the statistics vector that starts at `at`. */
const headAt = (values: ArrayLike<number>, at: number) => ({
  maxAbs: values[at],
  kurtosis: kurtosisOf(values[at + 2], values[at + 3]),
});
const siteName = (weightName: string) => weightName.replace(/\.weight$/, '');

/**
 * Collects the statistics of every linear layer's input during one forward pass: pass `observe` as the forward's
 * onLinearInput, then call `read()` once. Each site leaves a (4 + width) vector on the backend; nothing is read
 * before read().
 */
export class LinearInputStats {
  private readonly seen = new Set<Tensor>();
  private readonly sites: { site: string; width: number; row: Tensor }[] = [];

  constructor(readonly criterion: OutlierCriterion = llmInt8Criterion) {}

  readonly observe = (weightName: string, x: Tensor): void => {
    if (this.seen.has(x)) return; // wq, wk, wv share their input
    this.seen.add(x);
    // The rows are the positions: the hit fractions say on how many of them each dimension reaches the threshold.
    const row = statsOf(x, this.criterion.threshold);
    this.sites.push({ site: siteName(weightName), width: x.shape[x.rank - 1], row });
  };

  /** Reads every site's statistics back (one read) and frees them. */
  read(): ActivationStats {
    return this.readWith(new Map()).activations;
  }

  /** read(), with the statistics of the linear weights of `params` in the same read. */
  readWith(params: Params): { activations: ActivationStats; weights: WeightStats[] } {
    const names = [...params.keys()].filter(isLinearWeight);
    // A weight's moments over all its elements; no threshold (its column hits are not used).
    const weightRows = names.map((n) => statsOf(params.get(n)!, Number.POSITIVE_INFINITY));
    const rows = [...this.sites.map((s) => s.row), ...weightRows];
    const values = rows.length > 0 ? T.noGrad(() => T.tidy(() => T.concat(rows, 0).toArray())) : [];
    let at = this.sites.reduce((sum, s) => sum + s.row.size, 0);
    const weights = names.map((name, i) => {
      const stats = { name: siteName(name), ...headAt(values, at) };
      at += weightRows[i].size;
      return stats;
    });
    for (const row of rows) row.dispose();
    const activations = this.parse(values);
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
      const hits = Array.from({ length: s.width }, (_, d) => values[at + head + d]);
      const dims = hits.flatMap((h, d) => (h >= positionFraction ? [d] : []));
      sites.push({ site: s.site, ...headAt(values, at), dims });
      at += head + s.width;
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
