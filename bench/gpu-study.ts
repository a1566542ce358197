// The precision study on GPUs, measured: jobs per hour and the fraction of time each GPU is busy (nvidia-smi's
// utilization, sampled every 0.5 s), for one GPU and for several on the same spec in one run; and the PTQ time
// of one job on cuda against the same job on cpu.
//   node --import tsx bench/gpu-study.ts [spec] [--gpus 0 --gpus 0,1] [--jobs-per-gpu 2]
// Writes bench/results/gpu-study.json and ends with one JSON line per figure.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import { RunStore } from '../src/store/run-store.ts';
import { runStudy } from '../src/study/run-study.ts';
import { type Figure, figure, machineDescription } from './machine.ts';

const args = process.argv.slice(2);
const spec =
  args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 'bench/gpu-study.yaml';
const variants = args.flatMap((a, i) => (args[i - 1] === '--gpus' ? [a] : []));
if (variants.length === 0) variants.push('0', '0,1');
const perGpuAt = args.indexOf('--jobs-per-gpu');
const jobsPerGpu = perGpuAt >= 0 ? Number(args[perGpuAt + 1]) : 2;

/** Samples nvidia-smi's utilization.gpu of every GPU until stopped; returns the mean per GPU id. */
function sampleUtilization(): () => Promise<Record<string, number>> {
  const child = spawn(
    'nvidia-smi',
    ['--query-gpu=index,utilization.gpu', '--format=csv,noheader,nounits', '-lms', '500'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const samples: Record<string, number[]> = {};
  let tail = '';
  child.stdout.on('data', (d: Buffer) => {
    const lines = (tail + d.toString()).split('\n');
    tail = lines.pop() ?? '';
    for (const line of lines) {
      const [id, util] = line.split(',').map((s) => s.trim());
      if (/^\d+$/.test(id) && util !== undefined && Number.isFinite(Number(util)))
        (samples[id] ??= []).push(Number(util) / 100);
    }
  });
  return () =>
    new Promise((resolve) => {
      child.once('exit', () =>
        resolve(
          Object.fromEntries(
            Object.entries(samples).map(([id, s]) => [id, s.reduce((a, b) => a + b, 0) / s.length]),
          ),
        ),
      );
      child.kill('SIGTERM');
    });
}

interface VariantResult {
  gpus: string;
  jobsPerGpu: number;
  jobs: number;
  failed: number;
  seconds: number;
  jobsPerHour: number;
  utilization: Record<string, number>;
  meanPtqSeconds: number;
  meanTrainSeconds: number;
  dir: string;
}

async function runVariant(gpus: string): Promise<VariantResult> {
  const dir = mkdtempSync(join(tmpdir(), `bitscale-gpu-study-${gpus.replace(',', '-')}-`));
  const stop = sampleUtilization();
  const started = performance.now();
  const result = await runStudy({ spec, dir, gpus, jobsPerGpu, coresPerJob: 4, analysis: { bootstrap: 0 } });
  const seconds = (performance.now() - started) / 1000;
  const utilization = await stop();
  const store = RunStore.open(join(dir, 'bitscale.db'));
  const records = store.list({});
  store.close();
  const wall = (kind: string) => {
    const rs = records.filter((r) => r.kind === kind && r.startedAt && r.finishedAt);
    return rs.reduce((s, r) => s + (r.finishedAt! - r.startedAt!) / 1000, 0) / Math.max(1, rs.length);
  };
  const used = gpus.split(',');
  const jobs = result.execution.counts.done + result.execution.counts.diverged;
  const v: VariantResult = {
    gpus,
    jobsPerGpu,
    jobs,
    failed: result.execution.counts.failed,
    seconds,
    jobsPerHour: (jobs / seconds) * 3600,
    utilization: Object.fromEntries(used.map((id) => [id, utilization[id] ?? Number.NaN])),
    meanPtqSeconds: wall('ptq'),
    meanTrainSeconds: wall('train'),
    dir,
  };
  console.error(JSON.stringify(v));
  for (const f of result.execution.failures) console.error(`failed ${f.kind} ${f.id}: ${f.reason}`);
  return v;
}

/** Wall seconds of `bitscale ptq` on one run, in its own process (the job as a worker runs it). */
function timePtq(runDir: string, backend: string, method: string): number {
  const cli = process.env.BITSCALE_CLI ?? 'bin/bitscale.mjs';
  const started = performance.now();
  execFileSync(
    process.execPath,
    [cli, 'ptq', runDir, '--format', 'int4', '--method', method, '--backend', backend],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CUDA_VISIBLE_DEVICES: '0' } },
  );
  return (performance.now() - started) / 1000;
}

const results: VariantResult[] = [];
for (const gpus of variants) results.push(await runVariant(gpus));

const gpuName = execFileSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], {
  encoding: 'utf8',
})
  .split('\n')[0]
  .trim();
const machine = `${results.at(-1)!.gpus.split(',').length}x ${gpuName}; host ${machineDescription()}`;
const figures: Figure[] = [];
const one = results.find((r) => r.gpus.split(',').length === 1);
for (const r of results) {
  const n = r.gpus.split(',').length;
  const f = figure(
    `gpu-study jobs/hour on ${n} GPU(s)`,
    r.jobsPerHour,
    n > 1 && one ? one.jobsPerHour : null,
    'jobs/h',
  );
  figures.push({ ...f, machine });
  const busy = Object.values(r.utilization);
  figures.push({
    ...figure(
      `gpu-study GPU busy fraction, ${n} GPU(s)`,
      busy.reduce((a, b) => a + b, 0) / busy.length,
      null,
      'fraction',
    ),
    machine,
  });
}

// PTQ of one finished training run: the same job on cuda and on cpu (GPTQ and RTN to int4).
const store = RunStore.open(join(results[0].dir, 'bitscale.db'));
const trained = store.list({ kind: 'train' }).filter((r) => r.status === 'done');
store.close();
const largest = trained.sort((a, b) => Number(b.metrics?.N ?? 0) - Number(a.metrics?.N ?? 0))[0];
const runDir = join(results[0].dir, 'runs', largest.id);
const ptq: Record<string, number> = {};
for (const method of ['rtn', 'gptq']) {
  for (const backend of ['cuda', 'cpu']) ptq[`${method}/${backend}`] = timePtq(runDir, backend, method);
  figures.push({
    ...figure(
      `gpu-study PTQ ${method} int4 job, N=${largest.metrics?.N}`,
      ptq[`${method}/cuda`],
      ptq[`${method}/cpu`],
      's',
      false,
    ),
    machine,
  });
}

writeFileAtomic(
  'bench/results/gpu-study.json',
  `${JSON.stringify({ machine, date: new Date().toISOString(), spec, variants: results, ptqSeconds: ptq, figures }, null, 2)}\n`,
);
for (const f of figures) console.log(JSON.stringify(f));
