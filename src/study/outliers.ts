// The outlier study's analysis (Ahmadian et al., "Intriguing Properties of Quantization at Scale"): per training
// run its recipe, size, W8A8 / weight-only PTQ degradation and activation statistics; what each recipe setting
// changes (paired differences with 95% t intervals); and sentences on the paper's claims, every number taken
// from the runs.
import type { Finding, OutlierReport, OutlierRunRow, RecipeEffect } from '../report/types.ts';
import type { RunRecord } from '../store/run-store.ts';
import type { TrainConfig } from '../sweep/expand.ts';
import { runConfigFromJob } from './run-config.ts';

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** W8A8, W8A8 + LLM.int8, W4, W fp8_e4m3 ...: how the report names a PTQ job. */
export function variantLabel(config: Record<string, unknown>): string {
  const bits = (name: string) => (/^int(\d+)$/.exec(name)?.[1] ?? ` ${name}`) as string;
  const w = `W${bits(String(config.precision))}`;
  const a = typeof config.activations === 'string' && config.activations !== 'fp32';
  const method = config.method === 'gptq' ? ' gptq' : '';
  return `${w}${a ? `A${bits(config.activations as string)}` : ''}${config.decompose ? ' + LLM.int8' : ''}${method}`;
}

const settingNames = {
  weightDecay: 'weight decay',
  dropout: 'dropout',
  gradClip: 'gradient clipping',
  dtype: 'dtype',
} as const;
type Setting = keyof typeof settingNames;

/** The report's section, or null when the study has neither a recipe axis nor activation PTQ. */
export function outlierReport(records: RunRecord[]): OutlierReport | null {
  const trains = records.filter(
    (r) => r.kind === 'train' && (r.status === 'done' || r.status === 'diverged'),
  );
  const ptqs = records.filter((r) => r.kind === 'ptq');
  const hasRecipes = trains.some((r) => r.config.recipe !== undefined);
  const hasActPtq = ptqs.some((r) => typeof r.config.activations === 'string');
  if (trains.length === 0 || !(hasRecipes || hasActPtq)) return null;

  const variants = [...new Set(ptqs.map((r) => variantLabel(r.config)))];
  const runs: (OutlierRunRow & { key: string })[] = [];
  for (const r of trains) {
    let config: ReturnType<typeof runConfigFromJob>;
    try {
      config = runConfigFromJob(r.config as TrainConfig);
    } catch {
      continue; // a record from another version of the trainer: not comparable
    }
    const settings = {
      weightDecay: config.train.weightDecay,
      dropout: config.model.dropout,
      gradClip: config.train.gradClip,
      dtype: config.train.dtype ?? 'fp32',
    };
    const m = (r.metrics ?? {}) as Record<string, unknown>;
    const deltas: Record<string, number | null> = Object.fromEntries(variants.map((v) => [v, null]));
    for (const p of ptqs)
      if (p.config.source === r.id && p.status === 'done')
        deltas[variantLabel(p.config)] = num((p.metrics as Record<string, unknown> | null)?.deltaPtq);
    const { precision, seed, tokens, model } = r.config as TrainConfig;
    runs.push({
      id: r.id,
      recipe: recipeLabel(settings),
      settings,
      N: num(m.N) ?? 0,
      valLoss: r.status === 'done' ? num(m.valLoss) : null,
      deltas,
      outlierDims: num(m.outlierDims),
      actMaxAbs: num(m.actMaxAbs),
      actKurtosis: num(m.actKurtosis),
      weightKurtosis: num(m.weightKurtosis),
      overflowSteps: num(m.overflowSteps),
      // What a pair must share besides the setting that differs.
      key: JSON.stringify([model, tokens, precision, seed]),
    });
  }
  runs.sort((a, b) => a.recipe.localeCompare(b.recipe) || a.N - b.N);
  const metrics = metricsOf(variants);
  const effects = (Object.keys(settingNames) as Setting[]).flatMap((s) => settingEffects(runs, s, metrics));
  return {
    variants,
    runs: runs.map(({ key: _, ...row }) => row),
    effects,
    claims: claims(runs, variants, effects),
  };
}

const recipeLabel = (s: OutlierRunRow['settings']) =>
  `wd ${s.weightDecay} · dropout ${s.dropout} · clip ${s.gradClip > 0 ? s.gradClip : 'none'} · ${s.dtype}`;

type Metric = { name: string; of: (r: OutlierRunRow) => number | null };

function metricsOf(variants: string[]): Metric[] {
  return [
    ...variants.map((v) => ({ name: `δ ${v}`, of: (r: OutlierRunRow) => r.deltas[v] })),
    { name: 'outlier dims', of: (r) => r.outlierDims },
    { name: 'max |x|', of: (r) => r.actMaxAbs },
    { name: 'activation kurtosis', of: (r) => r.actKurtosis },
    { name: 'weight kurtosis', of: (r) => r.weightKurtosis },
    { name: 'val loss', of: (r) => r.valLoss },
  ];
}

