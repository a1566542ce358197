// The outlier study end to end at test size: recipes (weight decay x dtype) trained with statistics on, W8 / W8A8
// (with and without LLM.int8) PTQ, the analysis's recipe effects and claims, and the report section.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeReport } from '../../src/report/write.ts';
import { meanInterval, spearman, variantLabel } from '../../src/study/outliers.ts';
import { studyReportInput } from '../../src/study/report-input.ts';
import { runStudy } from '../../src/study/run-study.ts';

const spec = 'tests/study/fixtures/outliers-mini.yaml';
const dir = mkdtempSync(join(tmpdir(), 'bitscale-outliers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a tiny outlier study: statistics, activation PTQ, recipe effects and the report section', async () => {
  const result = await runStudy({ spec, dir, maxWorkers: 2, analysis: { bootstrap: 0 } });
  assert.deepEqual(result.execution.failures, []);
  const report = result.analysis.outliers;
  assert.ok(report, 'the analysis has an outlier section');
  assert.deepEqual(report.variants, ['W8A8', 'W8A8 + LLM.int8']);
  assert.equal(report.runs.length, 8);
  for (const r of report.runs) {
    assert.ok(r.actMaxAbs !== null && r.actMaxAbs > 0, `${r.id} has activation statistics`);
    assert.ok(r.weightKurtosis !== null && r.outlierDims !== null);
    for (const v of report.variants) assert.ok(r.deltas[v] !== null, `${r.id}: ${v}`);
    assert.equal(r.overflowSteps !== null, r.settings.dtype === 'fp16', 'fp16 runs count skipped steps');
  }
  // Weight decay and dtype vary in pairs equal in all else: 4 pairs each, an effect per quantity.
  const wd = report.effects.filter((e) => e.setting === 'weightDecay');
  assert.ok(wd.length >= report.variants.length && wd.every((e) => e.pairs === 4));
  assert.equal(wd[0].change, 'weight decay 0 → 0.1');
  assert.ok(report.effects.some((e) => e.change === 'dtype bf16 → fp16'));
  // The effect is the mean of the paired differences, recomputed here from the rows.
  const w8a8 = wd.find((e) => e.metric === 'δ W8A8')!;
  const key = (r: (typeof report.runs)[number]) => `${r.N} ${r.settings.dtype}`;
  const diffs = report.runs
    .filter((r) => r.settings.weightDecay === 0)
    .map((a) => {
      const b = report.runs.find((r) => r.settings.weightDecay === 0.1 && key(r) === key(a))!;
      return (b.deltas.W8A8 as number) - (a.deltas.W8A8 as number);
    });
  assert.ok(Math.abs(w8a8.mean - diffs.reduce((s, x) => s + x, 0) / diffs.length) < 1e-12);
  for (const c of report.claims) console.log(`${c.shown ? '+' : '-'} ${c.text}`);
  const ids = report.claims.map((c) => c.id);
  for (const id of [
    'cliff-W8A8',
    'weight-decay',
    'dtype',
    'decomposition',
    'moves-weightDecay',
    'fp16-overflow',
  ])
    assert.ok(ids.includes(id), `claim ${id}`);

  // Activation PTQ is not what the precision laws predict: it stays out of their rows.
  assert.equal(result.analysis.rows.filter((r) => r.kind === 'ptq').length, 0);

  const written = await writeReport(studyReportInput(result.analysis, 'outliers-mini'), join(dir, 'report'), {
    png: false,
  });
  assert.ok(existsSync(written.html));
  const html = readFileSync(written.html, 'utf8');
  assert.ok(html.includes('<h2 id="outliers">Outliers and the training recipe</h2>'));
  assert.equal((html.match(/<li id="outlier-claim-/g) ?? []).length, report.claims.length);
  for (const id of ['outliers-delta-w8a8-vs-N', 'outliers-max-abs-vs-N']) {
    assert.ok(html.includes(`<figure id="chart-${id}"><svg`), `chart ${id}`);
    assert.ok(existsSync(join(dir, 'report', 'charts', `${id}.svg`)), `${id}.svg`);
  }
  assert.equal(
    (html.slice(html.indexOf('<table id="outlier-runs">')).match(/<tr><td class="text">wd /g) ?? []).length,
    8,
  );
});

test('the statistics behind the claims', () => {
  const i = meanInterval([1, 2, 3]);
  assert.ok(i);
  assert.equal(i.mean, 2);
  // sd 1, n 3: half width t(2) / sqrt(3) = 4.303 / 1.732.
  assert.ok(Math.abs(i.hi - 2 - 4.303 / Math.sqrt(3)) < 1e-9);
  assert.equal(meanInterval([1]), null);
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.equal(spearman([1, 1, 1], [1, 2, 3]), null);
  assert.equal(
    variantLabel({ precision: 'int8', method: 'rtn', activations: 'int8', decompose: true }),
    'W8A8 + LLM.int8',
  );
  assert.equal(variantLabel({ precision: 'int4', method: 'rtn' }), 'W4');
  assert.equal(variantLabel({ precision: 'fp8_e4m3', method: 'rtn' }), 'W fp8_e4m3');
});
