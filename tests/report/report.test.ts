import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fitInputs } from '../../src/report/fit-inputs.ts';
import { runRowsFromRecords } from '../../src/report/from-store.ts';
import { renderReport } from '../../src/report/html.ts';
import { writeReport } from '../../src/report/write.ts';
import { RunStore } from '../../src/store/run-store.ts';
import { expandSweep } from '../../src/sweep/expand.ts';
import { validateSweepSpec } from '../../src/sweep/spec.ts';
import { sampleInput } from './fixtures/sample-input.ts';

test('the HTML report is self-contained and has every section of issue 9', () => {
  const { html, charts } = renderReport(sampleInput());
  assert.deepEqual(
    charts.map((c) => c.id),
    [
      'loss-vs-N',
      'loss-vs-D',
      'loss-vs-bits',
      'fitted-vs-observed',
      'residuals',
      'delta-ptq-vs-D',
      'loss-vs-precision',
    ],
  );
  for (const c of charts) assert.ok(html.includes(`<figure id="chart-${c.id}"><svg`), c.id);
  assert.ok(!/(src|href)=["']?(https?:)?\/\//.test(html), 'no external resources');
  assert.ok(!/<script|<link/.test(html), 'no scripts or linked files');
  assert.match(html, /id="parameters".*>C_T<.*\[0\.05, 0\.07\]/s);
  assert.match(html, /held-out error 1\.2%/);
  const runTable = html.slice(html.indexOf('<table id="runs">'));
  assert.equal((runTable.match(/<tr><td /g) ?? []).length, sampleInput().runs.length, 'one row per run');
  assert.match(
    html,
    /id="excluded-runs"><strong>1 diverged run excluded from all fits:<\/strong><ul><li><code>bad001<\/code>/,
  );
  const precisionChart = charts.find((c) => c.id === 'loss-vs-precision')!.svg;
  assert.match(precisionChart, /optimal \d+ bits/);
  assert.equal((precisionChart.match(/<polygon /g) ?? []).length, 2, 'one interval band per compute budget');
});

test('with no diverged runs there is no exclusion notice', () => {
  const input = sampleInput();
  input.runs = input.runs.filter((r) => r.status !== 'diverged');
  assert.ok(!renderReport(input).html.includes('excluded-runs'));
});

test('writeReport writes index.html and one .svg per chart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-report-'));
  const out = await writeReport(sampleInput(), dir, { png: false });
  assert.equal(out.svgs.length, 7);
  assert.match(readFileSync(out.svgs[0], 'utf8'), /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg /);
  assert.equal(out.pngSkipped, 'not asked for');
});

test('run rows from the store: diverged runs are excluded from fit inputs, PTQ rows carry delta_PTQ', () => {
  const spec = validateSweepSpec({
    name: 'x',
    grid: { model: [{ d_model: 64, n_layers: 2, n_heads: 4 }], tokens: [1000], precision: ['fp32', 'int4'] },
    ptq: { precisions: ['int8'], methods: ['gptq'] },
  });
  const jobs = expandSweep(spec);
  const store = RunStore.open(':memory:');
  store.addJobs(jobs);
  const finish = (id: string, status: 'done' | 'diverged', metrics: Record<string, number | null>) => {
    const c = store.claim(id);
    assert.ok(c.ok);
    store.finish(c.claim, { status, metrics, artifacts: [] });
  };
  const [fp32, fp32ptq, int4] = jobs;
  finish(fp32.id, 'done', { loss: 3.1 });
  finish(fp32ptq.id, 'done', { loss: 3.15, delta_ptq: 0.05 });
  finish(int4.id, 'diverged', { loss: null });
  const rows = runRowsFromRecords(store.list());
  assert.equal(rows.length, 4);
  const ptqRow = rows.find((r) => r.id === fp32ptq.id)!;
  assert.deepEqual(
    [ptqRow.N, ptqRow.D, ptqRow.P_post, ptqRow.deltaPtq, ptqRow.method],
    [12 * 2 * 64 * 64, 1000, 8, 0.05, 'gptq'],
  );
  assert.equal(rows.find((r) => r.id === int4.id)!.P_w, 4);
  const inputs = fitInputs(rows);
  assert.deepEqual(
    inputs.train.map((r) => r.id),
    [fp32.id],
  );
  assert.deepEqual(
    inputs.ptq.map((r) => r.id),
    [fp32ptq.id],
  );
  assert.deepEqual(
    inputs.excluded.map((r) => r.id),
    [int4.id],
  );
  store.close();
});
