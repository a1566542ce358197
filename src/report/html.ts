// The report as one self-contained HTML page: inline CSS, inline SVG charts, no scripts, no external
// requests, so it can be mailed or archived and still open anywhere.

import { buildCharts } from './charts.ts';
import { fitInputs } from './fit-inputs.ts';
import { outlierCharts, outlierSection } from './outliers-section.ts';
import { renderChart } from './svg/chart.ts';
import { esc } from './svg/xml.ts';
import type { ReportInput, RunRow } from './types.ts';

export interface RenderedReport {
  html: string;
  charts: { id: string; title: string; svg: string }[];
}

const css = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
figure { display: inline-block; margin: 0.5rem; vertical-align: top; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; }
th { background: #f5f5f5; } td.text { text-align: left; font-family: ui-monospace, monospace; }
.notice { background: #fff4e5; border: 1px solid #f0b35a; padding: 0.6rem 1rem; border-radius: 4px; }
.muted { color: #777; }
#findings li, #outlier-claims li { margin: 0.3rem 0; }
#findings li.not-shown, #outlier-claims li.not-shown { color: #8a5a00; } tr.moved td { font-weight: bold; }
.flag { color: #b00; font-size: 0.8rem; }
`;

export function renderReport(input: ReportInput): RenderedReport {
  const named = [...buildCharts(input), ...(input.outliers ? outlierCharts(input.outliers) : [])];
  const charts = named.map((c) => ({ id: c.id, title: c.spec.title, svg: renderChart(c.spec) }));
  const chart = (id: string) => {
    const c = charts.find((x) => x.id === id);
    return c ? `<figure id="chart-${c.id}">${c.svg}</figure>` : '';
  };
  const { train, ptq, excluded } = fitInputs(input.runs);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${css}</style></head>
<body>
<h1>${esc(input.title)}</h1>
<p class="muted">Generated ${esc(input.generatedAt)} · ${input.runs.length} runs (${train.length} training and ${ptq.length} PTQ runs used in fits)</p>
${(input.notes ?? []).map((n) => `<p>${esc(n)}</p>`).join('\n')}
${excludedNotice(excluded)}
${input.explorer?.length ? '<p><a id="explorer-link" href="explorer.html">Explore the fitted laws</a>: sliders for N, D and precisions, predicted loss with its interval, δ_PTQ and P*; fit your own CSV in the page.</p>' : ''}
<h2>Findings</h2>
${findingsList(input)}
${rangesLine(input)}
${(input.sections ?? []).map((s) => `<h2 id="${esc(s.id)}">${esc(s.title)}</h2>\n${s.html}`).join('\n')}
<h2>Loss against N, D and training precision</h2>
${chart('loss-vs-N')}${chart('loss-vs-D')}${chart('loss-vs-bits')}
<h2>Fit quality</h2>
${qualityList(input)}
${chart('fitted-vs-observed')}${chart('residuals')}
<h2>Post-training quantization</h2>
${chart('delta-ptq-vs-D')}${chart('critical-data-vs-N')}
${input.outliers ? outlierSection(input.outliers, chart) : ''}
<h2>Compute-optimal training precision</h2>
${decisionText(input)}
${chart('p-star-vs-compute')}${chart('loss-vs-precision')}
<h2>Fitted parameters</h2>
${parametersTable(input)}
<h2>Runs</h2>
${runTable(input.runs)}
</body></html>
`;
  return { html, charts };
}

function findingsList(input: ReportInput): string {
  const findings = input.findings ?? [];
  if (findings.length === 0) return '<p class="muted">No findings were computed for this report.</p>';
  const items = findings.map(
    (f) => `<li id="finding-${esc(f.id)}"${f.shown ? '' : ' class="not-shown"'}>${esc(f.text)}</li>`,
  );
  return `<ul id="findings">${items.join('')}</ul>`;
}

function rangesLine(input: ReportInput): string {
  const r = Object.entries(input.ranges ?? {});
  if (r.length === 0) return '';
  const text = r.map(([v, [lo, hi]]) => `${v} ${fmt(lo)}..${fmt(hi)}`).join(', ');
  return `<p id="ranges">Measured ranges: ${esc(text)}. Answers outside them are extrapolations and are marked so.</p>`;
}

function qualityList(input: ReportInput): string {
  const items = input.fits.map((f) => {
    const q = f.quality;
    const quality = q
      ? `mean |log residual| ${(100 * q.meanAbsLog).toFixed(1)}%, R² ${fmt(q.r2)}${q.describes ? '' : ' — the form does not describe the data'}`
      : 'quality not measured';
    const warnings = (f.warnings ?? []).map((w) => `<li class="flag">${esc(w)}</li>`).join('');
    return `<li>${esc(f.form)}: ${esc(quality)}${warnings ? `<ul>${warnings}</ul>` : ''}</li>`;
  });
  return items.length > 0 ? `<ul id="fit-quality">${items.join('')}</ul>` : '';
}

function decisionText(input: ReportInput): string {
  const d = input.decision;
  if (!d) return '';
  if (d.undecided)
    return `<p id="decision" class="notice">Cost model: ${esc(d.cost)}. Not decided: ${esc(d.undecided)}.</p>`;
  return `<p id="decision">Cost model: ${esc(d.cost)}. The chart draws the answers of <code>bitscale optimize</code> with this cost model; points outside the measured precisions are extrapolations, drawn with the nearest answer inside.</p>`;
}

function excludedNotice(excluded: RunRow[]): string {
  if (excluded.length === 0) return '';
  const items = excluded.map(
    (r) => `<li><code>${esc(r.id)}</code> — N=${fmt(r.N)}, D=${fmt(r.D)}, ${esc(r.precision)}</li>`,
  );
  return `<div class="notice" id="excluded-runs"><strong>${excluded.length} diverged run${excluded.length > 1 ? 's' : ''} excluded from all fits:</strong><ul>${items.join('')}</ul></div>`;
}

function parametersTable(input: ReportInput): string {
  if (input.fits.length === 0) return '<p class="muted">No fits yet.</p>';
  const rows = input.fits.flatMap((f) =>
    f.parameters.map(
      (p, i) =>
        `<tr>${i === 0 ? `<td class="text" rowspan="${f.parameters.length}">${esc(f.form)}<br><span class="muted">${f.runs} runs${f.heldOutError !== undefined ? `, held-out error ${(f.heldOutError * 100).toFixed(1)}%` : ''}</span></td>` : ''}<td class="text">${esc(p.name)}</td><td>${fmt(p.value)}</td><td>${p.lo !== undefined && p.hi !== undefined ? `[${fmt(p.lo)}, ${fmt(p.hi)}]` : '—'}${p.flag ? ` <span class="flag">${p.flag === 'at-bound' ? 'at its bound' : 'bootstrap never moved it'}</span>` : ''}</td><td>${p.profileLo !== undefined && p.profileHi !== undefined ? `[${fmt(p.profileLo)}, ${fmt(p.profileHi)}]` : '—'}</td></tr>`,
    ),
  );
  return `<table id="parameters"><thead><tr><th>form</th><th>parameter</th><th>value</th><th>95% bootstrap</th><th>95% profile</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function runTable(runs: RunRow[]): string {
  const head = ['id', 'kind', 'status', 'N', 'D', 'precision', 'P_post', 'method', 'seed', 'loss', 'δ_PTQ'];
  const rows = runs.map(
    (r) =>
      `<tr><td class="text">${esc(r.id)}</td><td class="text">${r.kind}</td><td class="text">${r.status}</td><td>${fmt(r.N)}</td><td>${fmt(r.D)}</td><td class="text">${esc(r.precision)}</td><td class="text">${esc(r.ptqPrecision ?? '')}</td><td class="text">${esc(r.method ?? '')}</td><td>${r.seed}</td><td>${r.loss === null ? '—' : r.loss.toFixed(4)}</td><td>${r.deltaPtq == null ? '' : r.deltaPtq.toFixed(4)}</td></tr>`,
  );
  return `<table id="runs"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? x.toExponential(3) : String(Number(x.toPrecision(5)));
}
