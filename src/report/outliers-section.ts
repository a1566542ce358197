// The report's outlier section (Ahmadian et al.): the claims, W8A8 / weight-only degradation against model size
// per recipe with the outlier statistics beside it, and what each recipe setting changes.
import type { NamedChart } from './charts.ts';
import type { ChartSpec } from './svg/chart.ts';
import { esc } from './svg/xml.ts';
import type { OutlierReport, OutlierRunRow } from './types.ts';

const num = (x: number | null, digits = 4) => {
  if (x === null) return '—';
  if (x !== 0 && Math.abs(x) < 1e-3) return x.toExponential(digits - 2);
  return Math.abs(x) >= 1000 ? x.toFixed(0) : Number(x.toPrecision(digits)).toString();
};

/** One line per recipe of a quantity against model size N. */
function perRecipe(
  report: OutlierReport,
  title: string,
  yLabel: string,
  y: (r: OutlierRunRow) => number | null,
): ChartSpec {
  const recipes = [...new Set(report.runs.map((r) => r.recipe))];
  return {
    title,
    xLabel: 'non-embedding parameters N',
    yLabel,
    xLog: true,
    series: recipes.map((recipe) => ({
      name: recipe,
      style: 'both',
      points: report.runs
        .filter((r) => r.recipe === recipe && y(r) !== null)
        .map((r) => ({ x: r.N, y: y(r) as number })),
    })),
  };
}

/** δ_PTQ against N for W8A8 and W4 (where the study has them), and max |x| against N, one line per recipe. */
export function outlierCharts(report: OutlierReport): NamedChart[] {
  const charts = ['W8A8', 'W4']
    .filter((v) => report.variants.includes(v))
    .map((v) => ({
      id: `outliers-delta-${v.toLowerCase()}-vs-N`,
      spec: perRecipe(
        report,
        `${v} degradation against model size, one line per recipe`,
        `δ_PTQ ${v} (nats/token)`,
        (r) => r.deltas[v],
      ),
    }));
  charts.push({
    id: 'outliers-max-abs-vs-N',
    spec: perRecipe(
      report,
      'Largest linear-layer input |x| against model size, one line per recipe',
      'max |x|',
      (r) => r.actMaxAbs,
    ),
  });
  return charts;
}

/** The section; `chart` embeds a chart of outlierCharts by id. */
export function outlierSection(report: OutlierReport, chart: (id: string) => string = () => ''): string {
  const claims = report.claims.map(
    (c) => `<li id="outlier-claim-${esc(c.id)}"${c.shown ? '' : ' class="not-shown"'}>${esc(c.text)}</li>`,
  );
  const head = [
    'recipe',
    'N',
    'val loss',
    ...report.variants.map((v) => `δ ${v}`),
    'outlier dims',
    'max |x|',
    'act. kurtosis',
    'weight kurtosis',
    'fp16 skipped steps',
  ];
  const rows = report.runs.map(
    (r) =>
      `<tr><td class="text">${esc(r.recipe)}</td><td>${r.N.toLocaleString('en-US')}</td><td>${num(r.valLoss)}</td>${report.variants.map((v) => `<td>${num(r.deltas[v])}</td>`).join('')}<td>${num(r.outlierDims)}</td><td>${num(r.actMaxAbs, 3)}</td><td>${num(r.actKurtosis, 3)}</td><td>${num(r.weightKurtosis, 3)}</td><td>${num(r.overflowSteps)}</td></tr>`,
  );
  const effects = report.effects.map(
    (e) =>
      `<tr${e.lo > 0 || e.hi < 0 ? ' class="moved"' : ''}><td class="text">${esc(e.change)}</td><td class="text">${esc(e.metric)}</td><td>${num(e.mean, 3)}</td><td>[${num(e.lo, 3)}, ${num(e.hi, 3)}]</td><td>${e.pairs}</td></tr>`,
  );
  return `<h2 id="outliers">Outliers and the training recipe</h2>
<p class="muted">Ahmadian et al.: whether W8A8 and weight-only PTQ degrade with size depends on the training recipe, through activation outlier dimensions (LLM.int8 criterion). δ_PTQ is the validation loss after quantization minus before (nats/token).</p>
<ul id="outlier-claims">${claims.join('')}</ul>
${outlierCharts(report)
  .map((c) => chart(c.id))
  .join('')}
<table id="outlier-runs"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
<h3>What each recipe setting changes</h3>
<p class="muted">Mean paired difference (runs equal in everything else), 95% t interval; rows in bold exclude 0.</p>
<table id="recipe-effects"><thead><tr><th>change</th><th>quantity</th><th>mean difference</th><th>95% interval</th><th>pairs</th></tr></thead><tbody>${effects.join('')}</tbody></table>`;
}
