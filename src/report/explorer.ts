// The explorer page written next to the report: sliders for N, D, P_w, P_a, P_kv and P_post show the
// predicted loss with its interval, delta_PTQ and P*, computed in the page by the laws module itself
// (bundled for the browser with esbuild), so the numbers are those of `bitscale predict` / `optimize`.
// A CSV of runs dropped on the page is fitted there with any form. One self-contained file, no requests.

import { fileURLToPath } from 'node:url';
import type { FittedLaw } from '../laws/index.ts';
import { esc } from './svg/xml.ts';

export interface ExplorerFit {
  title: string;
  fit: FittedLaw;
}

/** The laws module as one browser script defining the global `bitscaleLaws`. */
export async function bundleLaws(): Promise<string> {
  const { build } = await import('esbuild');
  const entry = fileURLToPath(new URL('../laws/index.ts', import.meta.url));
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    globalName: 'bitscaleLaws',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

/** Slider ranges: log10 for N and D, bits for precisions (the top stop of a precision slider is "inf"). */
const SLIDERS = [
  { id: 'N', label: 'parameters N (log10)', min: 3, max: 12, step: 0.01, value: 8 },
  { id: 'D', label: 'tokens D (log10)', min: 5, max: 14, step: 0.01, value: 10 },
  { id: 'Pw', label: 'weights P_w (bits)', min: 1, max: 33, step: 1, value: 33 },
  { id: 'Pa', label: 'activations P_a (bits)', min: 1, max: 33, step: 1, value: 33 },
  { id: 'Pkv', label: 'KV cache P_kv (bits)', min: 1, max: 33, step: 1, value: 33 },
  { id: 'Ppost', label: 'after training P_post (bits)', min: 1, max: 33, step: 1, value: 33 },
];

export function explorerHtml(title: string, fits: readonly ExplorerFit[], lawsBundle: string): string {
  // JSON cannot hold Infinity (fit ranges, levels): the page reads null back as unbounded where it matters.
  const data = JSON.stringify(fits).replace(/</g, '\\u003c');
  const sliders = SLIDERS.map(
    (s) =>
      `<label>${esc(s.label)} <input type="range" id="${s.id}" min="${s.min}" max="${s.max}" step="${s.step}" value="${s.value}"> <output id="${s.id}-value"></output></label>`,
  ).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} — explorer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 900px; padding: 0 1rem; color: #222; }
label { display: grid; grid-template-columns: 16rem 1fr 7rem; align-items: center; gap: 0.5rem; margin: 0.3rem 0; }
#results { font-size: 1.1rem; margin: 1rem 0; } #results dt { font-weight: 600; } #results dd { margin: 0 0 0.5rem 0; }
#drop { border: 2px dashed #aaa; padding: 1rem; margin-top: 2rem; } .error { color: #b00; }
</style></head>
<body>
<h1>${esc(title)} — explorer</h1>
<p>Every number here is computed in the page by bitscale's laws module, the code behind <code>bitscale predict</code> and <code>bitscale optimize</code>.</p>
<label>law <select id="law"></select></label>
${sliders}
<dl id="results">
<dt>predicted loss</dt><dd><span id="loss"></span> <span id="interval"></span></dd>
<dt>δ_PTQ (loss after PTQ to P_post − before)</dt><dd id="delta-ptq"></dd>
<dt>P* at C = 6·N·D (all parts at P, C = 6·N·D·P/16)</dt><dd id="p-star"></dd>
</dl>
<div id="drop"><strong>Fit your own runs:</strong> drop a CSV (columns N, D, Pw, …, loss) here or choose one
<input type="file" id="csv" accept=".csv"> with form <input id="form" value="chinchilla" size="28">
<button id="fit">fit</button> <span id="fit-status"></span></div>
<script>${lawsBundle}</script>
<script>
const L = bitscaleLaws;
const fits = ${data};
const law = document.getElementById('law');
const text = (id, t) => { document.getElementById(id).textContent = t; };
function addFit(title, fit) {
  fits.push({ title, fit });
  const o = document.createElement('option'); o.value = String(fits.length - 1); o.textContent = title; law.appendChild(o);
}
fits.splice(0).forEach((f) => addFit(f.title, f.fit));
function value(id) {
  const s = document.getElementById(id); const v = Number(s.value);
  if (id === 'N' || id === 'D') return Math.pow(10, v);
  return v >= Number(s.max) ? Infinity : v;
}
function update() {
  const fit = fits[Number(law.value)].fit;
  const model = new L.LossModel(fit);
  const point = {};
  for (const id of ${JSON.stringify(SLIDERS.map((s) => s.id))}) {
    const v = value(id);
    text(id + '-value', Number.isFinite(v) ? (id === 'N' || id === 'D' ? v.toExponential(3) : String(v)) : 'inf');
    document.getElementById(id).disabled = !model.variables.includes(id);
    if (model.variables.includes(id)) point[id] = v;
  }
  document.getElementById('results').dataset.point = JSON.stringify(point);
  try {
    const [p] = model.predict([point]);
    text('loss', p.loss.toFixed(4));
    text('interval', p.lower === undefined ? '(no bootstrap: no interval)' : '[' + p.lower.toFixed(4) + ', ' + p.upper.toFixed(4) + ']');
    if (model.variables.includes('Ppost')) {
      const [before] = model.predict([{ ...point, Ppost: Infinity }]);
      text('delta-ptq', (p.loss - before.loss).toFixed(4));
    } else text('delta-ptq', 'this law has no P_post');
    const why = L.undecidable(fit);
    if (why) text('p-star', 'cannot decide: ' + why);
    else {
      const fixed = model.variables.includes('Ppost') ? { Ppost: point.Ppost } : {};
      const o = L.computeOptimal(fit, 6 * point.N * point.D, { fixed });
      const extra = (o.extrapolated || []).map((e) => e.variable).join(', ');
      text('p-star', (o.P === undefined ? 'no training precision in this law' : o.P.toFixed(2) + ' bits') +
        ', N* = ' + o.N.toExponential(3) + ', D* = ' + o.D.toExponential(3) + (extra ? ' (extrapolation: ' + extra + ')' : ''));
    }
  } catch (err) { text('loss', 'error: ' + err.message); }
}
function fitCsv(csv) {
  try {
    const table = L.parseCsv(csv);
    const name = document.getElementById('form').value;
    const first = table.records[0] || {};
    const levels = name.trim() === 'efficiency' ? [...new Set(table.records.map((r) => Number(r.Pw)))] : undefined;
    const parts = ['w', 'a', 'kv'].filter((p) => ('P' + p) in first);
    const form = L.formByName(name, { levels, parts: parts.length ? parts : undefined });
    const data = L.datasetFromRows(table.records, form.variables, { rowNumbers: table.lines });
    const result = L.fitLaw(form, data, { maxStarts: 500, bootstrap: 50 });
    addFit('your runs: ' + name, result);
    law.value = String(fits.length - 1);
    text('fit-status', 'fitted on ' + result.points + ' runs' + (result.warnings.length ? '; ' + result.warnings.join('; ') : ''));
    update();
  } catch (err) { text('fit-status', err.message); document.getElementById('fit-status').className = 'error'; }
}
let lastCsv = '';
const readFile = (file) => file.text().then((t) => { lastCsv = t; fitCsv(t); });
document.getElementById('csv').addEventListener('change', (e) => e.target.files[0] && readFile(e.target.files[0]));
document.getElementById('fit').addEventListener('click', () => lastCsv && fitCsv(lastCsv));
const drop = document.getElementById('drop');
drop.addEventListener('dragover', (e) => e.preventDefault());
drop.addEventListener('drop', (e) => { e.preventDefault(); if (e.dataTransfer.files[0]) readFile(e.dataTransfer.files[0]); });
window.bitscaleFitCsv = fitCsv;
document.querySelectorAll('input[type=range]').forEach((s) => s.addEventListener('input', update));
law.addEventListener('change', update);
if (fits.length > 0) update();
</script>
</body></html>
`;
}
