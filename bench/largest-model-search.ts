// The search of bench/largest-model.ts: the most layers that train under a memory cap, in few trials. Peak memory
// grows linearly with the layer count (weights, gradients, AdamW moments and activations are per layer), so two
// small trials give peak = a + b·L and a prediction of L_max; the search then checks that L_max passes and
// L_max + 1 fails. Every pass refits the line through the two largest passes; a prediction that fails is followed
// by trials below the failure by 1, 2, 4, ... layers (never below the middle of the bracket).

/** One trial: a training run of `layers` layers under the cap, which either completes or runs out of memory.
 *  peakBytes: the most bytes in use at once; heldBytes, where it differs, the most the cap saw (in use + what the
 *  allocator held back, e.g. PyTorch's reserved bytes): the fit follows it. */
export type TrialResult =
  | { ok: true; layers: number; peakBytes: number; heldBytes?: number; tokensPerSecond: number }
  | { ok: false; layers: number; oom: true; message: string };

export type Trial = (layers: number) => Promise<TrialResult>;

export interface SearchOptions {
  /** The bytes a trial may hold; the fit predicts the layers whose peak stays at or below it. */
  capBytes: number;
  /** The two small layer counts measured first (default 1 and 4). */
  probes?: [number, number];
  /** Trials after the probes, at most (default 6). */
  maxTrials?: number;
  /** Sees every trial as it ends (progress). */
  onTrial?: (result: TrialResult, note: string) => void;
}

export interface SearchResult {
  /** The most layers that passed (0: not even the first probe fits), with that trial. */
  layers: number;
  best: Extract<TrialResult, { ok: true }> | null;
  /** The fewest layers that failed, or null when none did (the bracket was not closed). */
  failedAt: number | null;
  /** True when layers passed and layers + 1 failed: layers is exactly the largest model under the cap. */
  exact: boolean;
  /** The fit peak = a + b·L from the passing trials, and its first prediction. */
  fit: { a: number; b: number; predicted: number } | null;
  trials: TrialResult[];
  /** Why the search could not say more (a cap too small for the first probe, trials exhausted), else null. */
  problem: string | null;
}

/** Least-squares line through (L, peak); null with fewer than two distinct layer counts. */
export function fitPeak(
  points: { layers: number; peakBytes: number; heldBytes?: number }[],
): { a: number; b: number } | null {
  const n = points.length;
  if (new Set(points.map((p) => p.layers)).size < 2) return null;
  const bytes = (p: (typeof points)[number]) => p.heldBytes ?? p.peakBytes;
  const mx = points.reduce((s, p) => s + p.layers, 0) / n;
  const my = points.reduce((s, p) => s + bytes(p), 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.layers - mx) * (bytes(p) - my);
    sxx += (p.layers - mx) ** 2;
  }
  const b = sxy / sxx;
  return { a: my - b * mx, b };
}

/** The most layers whose fitted peak a + b·L stays within the cap (Infinity when the peak does not grow). */
export function predictLayers(fit: { a: number; b: number }, capBytes: number): number {
  if (!(fit.b > 0)) return Number.POSITIVE_INFINITY;
  return Math.floor((capBytes - fit.a) / fit.b);
}

export async function findLargestModel(trial: Trial, options: SearchOptions): Promise<SearchResult> {
  const [p1, p2] = options.probes ?? [1, 4];
  if (!(Number.isInteger(p1) && Number.isInteger(p2) && p1 >= 1 && p2 > p1))
    throw new RangeError(`probes = [${p1}, ${p2}]: expected two whole numbers 1 <= first < second`);
  const maxTrials = options.maxTrials ?? 6;
  const trials: TrialResult[] = [];
  const passed = new Map<number, Extract<TrialResult, { ok: true }>>();
  let lo = 0; // the most layers that passed
  let hi: number | null = null; // the fewest that failed
  const run = async (layers: number, note: string) => {
    const r = await trial(layers);
    trials.push(r);
    if (r.ok) {
      passed.set(layers, r);
      lo = Math.max(lo, layers);
    } else hi = hi === null ? layers : Math.min(hi, layers);
    options.onTrial?.(r, note);
    return r;
  };
  const result = (problem: string | null, fit: SearchResult['fit']): SearchResult => ({
    layers: lo,
    best: passed.get(lo) ?? null,
    failedAt: hi,
    exact: lo > 0 && hi === lo + 1,
    fit,
    trials,
    problem,
  });

  if (!(await run(p1, 'probe')).ok)
    return result(
      `the cap of ${options.capBytes} bytes is too small for ${p1} layer${p1 === 1 ? '' : 's'} (the first probe ran out of memory)`,
      null,
    );
  if (!(await run(p2, 'probe')).ok) {
    // Between the probes: no slope to trust, so walk down from p2.
    for (let layers = p2 - 1; layers > p1 && trials.length < maxTrials + 2; layers--)
      if ((await run(layers, 'below a failed probe')).ok) break;
    return result(lo + 1 === hi ? null : 'trials exhausted between the probes', null);
  }
  const first = fitPeak([...passed.values()]);
  const fit = first && { ...first, predicted: predictLayers(first, options.capBytes) };
  if (!fit || !Number.isFinite(fit.predicted))
    return result('the peak did not grow with the layers, so no prediction can be made', null);

  let misses = 0;
  for (let i = 0; i < maxTrials && hi !== lo + 1; i++) {
    // The line through the two largest passes: the part of the curve nearest L_max.
    const near = [...passed.values()].sort((x, y) => y.layers - x.layers).slice(0, 2);
    const line = fitPeak(near);
    const predicted = line ? predictLayers(line, options.capBytes) : lo + 1;
    let next: number;
    let note: string;
    if (hi !== null && predicted >= hi) {
      // The fit is optimistic (memory the probes could not see): below the failure by 1, 2, 4, ... layers,
      // never below the middle of what is left.
      next = Math.max(hi - 2 ** Math.max(0, misses - 1), Math.ceil((lo + hi) / 2));
      note = `below a failure by ${hi - next}`;
    } else if (predicted <= lo) {
      next = lo + 1;
      note = 'one above a pass';
    } else {
      next = predicted;
      note = i === 0 ? 'predicted' : 'refit';
    }
    if (!(await run(Math.max(next, lo + 1), note)).ok) misses++;
  }
  return result(
    hi === lo + 1
      ? null
      : `trials exhausted (${maxTrials} after the probes) before L and L + 1 were bracketed`,
    fit,
  );
}
