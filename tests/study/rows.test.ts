// From run-store records to the report's run table, through the study's own path (studyRows, studyReportInput):
// the metric names the job kinds write, the trainer's N, diverged runs kept in the table but out of the fits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitInputs } from '../../src/report/fit-inputs.ts';
import { RunStore } from '../../src/store/run-store.ts';
import { analyzeStudy } from '../../src/study/analyze.ts';
import { studyReportInput } from '../../src/study/report-input.ts';
import { studyRows } from '../../src/study/rows.ts';
import { expandSweep } from '../../src/sweep/expand.ts';
import { validateSweepSpec } from '../../src/sweep/spec.ts';

test('store records become report rows: PTQ rows carry delta_PTQ, diverged runs are excluded from fits', () => {
  const spec = validateSweepSpec({
    name: 'x',
    grid: { model: [{ d_model: 64, n_layers: 2, n_heads: 4 }], tokens: [1000], precision: ['fp32', 'int4'] },
    ptq: { precisions: ['int8'], methods: ['gptq'] },
  });
  const jobs = expandSweep(spec);
  const store = RunStore.open(':memory:');
  store.addJobs(jobs);
  const finish = (id: string, status: 'done' | 'diverged', metrics: Record<string, number>) => {
    const c = store.claim(id);
    assert.ok(c.ok);
    store.finish(c.claim, { status, metrics, artifacts: [] });
  };
  const [fp32, fp32ptq, int4] = jobs;
  const trained = { N: 98_304, D: 1000, Pw: 32, Pa: 32, Pkv: 32, valLoss: 3.1 };
  finish(fp32.id, 'done', trained);
  finish(fp32ptq.id, 'done', { ...trained, Ppost: 8, valLoss: 3.15, baseValLoss: 3.1, deltaPtq: 0.05 });
  finish(int4.id, 'diverged', { N: 98_304, D: 1000, Pw: 4, Pa: 32, Pkv: 32, valLoss: Number.NaN });
  const records = store.list();
  store.close();

  const analysis = analyzeStudy(studyRows(records), { bootstrap: 0, seed: 0, holdout: 0 });
  const rows = studyReportInput(analysis, 'x').runs;
  assert.equal(rows.length, 3, 'the int4 run diverged, so its PTQ job never ran');
  const ptqRow = rows.find((r) => r.id === fp32ptq.id)!;
  assert.deepEqual(
    [ptqRow.N, ptqRow.D, ptqRow.P_post, ptqRow.deltaPtq, ptqRow.method, ptqRow.loss],
    [98_304, 1000, 8, 0.05, 'gptq', 3.15],
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
  assert.ok(!analysis.fits.some((f) => f.rows.some((r) => r.id === int4.id)), 'no fit sees the diverged run');
});
