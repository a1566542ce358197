// The report's findings are computed from the data: a sentence states an effect only when the data show
// it, with its numbers; the charts draw fitted curves at the slice of the points shown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderReport } from '../../src/report/html.ts';
import { analyzeStudy } from '../../src/study/analyze.ts';
import { studyReportInput } from '../../src/study/report-input.ts';
import { studyRows } from './fixtures/study-rows.ts';

const options = { bootstrap: 10, seed: 1, holdout: 0.2, tieExponents: false, profile: false };

test('delta_PTQ growing with D is stated with its numbers when the data show it, and denied when not', () => {
  const grows = studyReportInput(analyzeStudy(studyRows(), options), 'grows');
  const g = grows.findings?.find((f) => f.id === 'delta-ptq-vs-D');
  assert.ok(g?.shown, g?.text);
  assert.match(g.text, /^δ_PTQ grows with the data .* at fixed N = 3M: int8 rtn from [\d.e-]+ at D = 10M to/);
  assert.match(g.text, /Fitted γ_D = [\d.]+ \[[\d.]+, [\d.]+\]/);

  const flat = studyReportInput(analyzeStudy(studyRows({ gammaD: 0 }), options), 'flat');
  const f = flat.findings?.find((x) => x.id === 'delta-ptq-vs-D');
  assert.ok(f && !f.shown, f?.text);
  assert.match(f.text, /^The data do not show δ_PTQ growing with the training data/);
  const { html } = renderReport(flat);
  assert.ok(!html.includes('δ_PTQ grows with the data'), 'no unconditional claim');
  assert.match(html, /<li id="finding-delta-ptq-vs-D" class="not-shown">The data do not show/);
});

test('loss ordered by precision, held-out error per law, and the undecided all-parts P* are findings', () => {
  const input = studyReportInput(analyzeStudy(studyRows(), options), 'weights only');
  const order = input.findings?.find((f) => f.id === 'precision-order');
  assert.ok(order?.shown, order?.text);
  assert.match(
    order.text,
    /in all 12 \(N, D\) cells.*mean loss w fp32 [\d.]+, w int4 [\d.]+, w int3 [\d.]+, w int2/,
  );
  for (const name of ['chinchilla', 'precision', 'ptq', 'unified']) {
    const h = input.findings?.find((f) => f.id === `held-out-${name}`);
    assert.match(h?.text ?? '', /held-out error [\d.]+% \(max [\d.]+%\) on the \d+ largest runs/);
  }
  const decision = input.findings?.find((f) => f.id === 'optimal-precision');
  assert.ok(decision && !decision.shown);
  assert.match(decision.text, /not decided .*varied only Pw/);
  const { html, charts } = renderReport(input);
  assert.match(html, /id="decision" class="notice">Cost model: compute C = 6·N·D·P\/16/);
  assert.ok(!charts.some((c) => c.id === 'p-star-vs-compute'), 'no P* chart without an answer');
});

test('all parts quantized together: P* against compute is drawn from the CLI optimizer, extrapolations marked', () => {
  const input = studyReportInput(analyzeStudy(studyRows({ allParts: true }), options), 'all parts');
  assert.equal(input.decision?.undecided, undefined);
  assert.equal(input.decision?.answers.length, 5);
  const { charts } = renderReport(input);
  assert.ok(charts.some((c) => c.id === 'p-star-vs-compute'));
  for (const a of input.decision?.answers ?? []) {
    const finding = input.findings?.find((f) => f.text.startsWith(`At C = ${a.compute.toExponential(1)}`));
    assert.ok(finding, `a finding per budget ${a.compute}`);
    if (a.extrapolated.length > 0) assert.match(finding.text, /an extrapolation/);
    assert.match(finding.text, /P\* = [\d.]+ bits \[[\d.]+, [\d.]+\] over the bootstrap refits/);
  }
});

test('fitted curves are drawn at the slice of the points shown: one per D in loss-vs-N, per N in loss-vs-D', () => {
  const input = studyReportInput(analyzeStudy(studyRows(), options), 'slices');
  const byN = input.curves.filter((c) => c.panel === 'loss-vs-N').map((c) => c.series);
  assert.deepEqual(byN, ['D = 10M', 'D = 30M', 'D = 100M']);
  const byD = input.curves.filter((c) => c.panel === 'loss-vs-D').map((c) => c.series);
  assert.deepEqual(byD, ['N = 100k', 'N = 300k', 'N = 1M', 'N = 3M']);
  // Each point of the loss-vs-N chart lies near the curve of its own D (interpolated in log N).
  for (const run of input.runs.filter((r) => r.kind === 'train' && r.precision === 'w fp32')) {
    const curve = input.curves.find((c) => c.panel === 'loss-vs-N' && c.series === `D = ${run.D / 1e6}M`);
    assert.ok(curve, `curve for D = ${run.D}`);
    const k = curve.points.findIndex((p) => p.x >= run.N);
    const [a, b] = [curve.points[k - 1], curve.points[k]];
    const t = Math.log(run.N / a.x) / Math.log(b.x / a.x);
    const y = a.y + t * (b.y - a.y);
    assert.ok(Math.abs(y / (run.loss ?? 0) - 1) < 0.02, `N=${run.N} D=${run.D}: curve ${y} vs ${run.loss}`);
  }
  const { charts } = renderReport(input);
  const ids = charts.map((c) => c.id);
  for (const id of [
    'loss-vs-N',
    'loss-vs-D',
    'loss-vs-bits',
    'residuals',
    'delta-ptq-vs-D',
    'critical-data-vs-N',
  ])
    assert.ok(ids.includes(id), id);
});

test('gpu-small-like grid: loss against bits shows the all-parts runs with curves at all parts = P', () => {
  const input = studyReportInput(analyzeStudy(studyRows({ gpu: true }), options), 'gpu');
  assert.equal(input.bitsSlice, 'all-parts');
  const { charts } = renderReport(input);
  const svg = charts.find((c) => c.id === 'loss-vs-bits')?.svg ?? '';
  assert.match(svg, /all parts at P/);
  // 4 sizes x 4 all-parts precisions (bf16, int8, int4, int3) at the largest D: 16 points, no weights-only run.
  assert.equal((svg.match(/<circle /g) ?? []).length, 16);
  assert.ok(input.findings?.some((f) => f.id === 'delta-ptq-vs-D' && f.shown));
});