/** 97.5% quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's 1.96). */
const t975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** Mean and 95% t interval of paired differences (null under two pairs). */
export function meanInterval(xs: number[]): { mean: number; lo: number; hi: number } | null {
  if (xs.length < 2) return null;
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
  const half = (t975[xs.length - 2] ?? 1.96) * (sd / Math.sqrt(xs.length));
  return { mean, lo: mean - half, hi: mean + half };
}

/** Paired effects of one setting: runs equal in all else (other settings, shape, tokens, precision, seed). */
function settingEffects(
  runs: (OutlierRunRow & { key: string })[],
  setting: Setting,
  metrics: Metric[],
): RecipeEffect[] {
  const values = [...new Set(runs.map((r) => r.settings[setting]))].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : dtypeOrder(a) - dtypeOrder(b),
  );
  if (values.length !== 2) return [];
  const [from, to] = values;
  const others = (r: OutlierRunRow & { key: string }) =>
    JSON.stringify([r.key, ...Object.entries(r.settings).filter(([k]) => k !== setting)]);
  const partner = new Map(runs.filter((r) => r.settings[setting] === to).map((r) => [others(r), r]));
  const pairs = runs
    .filter((r) => r.settings[setting] === from)
    .map((r) => [r, partner.get(others(r))] as const)
    .filter((p): p is readonly [OutlierRunRow & { key: string }, OutlierRunRow & { key: string }] => !!p[1]);
  const show = (v: string | number) => (setting === 'gradClip' && v === 0 ? 'none' : String(v));
  const change = `${settingNames[setting]} ${show(from)} → ${show(to)}`;
  return metrics.flatMap((metric) => {
    const diffs = pairs.flatMap(([a, b]) => {
      const [x, y] = [metric.of(a), metric.of(b)];
      return x === null || y === null ? [] : [y - x];
    });
    const i = meanInterval(diffs);
    return i ? [{ setting, change, metric: metric.name, ...i, pairs: diffs.length }] : [];
  });
}

const dtypeOrder = (d: unknown) => ['fp32', 'bf16', 'fp16'].indexOf(String(d));

const f = (x: number, digits = 3) =>
  x === 0
    ? '0'
    : Math.abs(x) >= 100
      ? x.toFixed(0)
      : Math.abs(x) < 1e-3
        ? x.toExponential(digits - 1)
        : Number(x.toPrecision(digits)).toString();
const interval = (e: RecipeEffect) => `${f(e.mean)} [${f(e.lo)}, ${f(e.hi)}] over ${e.pairs} pairs`;
const excludesZero = (e: RecipeEffect) => e.lo > 0 || e.hi < 0;

