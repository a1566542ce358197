// The main job end to end on a tiny spec: train the grid and quantize it after training in worker processes,
// fit the laws from the run store's real rows, and write the report the CLI writes. About 20 s on 2 cores.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeReport } from '../../src/report/write.ts';
import { RunStore } from '../../src/store/run-store.ts';
import { studyReportInput } from '../../src/study/report-input.ts';
import { runStudy } from '../../src/study/run-study.ts';
import { studyValidator } from '../../src/study/validator.ts';
import { expandSweep } from '../../src/sweep/expand.ts';
import { loadSweepSpec } from '../../src/sweep/spec.ts';

const spec = 'tests/study/fixtures/mini.yaml';
const dir = mkdtempSync(join(tmpdir(), 'bitscale-study-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a tiny precision study trains, quantizes, fits and reports from its own runs', async () => {
  const planned = expandSweep(loadSweepSpec(spec, studyValidator));
  const result = await runStudy({ spec, dir, maxWorkers: 2, analysis: { bootstrap: 20 } });

  // Every planned job ran to completion.
  assert.deepEqual(result.execution.failures, []);
  assert.deepEqual(result.execution.blocked, []);
  assert.equal(result.execution.counts.done, planned.length);
  const { rows } = result.analysis;
  assert.deepEqual(rows.map((r) => r.id).sort(), planned.map((j) => j.id).sort());
  assert.ok(rows.every((r) => r.status === 'done' && Number.isFinite(r.loss) && r.loss > 0 && r.loss < 10));

  // The trainer's own N and D, not an estimate from the spec: two model sizes, two token budgets.
  const train = rows.filter((r) => r.kind === 'train');
  assert.equal(new Set(train.map((r) => r.N)).size, 2);
  assert.deepEqual(
    [...new Set(train.map((r) => r.D))].sort((a, b) => a - b),
    [8192, 16384],
  );
  assert.deepEqual(
    [...new Set(train.map((r) => r.Pw))].sort((a, b) => a - b),
    [3, 32],
  );

  // Each PTQ row measures delta_PTQ against its own training run at int4.
  const ptq = rows.filter((r) => r.kind === 'ptq');
  assert.equal(ptq.length, train.length);
  for (const r of ptq) {
    const source = train.find((t) => t.id === r.source);
    assert.ok(source, `${r.id} names its training run`);
    assert.equal(r.Ppost, 4);
    assert.ok(Number.isFinite(r.deltaPtq), `${r.id} carries delta_PTQ`);
    assert.ok(Math.abs(r.loss - source.loss - r.deltaPtq!) < 1e-3, `${r.id}: loss = source loss + delta_PTQ`);
  }

  // The fits that have enough runs have parameters; the others say why not.
  const fitted = result.analysis.fits.filter((f) => f.result);
  assert.ok(
    fitted.some((f) => f.name === 'precision'),
    'the precision law is fitted',
  );
  for (const f of fitted) {
    for (const [k, v] of Object.entries(f.result!.params)) assert.ok(Number.isFinite(v), `${f.name}.${k}`);
  }
  for (const f of result.analysis.fits.filter((f) => !f.result))
    assert.match(f.skipped ?? '', /needs at least/);
  const saved = JSON.parse(readFileSync(result.analysisPath, 'utf8'));
  assert.equal(saved.rows.length, rows.length);

  // The report the CLI writes, from the same analysis.
  const input = studyReportInput(result.analysis, 'mini');
  assert.equal(input.runs.length, rows.length);
  assert.ok(input.runs.filter((r) => r.kind === 'ptq').every((r) => typeof r.deltaPtq === 'number'));
  const written = await writeReport(input, join(dir, 'report'), { png: false });
  assert.ok(existsSync(written.html));
  const html = readFileSync(written.html, 'utf8');
  for (const id of ['loss-vs-N', 'loss-vs-D', 'fitted-vs-observed', 'delta-ptq-vs-D']) {
    assert.ok(html.includes(`<figure id="chart-${id}"><svg`), `chart ${id}`);
    assert.ok(existsSync(join(dir, 'report', 'charts', `${id}.svg`)), `${id}.svg`);
  }
  assert.equal((html.slice(html.indexOf('<table id="runs">')).match(/<tr><td /g) ?? []).length, rows.length);
});

test('running the study again resumes: nothing is trained twice', async () => {
  const finished = () => {
    const store = RunStore.open(join(dir, 'bitscale.db'));
    try {
      return store.list().map((r) => `${r.id} ${r.attempts} ${r.finishedAt}`);
    } finally {
      store.close();
    }
  };
  const before = finished();
  const again = await runStudy({ spec, dir, maxWorkers: 2, analysis: { bootstrap: 20 } });
  assert.equal(again.execution.counts.done, before.length);
  assert.deepEqual(finished(), before);
});
