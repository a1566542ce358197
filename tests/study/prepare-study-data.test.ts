// A study prepares each streamed corpus its training jobs name once, before any job starts, and finds it
// prepared the next time; small corpora are left to the jobs. The dry run lists a preset's jobs and costs
// them from the recorded throughput without running or writing anything.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dryRunStudy } from '../../src/study/dry-run.ts';
import { prepareStudyData } from '../../src/study/prepare-study-data.ts';
import { makeJob } from '../../src/sweep/job.ts';
import type { SweepPlan } from '../../src/sweep/plan.ts';

function trainJob(corpus: string, d: number) {
  return makeJob('train', {
    model: { d_model: d, n_layers: 1, n_heads: 2, context: 32 },
    tokens: 10_000,
    precision: { w: 'fp32', a: 'fp32', kv: 'fp32' },
    seed: 0,
    train: { corpus, vocabSize: 300 },
  });
}

test('streamed corpora are prepared once for the whole study; small ones are left to the jobs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-study-data-'));
  const corpus = join(dir, 'docs.jsonl');
  const lines = Array.from({ length: 400 }, (_, i) =>
    JSON.stringify({ text: `Document ${i}: the cat sat on mat ${i % 7}.` }),
  );
  writeFileSync(corpus, `${lines.join('\n')}\n`);
  const plan = {
    name: 't',
    jobs: [trainJob(corpus, 16), trainJob(corpus, 32), trainJob('tinystories', 16)],
  } as SweepPlan;
  const cache = join(dir, 'cache');
  const log: string[] = [];
  await prepareStudyData(plan, cache, (l) => log.push(l));
  assert.equal(log.length, 1, `one corpus prepared: ${log.join(' | ')}`);
  assert.match(log[0], /docs\.jsonl prepared, \d+ training tokens/);
  assert.ok(existsSync(cache) && readdirSync(cache).length > 0);
  const again: string[] = [];
  await prepareStudyData(plan, cache, (l) => again.push(l));
  assert.match(again[0], /already prepared/);
});

test('--dry-run lists the jobs and their GPU-hours from measured throughput, and writes nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-dry-run-'));
  const throughput = join(dir, 'throughput.json');
  writeFileSync(
    throughput,
    JSON.stringify({
      overheadSeconds: 2,
      flopsPerSecond: 1e14,
      ptqSeconds: 2,
      trainRuns: 9,
      ptqRuns: 9,
      devices: 1,
    }),
  );
  const d = dryRunStudy('experiments/gpu-small.yaml', throughput);
  assert.equal(d.jobs.filter((j) => j.kind === 'train').length, 54);
  assert.equal(d.jobs.filter((j) => j.kind === 'ptq').length, 324);
  assert.deepEqual(d.backends, ['cuda']);
  assert.ok(d.estimate && d.estimate.hours > 0 && d.estimate.ptqHours === (324 * 2) / 3600);
  assert.equal(readdirSync(dir).length, 1, 'nothing written');
  assert.equal(dryRunStudy('experiments/gpu-small.yaml').estimate, null);
  writeFileSync(throughput, '{}');
  assert.throws(
    () => dryRunStudy('experiments/gpu-small.yaml', throughput),
    /--throughput: .* no positive flopsPerSecond/,
  );
});
