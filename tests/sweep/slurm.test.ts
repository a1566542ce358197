import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RunStore } from '../../src/store/run-store.ts';
import { planSweep } from '../../src/sweep/plan.ts';
import { jobWaves, SlurmExecutor } from '../../src/sweep/slurm-executor.ts';
import {
  countBy,
  fixtureCli,
  readLedger,
  syntheticKinds,
  syntheticSpec,
} from './fixtures/synthetic-sweep.ts';

const command = `${process.execPath} --import tsx ${fixtureCli}`;

test('the sbatch script runs array task i as `bitscale job <i-th job file> --results <dir>`', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-slurm-'));
  const plan = planSweep(syntheticSpec(dir), { dir });
  const executor = new SlurmExecutor({
    command,
    cpusPerTask: 4,
    gpusPerTask: 1,
    maxParallel: 3,
    partition: 'gpu',
    timeLimit: '01:00:00',
    extraDirectives: ['--account=proj', '#SBATCH --mem=1G'],
    kindModules: [syntheticKinds],
  });
  const waves = executor.writeScripts(plan);
  assert.deepEqual(
    waves.map((w) => w.jobs.map((j) => j.kind)),
    [Array(4).fill('train'), Array(4).fill('ptq')],
  );
  const script = readFileSync(waves[0].scriptPath, 'utf8');
  for (const line of [
    '#SBATCH --array=0-3%3',
    '#SBATCH --cpus-per-task=4',
    '#SBATCH --partition=gpu',
    '#SBATCH --time=01:00:00',
    '#SBATCH --gpus-per-task=1',
    '#SBATCH --account=proj',
    '#SBATCH --mem=1G',
    '#SBATCH --requeue',
    `JOB_FILE=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${waves[0].listPath})`,
    `exec ${command} job "$JOB_FILE" --results ${join(dir, 'results')} --runs ${plan.runsDir} --cores "\${SLURM_CPUS_PER_TASK:-4}" --kinds ${syntheticKinds}`,
  ]) {
    assert.ok(script.split('\n').includes(line), `missing line: ${line}\n${script}`);
  }
  const list = readFileSync(waves[0].listPath, 'utf8').trim().split('\n');
  assert.deepEqual(
    list,
    waves[0].jobs.map((j) => join(plan.jobsDir, `${j.id}.json`)),
  );
});

test('jobs are grouped into waves by dependency depth', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-slurm-'));
  const jobs = planSweep(syntheticSpec(dir, { ptq: ['int4', 'int8'] }), { dir }).jobs;
  const waves = jobWaves(jobs);
  assert.equal(waves.length, 2);
  assert.ok(waves[0].every((j) => j.deps.length === 0));
  assert.ok(waves[1].every((j) => j.deps.every((d) => waves[0].some((t) => t.id === d))));
});

test('submitting through a fake sbatch that runs the array tasks here completes the sweep', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-slurm-'));
  const bin = join(dir, 'bin');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(bin);
  symlinkSync(join(import.meta.dirname, 'fixtures', 'fake-sbatch.sh'), join(bin, 'sbatch'));
  // The fake sbatch runs the tasks before it returns, so the queue is always empty.
  symlinkSync('/bin/true', join(bin, 'squeue'));
  process.env.PATH = `${bin}:${process.env.PATH}`;
  process.env.FAKE_SBATCH_LOG = join(dir, 'sbatch.log');

  const plan = planSweep(syntheticSpec(dir, { divergePrecision: 'int4' }), { dir });
  const executor = new SlurmExecutor({
    command,
    kindModules: [syntheticKinds],
    onProgress: null,
    pollMs: 50,
  });
  const report = await executor.execute(plan);
  assert.equal(report.submitted?.length, 2);
  const calls = readFileSync(join(dir, 'sbatch.log'), 'utf8').trim().split('\n');
  assert.match(calls[0], /^--parsable .*wave-0\.sbatch$/);
  assert.equal(
    calls[1],
    `--parsable --dependency=afterany:${report.submitted![0]} ${join(dir, 'slurm', 'wave-1.sbatch')}`,
  );
  // int4 training diverges, so its PTQ jobs stay pending (they report themselves blocked).
  assert.deepEqual(report.counts, { pending: 2, running: 0, done: 4, failed: 0, diverged: 2 });
  assert.equal(report.blocked.length, 2);
  // The tasks never opened the store: what it holds came from their result files.
  const store = RunStore.open(plan.storePath);
  assert.ok(store.list().every((r) => r.status === 'pending' || r.attempts === 1));
  store.close();

  // Running the sweep again submits only the two blocked PTQ jobs; nothing finished is redone.
  const before = readLedger(dir).length;
  const again = await executor.execute(plan);
  assert.equal(again.submitted?.length, 1);
  assert.equal(readLedger(dir).length, before);
  assert.ok([...countBy(readLedger(dir), 'complete').values()].every((n) => n === 1));
});
