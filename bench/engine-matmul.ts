// f32 matmul 1024x1024x1024 forward + backward (C = A B, dA = dC B^T, dB = A^T dC) through the cpu backend,
// next to the same three products by OpenBLAS sgemm called directly, on the same threads in the same run.
// Writes bench/results/engine-matmul.json and prints one JSON line per figure.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { matmulArgs } from '../src/backends/backend.ts';
import { createCpuBackend } from '../src/backends/cpu/cpu-backend.ts';
import { figure, machineDescription } from './machine.ts';

const N = 1024;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 10);
const FLOPS = 3 * 2 * N ** 3;

/** Seconds per run of each of `fns`, interleaved run by run so that load from other processes falls on
 *  both alike; best-of and median over REPEATS runs after one warm-up each. */
function timeInterleaved(fns: (() => void)[]): { best: number; median: number }[] {
  const runs = fns.map(() => [] as number[]);
  for (const fn of fns) fn();
  for (let i = 0; i < REPEATS; i++) {
    fns.forEach((fn, j) => {
      const t0 = process.hrtime.bigint();
      fn();
      runs[j].push(Number(process.hrtime.bigint() - t0) / 1e9);
    });
  }
  return runs.map((r) => {
    r.sort((a, b) => a - b);
    return { best: r[0], median: r[Math.floor(r.length / 2)] };
  });
}

const cpu = createCpuBackend();
const threads = cpu.threads();
const fill = (s: Float32Array, seed: number) => cpu.random(s, s.length, 'normal', seed, 0);
const [a, b, dc] = [1, 2, 3].map((seed) => {
  const s = cpu.alloc('f32', N * N) as Float32Array;
  fill(s, seed);
  return s;
});
const [c, da, db] = [0, 0, 0].map(() => cpu.alloc('f32', N * N) as Float32Array);
const base = matmulArgs(N, N, N);

const [ours, peer] = timeInterleaved([
  () => {
    cpu.matmul(a, b, c, base);
    cpu.matmul(dc, b, da, { ...base, transB: true });
    cpu.matmul(a, dc, db, { ...base, transA: true });
  },
  () => {
    cpu.addon.blasSgemmRaw(a, b, c, N, N, N);
    cpu.addon.blasSgemmRaw(dc, b, da, N, N, N);
    cpu.addon.blasSgemmRaw(a, dc, db, N, N, N);
  },
]);

const gflops = (s: number) => FLOPS / s / 1e9;
const result = {
  bench: 'engine-matmul',
  description: `f32 matmul ${N}^3 forward+backward (3 GEMMs), cpu backend vs OpenBLAS sgemm direct, ${threads} threads`,
  machine: machineDescription(),
  threads,
  // Other processes on the machine skew both columns alike (runs are interleaved); this says how busy it was.
  loadAverage1m: loadavg()[0],
  repeats: REPEATS,
  date: new Date().toISOString(),
  ours: { gflops_best: gflops(ours.best), gflops_median: gflops(ours.median), seconds_median: ours.median },
  peer: { gflops_best: gflops(peer.best), gflops_median: gflops(peer.median), seconds_median: peer.median },
  ratio_median: gflops(ours.median) / gflops(peer.median),
  goal: 'ours >= 0.8 x peer',
};
mkdirSync('bench/results', { recursive: true });
const path = 'bench/results/engine-matmul.json';
const fd = openSync(`${path}.tmp`, 'w');
writeSync(fd, `${JSON.stringify(result, null, 2)}\n`);
fsyncSync(fd);
closeSync(fd);
renameSync(`${path}.tmp`, path);

const round = (x: number) => Math.round(x * 100) / 100;
const line = figure(
  'engine-matmul-fwd-bwd-1024',
  round(gflops(ours.median)),
  round(gflops(peer.median)),
  'GFLOP/s',
);
console.log(JSON.stringify(line));
