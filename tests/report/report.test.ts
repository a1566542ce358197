import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderReport } from '../../src/report/html.ts';
import { writeReport } from '../../src/report/write.ts';
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