/** Spearman's rank correlation (null under three points or with no spread). */
export function spearman(xs: number[], ys: number[]): number | null {
  if (xs.length < 3) return null;
  const ranks = (v: number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
      for (let k = i; k <= j; k++) r[order[k][1]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const [a, b] = [ranks(xs), ranks(ys)];
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let [sab, saa, sbb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : null;
}

function claims(runs: OutlierRunRow[], variants: string[], effects: RecipeEffect[]): Finding[] {
  const out: Finding[] = [];
  const w8a8 = variants.find((v) => /^W8A8$/.test(v));
  const dec = variants.find((v) => /^W8A8 \+ LLM\.int8$/.test(v));
  const w4 = variants.find((v) => /^W4$/.test(v));
  const sizes = [...new Set(runs.map((r) => r.N))].sort((a, b) => a - b);
  const meanAt = (v: string, n: number) => {
    const xs = runs
      .filter((r) => r.N === n)
      .flatMap((r) => (r.deltas[v] === null ? [] : [r.deltas[v] as number]));
    return xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null;
  };
  // 1. The cliff: degradation against size.
  for (const v of [w8a8, w4].filter((x): x is string => !!x)) {
    const means = sizes.map((n) => meanAt(v, n));
    if (means.some((m) => m === null) || sizes.length < 2) continue;
    const ms = means as number[];
    const rising = ms.every((m, i) => i === 0 || m > ms[i - 1]);
    const jump = Math.max(...ms.slice(1).map((m, i) => m - ms[i]));
    const steps = ms.slice(1).map((m, i) => m - ms[i]);
    const sharp =
      rising && steps.length >= 2 && steps[steps.length - 1] > 2 * Math.max(...steps.slice(0, -1));
    out.push({
      id: `cliff-${v}`,
      text: `${v} δ_PTQ averaged over recipes is ${ms.map((m, i) => `${f(m)} at N = ${sizes[i].toLocaleString('en-US')}`).join(', ')}: it ${rising ? 'rises with every size' : 'does not rise with every size'}${sharp ? ', most steeply at the largest step (a cliff-like rise)' : rising ? `, with no sharp step (largest step ${f(jump)})` : ''}. The paper's cliff appears above ~6B parameters; the largest model here has N = ${sizes[sizes.length - 1].toLocaleString('en-US')}.`,
      shown: sharp,
    });
  }
  // 2. Which recipe settings move W8A8 degradation, and whether the paper's directions hold.
  const effectOn = (setting: RecipeEffect['setting'], metric: string) =>
    effects.find((e) => e.setting === setting && e.metric === metric);
  if (w8a8) {
    const wd = effectOn('weightDecay', `δ ${w8a8}`);
    if (wd) {
      const holds = wd.hi < 0;
      out.push({
        id: 'weight-decay',
        text: `${wd.change} changes ${w8a8} δ_PTQ by ${interval(wd)}: ${holds ? 'higher weight decay quantizes better here, as the paper found' : wd.lo > 0 ? 'higher weight decay quantizes worse here, the opposite of the paper' : "the interval includes 0, so the paper's weight-decay effect does not show at this scale"}.`,
        shown: holds,
      });
    }
    const dt = effectOn('dtype', `δ ${w8a8}`);
    const dtypes = [...new Set(runs.map((r) => r.settings.dtype))];
    if (dt?.change.endsWith('→ fp16')) {
      const holds = dt.lo > 0;
      out.push({
        id: 'dtype',
        text: `${dt.change} changes ${w8a8} δ_PTQ by ${interval(dt)}: ${holds ? 'bf16 training quantizes better than fp16 here, as the paper found' : dt.hi < 0 ? 'fp16 training quantizes better here, the opposite of the paper' : "the interval includes 0, so the paper's bf16-over-fp16 effect does not show at this scale"}.`,
        shown: holds,
      });
    } else
      out.push({
        id: 'dtype',
        text: `The grid has no bf16/fp16 pair (dtypes: ${dtypes.join(', ')}${dt ? `; ${interval(dt)} for ${dt.change}` : ''}), so the paper's bf16-over-fp16 claim is not tested here.`,
        shown: false,
      });
    // 3. Outliers go with the degradation.
    const paired = runs.filter((r) => r.deltas[w8a8] !== null && r.actMaxAbs !== null);
    const rho = spearman(
      paired.map((r) => r.actMaxAbs as number),
      paired.map((r) => r.deltas[w8a8] as number),
    );
    const rhoDims = spearman(
      paired.map((r) => r.outlierDims ?? 0),
      paired.map((r) => r.deltas[w8a8] as number),
    );
    if (rho !== null)
      out.push({
        id: 'outliers-vs-degradation',
        text: `Across ${paired.length} runs the rank correlation of ${w8a8} δ_PTQ with max |x| is ${f(rho, 2)}${rhoDims === null ? '' : ` and with the number of outlier dimensions ${f(rhoDims, 2)}`}: ${rho > 0.5 ? 'larger activation outliers go with larger W8A8 degradation, as the paper links them' : 'the link between outliers and W8A8 degradation is weak at this scale'}.`,
        shown: rho > 0.5,
      });
    if (dec) {
      const gains = runs.flatMap((r) =>
        r.deltas[w8a8] === null || r.deltas[dec] === null
          ? []
          : [(r.deltas[w8a8] as number) - (r.deltas[dec] as number)],
      );
      const i = meanInterval(gains);
      if (i)
        out.push({
          id: 'decomposition',
          text: `Keeping the outlier dimensions in full precision (LLM.int8) lowers W8A8 δ_PTQ by ${f(i.mean)} [${f(i.lo)}, ${f(i.hi)}] over ${gains.length} runs: ${i.lo > 0 ? 'the outliers cost measurable quality under W8A8' : 'the outliers cost no measurable quality under W8A8 here'}.`,
          shown: i.lo > 0,
        });
    }
  }
  // 4. Which settings move anything, in one sentence per setting.
  for (const setting of Object.keys(settingNames) as Setting[]) {
    const own = effects.filter((e) => e.setting === setting);
    if (own.length === 0) continue;
    const moved = own.filter(excludesZero);
    out.push({
      id: `moves-${setting}`,
      text: moved.length
        ? `${own[0].change} moves ${moved.map((e) => `${e.metric} by ${f(e.mean)} [${f(e.lo)}, ${f(e.hi)}]`).join('; ')} (95% intervals excluding 0; ${own[0].pairs} pairs).`
        : `${own[0].change} moves none of the measured quantities beyond its 95% interval (${own[0].pairs} pairs).`,
      shown: moved.length > 0,
    });
  }
  // 5. fp16 overflow.
  const fp16 = runs.filter((r) => r.settings.dtype === 'fp16' && r.overflowSteps !== null);
  if (fp16.length)
    out.push({
      id: 'fp16-overflow',
      text: `The ${fp16.length} fp16 runs skipped ${fp16.reduce((s, r) => s + (r.overflowSteps as number), 0)} overflowing steps in all (at most ${Math.max(...fp16.map((r) => r.overflowSteps as number))} in one run).`,
      shown: true,
    });
  return out;
}
