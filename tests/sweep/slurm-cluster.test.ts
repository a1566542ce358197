// The Slurm executor against a real Slurm (Debian's slurm-wlm and munge on localhost, see scripts/slurm/):
// a tiny study submitted as job arrays, one training task requeued while it runs, and the final store equal
// to the local executor's on the same spec. Uses the cluster $SLURM_CONF names, or starts one for the test
// with scripts/slurm/start.sh. Skips only where Slurm is not installed and CI is not set.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { readResultFile } from '../../src/store/result-file.ts';
import { type RunRecord, RunStore } from '../../src/store/run-store.ts';
import { LocalExecutor } from '../../src/sweep/local-executor.ts';
import { planSweep } from '../../src/sweep/plan.ts';
import { resultsDirOf, SlurmExecutor } from '../../src/sweep/slurm-executor.ts';
import { loadSweepSpec } from '../../src/sweep/spec.ts';

const run = promisify(execFile);
const scripts = join(import.meta.dirname, '..', '..', 'scripts', 'slurm');
const ci = Boolean(process.env.CI) && process.env.CI !== 'false';

const has = (program: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** A running cluster's SLURM_CONF: the one given, or one started here (stopped after the tests). */
function cluster(): string | null {
  const given = process.env.SLURM_CONF;
  if (given && existsSync(given)) return given;
  if (!has('slurmctld')) {
    if (ci)
      assert.fail('CI is set but Slurm is not installed: .ci/run starts it with scripts/slurm/start.sh');
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-slurm-cluster-'));
  after(() => execFileSync('bash', [join(scripts, 'stop.sh'), dir], { stdio: 'ignore' }));
  const out = execFileSync('bash', [join(scripts, 'start.sh'), dir], { encoding: 'utf8' });
  const conf = /SLURM_CONF=(\S+)/.exec(out)?.[1];
  assert.ok(conf, `scripts/slurm/start.sh printed no SLURM_CONF: ${out}`);
  return conf;
}

const conf = cluster();
const skip = conf
  ? false
  : 'slurmctld is not installed (apt-get install slurm-wlm munge, or set CI to make this a failure)';

// Two training runs (fp32 and int3 weights) of several seconds each on the CPU (long enough to be killed mid-run), each quantized to int4.
const spec = `
name: tiny
seeds: [0]
train: { corpus: tinystories, vocabSize: 512, batchSize: 8, lr: 0.005, warmupSteps: 5, evalTokens: 2048, checkpointEvery: 0 }
grid:
  model: [{ d_model: 16, n_layers: 1, n_heads: 2, context: 32 }]
  tokens: [65536]
  precision: [fp32, { w: int3, a: fp32, kv: fp32 }]
ptq: { precisions: [int4], methods: [rtn], settings: { evalTokens: 2048 } }
`;

/** What must match between executors: everything but timings. */
function comparable(records: RunRecord[]) {
  return records
    .map((r) => ({
      id: r.id,
      kind: r.kind,
      status: r.status,
      metrics: Object.fromEntries(Object.entries(r.metrics ?? {}).filter(([k]) => !/second/i.test(k))),
      // The same weights, bit for bit; the metrics log holds timings, so only its presence is compared.
      artifacts: r.artifacts.map((a) => (a.name === 'checkpoint' ? `checkpoint ${a.sha256}` : a.name)),
    }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

function storeRecords(path: string): RunRecord[] {
  const store = RunStore.open(path);
  try {
    return store.list();
  } finally {
    store.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for a task of the sweep's first array to be mid-way through its training job, requeues it (Slurm
 * kills it and queues it again) and lets it start again at once. Returns the requeued task's run id.
 */
async function requeueOneRunningTask(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const { stdout } = await run('squeue', ['-h', '-r', '-n', 'bitscale-tiny-w0', '-o', '%F %K %t'], { env });
    const running = stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[2] === 'R');
    if (running) {
      const [arrayId, task] = running;
      const jobFile = readFileSync(join(dir, 'slurm', 'wave-0.list'), 'utf8').split('\n')[Number(task)];
      const id = JSON.parse(readFileSync(jobFile, 'utf8')).id as string;
      const log = join(dir, 'runs', id, 'job.log');
      while (!(existsSync(log) && readFileSync(log, 'utf8').includes('start train'))) await sleep(100);
      assert.equal(readResultFile(join(dir, 'results', `${id}.json`)), null, 'the task finished too soon');
      const taskId = `${arrayId}_${task}`;
      await run('scontrol', ['requeue', taskId], { env });
      const requeuedAt = Date.now();
      // A requeued job waits out a begin-time delay; let it start as soon as it may. Not sooner: slurmd
      // revokes the killed attempt's credential with a time in whole seconds, and refuses ("Job credential
      // revoked", the task then ends with no result) a restart within that second; the old attempt also has
      // KillWait (2 s) to die. Slurm's own delay is far longer than this.
      for (;;) {
        const { stdout: state } = await run('squeue', ['-h', '-r', '-j', taskId, '-o', '%t %r'], { env });
        if (state.startsWith('PD')) {
          await sleep(Math.max(0, requeuedAt + 3_000 - Date.now()));
          await run('scontrol', ['update', `JobId=${taskId}`, 'StartTime=now'], { env });
          return id;
        }
        await sleep(200);
      }
    }
    await sleep(200);
  }
  throw new Error('no task of the first array ever ran');
}

test('a study on a real Slurm, with a task requeued mid-run, ends with the local executor`s store', {
  skip,
  timeout: 300_000,
}, async () => {
  const env = { ...process.env, SLURM_CONF: conf!, BITSCALE_THREADS: '1' };
  const root = mkdtempSync(join(tmpdir(), 'bitscale-slurm-study-'));
  const specPath = join(root, 'tiny.yaml');
  writeFileSync(specPath, spec);
  const taskEnv = { BITSCALE_THREADS: '1', BITSCALE_CACHE: join(root, 'cache') };

  const localPlan = planSweep(loadSweepSpec(specPath), { dir: join(root, 'local') });
  const local = await new LocalExecutor({ maxWorkers: 2, onProgress: null, env: taskEnv }).execute(localPlan);
  assert.deepEqual(local.failures, []);
  assert.equal(local.counts.done, 4);

  const slurmPlan = planSweep(loadSweepSpec(specPath), { dir: join(root, 'slurm') });
  const previousConf = process.env.SLURM_CONF;
  process.env.SLURM_CONF = conf!; // sbatch and squeue, called by the executor, read it from here
  try {
    const executor = new SlurmExecutor({ env: taskEnv, pollMs: 500, onProgress: null });
    const execution = executor.execute(slurmPlan);
    const requeued = await requeueOneRunningTask(join(root, 'slurm'), env);
    const report = await execution;

    assert.equal(report.submitted?.length, 2, 'one array for training, one for PTQ');
    assert.deepEqual(report.failures, []);
    assert.deepEqual(report.blocked, []);
    assert.equal(report.counts.done, 4);

    // The requeued task was killed mid-run (attempt 1 started and never finished) and ran again.
    const log = readFileSync(join(root, 'slurm', 'runs', requeued, 'job.log'), 'utf8');
    assert.match(log, new RegExp(`\\[${requeued} #1\\] start train`));
    assert.doesNotMatch(log, new RegExp(`\\[${requeued} #1\\] finished`));
    assert.match(log, new RegExp(`\\[${requeued} #2\\] finished: done`));
    assert.equal(readResultFile(join(resultsDirOf(slurmPlan), `${requeued}.json`))?.attempt, 2);

    const slurmRecords = storeRecords(slurmPlan.storePath);
    assert.equal(slurmRecords.find((r) => r.id === requeued)?.attempts, 2);
    assert.deepEqual(comparable(slurmRecords), comparable(storeRecords(localPlan.storePath)));

    // Running the sweep again submits nothing: every run is done and its artifacts check out.
    const again = await executor.execute(slurmPlan);
    assert.deepEqual(again.submitted, []);
    assert.equal(again.counts.done, 4);
  } finally {
    if (previousConf === undefined) delete process.env.SLURM_CONF;
    else process.env.SLURM_CONF = previousConf;
  }
});
