// The parts of scripts/test-cuda.mjs that run without a GPU: reading the test runner's and nvidia-smi's output,
// deciding pass or fail (a skipped CUDA test fails), appending records safely, and refusing a machine with no GPU.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  appendRecord,
  parseNvidiaSmi,
  parseTapSummary,
  suiteProblem,
  suites,
} from '../../scripts/test-cuda.mjs';

const dir = mkdtempSync(join(tmpdir(), 'bitscale-test-cuda-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tap = (counts: Record<string, number>, lines = '') =>
  `TAP version 13\n${lines}${Object.entries(counts)
    .map(([k, v]) => `# ${k} ${v}`)
    .join('\n')}\n# duration_ms 12.5\n`;
const all = { tests: 3, pass: 3, fail: 0, cancelled: 0, skipped: 0, todo: 0 };

test('the TAP summary is read; a missing summary reads as null', () => {
  assert.deepEqual(parseTapSummary(tap(all)), all);
  assert.equal(parseTapSummary('TAP version 13\nok 1 - x\n').pass, null);
});

test('a suite passes only when every test ran and passed', () => {
  const kernels = suites[0];
  assert.ok(kernels.files.length >= 2 && kernels.files.every((f: string) => f.startsWith('tests/cuda/')));
  assert.equal(suiteProblem(kernels, tap(all), 0), null);
  assert.match(suiteProblem(kernels, tap({ ...all, pass: 2, fail: 1 }), 1) ?? '', /1 failed/);
  assert.match(suiteProblem(kernels, tap({ ...all, pass: 0, skipped: 3 }), 0) ?? '', /3 skipped/);
  assert.match(suiteProblem(kernels, tap({ ...all, tests: 0, pass: 0 }), 0) ?? '', /no tests ran/);
  assert.match(suiteProblem(kernels, 'TAP version 13\n', null) ?? '', /did not finish/);
  assert.match(suiteProblem(kernels, tap(all), 'signal SIGKILL') ?? '', /exited with signal SIGKILL/);
  // The op suite must have run its cuda cases, not only the cpu ones.
  const ops = suites[1];
  assert.equal(ops.env.BITSCALE_BACKEND, 'cuda');
  assert.equal(ops.env.BITSCALE_CUDA_MATMUL, 'fp32');
  assert.match(suiteProblem(ops, tap(all, 'ok 1 - cpu matches js64: add\n'), 0) ?? '', /no test matched/);
  assert.equal(suiteProblem(ops, tap(all, 'ok 1 - cuda matches js64: add\n'), 0), null);
});

test('nvidia-smi: name and driver of the first GPU, and how many there are', () => {
  assert.deepEqual(parseNvidiaSmi('NVIDIA H100 80GB HBM3, 580.159.04\nNVIDIA H100 80GB HBM3, 580.159.04\n'), {
    gpu: 'NVIDIA H100 80GB HBM3',
    driver: '580.159.04',
    gpus: 2,
  });
  assert.throws(() => parseNvidiaSmi(''), /cannot read nvidia-smi output/);
});

test('records are appended to a JSON array; a broken file is left alone', async () => {
  const path = join(dir, 'results', 'cuda-tests.json');
  assert.equal(await appendRecord(path, { n: 1 }), 1);
  assert.equal(await appendRecord(path, { n: 2 }), 2);
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), [{ n: 1 }, { n: 2 }]);
  writeFileSync(path, '[{"n": 1},');
  await assert.rejects(appendRecord(path, { n: 3 }), /not valid JSON.*record was not written/);
  assert.equal(readFileSync(path, 'utf8'), '[{"n": 1},');
  writeFileSync(path, '{}');
  await assert.rejects(appendRecord(path, { n: 3 }), /must hold a JSON array/);
});

test('on a machine without a GPU it says so, exits 1 and records nothing (plain node, no npm)', () => {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'nvidia-smi'), '#!/bin/sh\necho "NVIDIA-SMI has failed: no devices" >&2\nexit 9\n');
  chmodSync(join(bin, 'nvidia-smi'), 0o755);
  const out = join(dir, 'none.json');
  const r = spawnSync(process.execPath, ['scripts/test-cuda.mjs', '--out', out], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no NVIDIA GPU here \(nvidia-smi: NVIDIA-SMI has failed/);
  assert.ok(!existsSync(out));
});
