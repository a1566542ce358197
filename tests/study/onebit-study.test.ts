// The OneBit experiment through the study machinery at CPU size: a spec's onebit section becomes
// onebit-distill jobs run by worker processes, and the analysis and report compare the students with the
// teacher, RTN 1-bit, GPTQ int2 and BitNet b1.58 trained from scratch.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readPackedModel } from '../../src/onebit/packed-file.ts';
import { retention } from '../../src/onebit/retention.ts';
import { writeReport } from '../../src/report/write.ts';
import { RunStore } from '../../src/store/run-store.ts';
import { studyReportInput } from '../../src/study/report-input.ts';
import { runStudy } from '../../src/study/run-study.ts';
import { studyValidator } from '../../src/study/validator.ts';
import { expandSweep } from '../../src/sweep/expand.ts';
import { loadSweepSpec, parseSweepSpec } from '../../src/sweep/spec.ts';

const spec = 'tests/study/fixtures/onebit-mini.yaml';
const dir = mkdtempSync(join(tmpdir(), 'bitscale-onebit-study-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a onebit section expands to students of the full-precision runs only, plus their RTN 1-bit', () => {
  const jobs = expandSweep(loadSweepSpec(spec, studyValidator));
  const teacher = jobs.find((j) => j.kind === 'train' && (j.config.precision as { w: string }).w === 'fp32')!;
  const students = jobs.filter((j) => j.kind === 'onebit-distill');
  assert.equal(students.length, 3);
  assert.ok(students.every((s) => s.config.teacher === teacher.id && s.deps.join() === teacher.id));
  const rtn1 = jobs.filter((j) => j.kind === 'ptq' && j.config.precision === 'binary');
  assert.deepEqual(
    rtn1.map((j) => j.config.source),
    [teacher.id],
  );
  assert.equal(new Set(jobs.map((j) => j.id)).size, jobs.length);
});

test('a bad onebit section names the field', () => {
  const base = 'name: x\ngrid: { model: [{ d_model: 32, n_layers: 1, n_heads: 2 }], tokens: [1000] }\n';
  const cases: [string, RegExp][] = [
    ['onebit: { students: [{}] }', /sweep\.onebit\.tokens: is required/],
    [
      'onebit: { tokens: [10], students: [{ init: pca }] }',
      /sweep\.onebit\.students\[0\]\.init: "pca" is not one of svid-nmf/,
    ],
    ['onebit: { tokens: [10], students: [{ loss: kl }] }', /sweep\.onebit\.students\[0\]\.loss: "kl"/],
    [
      'onebit: { tokens: [10], distill: { gamma: 1 } }',
      /sweep\.onebit\.distill\.gamma: is not a known field/,
    ],
    [
      'onebit: { tokens: [10], distill: { beta: -1 } }',
      /sweep\.onebit\.distill\.beta: -1 is not a non-negative/,
    ],
    [
      'onebit: { tokens: [10], train: { tokens: 5 } }',
      /sweep\.onebit\.train\.tokens: is not a student optimizer/,
    ],
    ['onebit: { tokens: [10], train: { learning_rate: 1 } }', /sweep\.onebit\.train\.learning_rate/],
  ];
  for (const [section, message] of cases)
    assert.throws(() => parseSweepSpec(base + section, { validator: studyValidator }), message, section);
});

test('the OneBit study runs its jobs and reports retention, ablations and baselines from them', async () => {
  const planned = expandSweep(loadSweepSpec(spec, studyValidator));
  const result = await runStudy({ spec, dir, maxWorkers: 2, analysis: { bootstrap: 0 } });
  assert.deepEqual(result.execution.failures, []);
  assert.equal(result.execution.counts.done, planned.length);
  const c = result.analysis.onebit!;
  assert.equal(c.teachers.length, 1);
  const t = c.teachers[0];
  const by = (kind: string, init?: string, loss?: string) =>
    t.entries.filter((e) => e.kind === kind && (!init || e.init === init) && (!loss || e.loss === loss));
  const [svid] = by('onebit', 'svid-nmf', 'distill');
  const [random] = by('onebit', 'random', 'distill');
  const rtn1 = t.entries.find((e) => e.label.startsWith('RTN 1-bit'))!;
  assert.equal(by('onebit').length, 3);
  assert.equal(by('bitnet').length, 1);
  assert.equal(by('ptq').length, 2);
  // Retention is recomputed here from the losses the store holds.
  const store = RunStore.open(join(dir, 'bitscale.db'));
  const record = store.get(svid.id)!;
  store.close();
  const m = record.metrics as Record<string, number>;
  assert.ok(Math.abs(svid.retention - retention(m.teacherValLoss, m.valLoss, 512).gainKept) < 1e-12);
  assert.ok(svid.linearBits > 1 && svid.linearBits < 2);
  assert.ok(svid.valLoss < random.valLoss && svid.valLoss < rtn1.valLoss, JSON.stringify(t.entries));
  const packed = record.artifacts.find((a) => a.name === 'packed')!;
  assert.equal(readPackedModel(packed.path).linears.size, 7 * 2);

  const input = studyReportInput(result.analysis, 'onebit-mini');
  const ids = (input.findings ?? []).map((f) => f.id);
  for (const prefix of ['onebit-retention-', 'onebit-init-', 'onebit-distill-', 'onebit-baselines-'])
    assert.ok(
      ids.some((id) => id.startsWith(prefix)),
      `${prefix} in ${ids}`,
    );
  // The retention finding names the student's loss and the teacher's own (the one it was scored against).
  const main = input.findings!.find((f) => f.id.startsWith('onebit-retention-'))!;
  assert.ok(main.text.includes(`against the teacher's ${m.teacherValLoss.toFixed(3)} nats/token`), main.text);
  const init = input.findings!.find((f) => f.id.startsWith('onebit-init-'))!;
  assert.ok(
    init.shown &&
      init.text.includes(svid.valLoss.toFixed(3)) &&
      init.text.includes(random.valLoss.toFixed(3)),
  );
  const written = await writeReport(input, join(dir, 'report'), { png: false });
  const html = readFileSync(written.html, 'utf8');
  assert.ok(html.includes('<h2 id="onebit">'));
  assert.equal((html.match(/<tr class="onebit-/g) ?? []).length, t.entries.length);
  assert.ok(existsSync(result.analysisPath));
  assert.ok(
    JSON.parse(readFileSync(result.analysisPath, 'utf8')).onebit.teachers[0].entries.length ===
      t.entries.length,
  );
});
