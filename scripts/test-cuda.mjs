#!/usr/bin/env node
// `npm run test:cuda` or plain `node scripts/test-cuda.mjs` on a machine with an NVIDIA GPU: builds the CUDA addon,
// runs every CUDA test (tests/cuda) and the op suite on the GPU (BITSCALE_BACKEND=cuda, BITSCALE_CUDA_MATMUL=fp32:
// the exact kernels the 1e-4 tolerance of tests/tensor/backends.test.ts is for), and appends one record (commit,
// GPU, driver, pass/fail counts per suite, date) to bench/results/cuda-tests.json, since CI has no GPU.
// A skipped CUDA test is a failure here: on this machine nothing is allowed to be missing.
// Options: --no-build (use the addon already built), --out <file> (another record file).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The suites: test files and the environment they run in. */
export const suites = [
  {
    name: 'cuda kernels',
    files: readdirSync(join(root, 'tests/cuda'))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => `tests/cuda/${f}`),
    env: {},
  },
  {
    name: 'op suite on cuda (fp32 matmul)',
    files: ['tests/tensor/backends.test.ts', 'tests/nn/transformer.test.ts'],
    env: { BITSCALE_BACKEND: 'cuda', BITSCALE_CUDA_MATMUL: 'fp32' },
    // backends.test.ts runs cuda only when the addon loads: demand that it did.
    mustInclude: /^ok \d+ - cuda matches js64/m,
  },
];

/** The counts of node's TAP reporter summary (# tests, # pass, ...). Missing lines count as null. */
export function parseTapSummary(tap) {
  const count = (key) => {
    const m = new RegExp(`^# ${key} (\\d+)`, 'm').exec(tap);
    return m ? Number(m[1]) : null;
  };
  return {
    tests: count('tests'),
    pass: count('pass'),
    fail: count('fail'),
    cancelled: count('cancelled'),
    skipped: count('skipped'),
    todo: count('todo'),
  };
}

/** Why a suite's run is not a pass, or null. `exitCode` is the test runner's. */
export function suiteProblem(suite, tap, exitCode) {
  const c = parseTapSummary(tap);
  if (c.tests === null || c.pass === null) return 'no test summary (the test runner did not finish)';
  if (c.tests === 0) return 'no tests ran';
  if (c.fail > 0) return `${c.fail} failed`;
  if (c.cancelled > 0) return `${c.cancelled} cancelled`;
  if (c.skipped > 0 || c.todo > 0)
    return `${c.skipped + c.todo} skipped (every CUDA test must run on a GPU machine)`;
  if (suite.mustInclude && !suite.mustInclude.test(tap)) return `no test matched ${suite.mustInclude}`;
  if (exitCode !== 0) return `the test runner exited with ${exitCode}`;
  return null;
}

/** GPU name and driver from `nvidia-smi --query-gpu=name,driver_version --format=csv,noheader` (first GPU). */
export function parseNvidiaSmi(csv) {
  const line = csv.split('\n').find((l) => l.trim());
  const parts = line?.split(',').map((s) => s.trim());
  if (!parts || parts.length < 2 || !parts[0] || !parts[1])
    throw new Error(`cannot read nvidia-smi output: ${csv}`);
  return { gpu: parts[0], driver: parts[1], gpus: csv.split('\n').filter((l) => l.trim()).length };
}

/** Appends a record to a JSON array file (created if missing), atomically; refuses to overwrite a broken file. */
export async function appendRecord(path, record) {
  let records = [];
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8');
    try {
      records = JSON.parse(text);
    } catch (e) {
      throw new Error(`${path} is not valid JSON (${e.message}); fix or move it, the record was not written`);
    }
    if (!Array.isArray(records)) throw new Error(`${path} must hold a JSON array of records`);
  }
  records.push(record);
  // The project's one atomic writer (temp file, fsync, rename), loaded through tsx so no npm script is needed.
  const { register } = await import('tsx/esm/api');
  register();
  const { writeFileAtomic } = await import('../src/base/atomic-write.ts');
  writeFileAtomic(path, `${JSON.stringify(records, null, 2)}\n`);
  return records.length;
}

function commit() {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      encoding: 'utf8',
    });
    return { commit: sha, dirty: dirty.trim().length > 0 };
  } catch {
    return { commit: 'unknown (not a git checkout)', dirty: null };
  }
}

/** Runs test files with node's TAP reporter, echoing the output; resolves with the TAP text and exit code. */
function runTests(files, env) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=1', ...files],
      { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let tap = '';
    child.stdout.on('data', (chunk) => {
      tap += chunk;
      process.stdout.write(chunk);
    });
    child.on('close', (code, signal) => resolve({ tap, exitCode: code ?? `signal ${signal}` }));
  });
}

async function main(args) {
  const out = args.includes('--out')
    ? args[args.indexOf('--out') + 1]
    : join(root, 'bench/results/cuda-tests.json');
  const fail = (message) => {
    console.error(`test:cuda: ${message}`);
    process.exit(1);
  };
  if (!existsSync(join(root, 'node_modules/tsx')))
    fail('node_modules/tsx is missing: run `npm install` once');
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], {
    encoding: 'utf8',
  });
  if (smi.error || smi.status !== 0)
    fail(
      `no NVIDIA GPU here (nvidia-smi: ${smi.error?.message ?? smi.stderr.trim()}); run this on the GPU machine`,
    );
  const { gpu, driver, gpus } = parseNvidiaSmi(smi.stdout);
  const record = {
    date: new Date().toISOString(),
    ...commit(),
    gpu,
    driver,
    gpus,
    node: process.version,
    build: 'skipped (--no-build)',
    suites: [],
  };
  const finish = async (ok) => {
    record.ok = ok;
    const n = await appendRecord(out, record);
    console.log(`test:cuda: ${ok ? 'PASS' : 'FAIL'}; record ${n} in ${out}`);
    process.exit(ok ? 0 : 1);
  };

  if (!args.includes('--no-build')) {
    console.log('test:cuda: building the CUDA addon (bash native/cuda/build.sh)');
    const build = spawnSync('bash', [join(root, 'native/cuda/build.sh')], { cwd: root, stdio: 'inherit' });
    record.build = build.status === 0 ? 'ok' : `failed (exit ${build.status ?? build.signal})`;
    if (build.status !== 0) return finish(false);
  }
  for (const suite of suites) {
    console.log(`test:cuda: ${suite.name}: ${suite.files.join(' ')}`);
    const { tap, exitCode } = await runTests(suite.files, suite.env);
    const problem = suiteProblem(suite, tap, exitCode);
    record.suites.push({
      name: suite.name,
      files: suite.files,
      env: suite.env,
      ...parseTapSummary(tap),
      problem,
    });
    console.log(`test:cuda: ${suite.name}: ${problem ?? 'pass'}`);
  }
  for (const key of ['pass', 'fail', 'skipped'])
    record[key] = record.suites.reduce((s, x) => s + (x[key] ?? 0), 0);
  return finish(record.suites.every((s) => s.problem === null));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main(process.argv.slice(2));
