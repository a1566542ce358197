// Packed OneBit GEMV (native/cpu/onebit.cc) at 4096x4096 and 8192x8192, and a batch-8 GEMM at 4096:
//   bandwidth: bytes the GEMV reads and writes per second, against a memcpy of the packed matrix's size on
//              the same machine, same threads (memcpy counted as bytes read + bytes written, STREAM's "copy";
//              at these sizes it runs from cache; a 256 MiB memcpy is recorded too, for DRAM);
//   time:      against the fp32 product of the same shape through the addon's matmul (OpenBLAS sgemm, m = batch).
// Runs are interleaved (so other processes' load falls on all alike); medians over REPEATS after a warm-up.
// Writes bench/results/onebit-gemv.json and prints one JSON line per figure.
import { loadavg } from 'node:os';
import { createCpuBackend } from '../src/backends/cpu/cpu-backend.ts';
import { addonPath } from '../src/backends/cpu/load-addon.ts';
import { nativeOnebitGemm } from '../src/backends/cpu/onebit-kernel.ts';
import { writeJsonAtomic } from '../src/base/atomic-write.ts';
import { packSigns, rowBytes } from '../src/onebit/packed.ts';
import { figure, machineDescription } from './machine.ts';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 15);
const cpu = createCpuBackend();
const addon = cpu.addon;
const gemm = nativeOnebitGemm(addon);
if (!gemm || !addon.copyBytes)
  throw new Error('the native addon lacks onebitGemm/copyBytes: rebuild native/cpu');
const copyBytes = addon.copyBytes.bind(addon);

/** Median seconds of each fn, runs interleaved. */
function timeInterleaved(fns: (() => void)[]): number[] {
  const runs = fns.map(() => [] as number[]);
  for (const fn of fns) fn();
  for (let i = 0; i < REPEATS; i++) {
    fns.forEach((fn, j) => {
      const t0 = process.hrtime.bigint();
      fn();
      runs[j].push(Number(process.hrtime.bigint() - t0) / 1e9);
    });
  }
  return runs.map((r) => r.sort((a, b) => a - b)[Math.floor(r.length / 2)]);
}

function randomF32(n: number, seed: number): Float32Array {
  const s = cpu.alloc('f32', n) as Float32Array;
  cpu.random(s, n, 'normal', seed, 0);
  return s;
}

const cases = [
  { n: 4096, batch: 1 },
  { n: 8192, batch: 1 },
  { n: 4096, batch: 8 },
];
const rows: Record<string, unknown>[] = [];
const lines: ReturnType<typeof figure>[] = [];
const load = loadavg()[0];
for (const { n, batch } of cases) {
  const w = randomF32(n * n, 1);
  const packed = packSigns(w, n, n);
  const [g, h, x] = [randomF32(n, 2), randomF32(n, 3), randomF32(batch * n, 4)];
  const y = new Float32Array(batch * n);
  const yRef = new Float32Array(batch * n);
  const codeBytes = n * rowBytes(n, 'sign1');
  const src = new Uint8Array(codeBytes).fill(7);
  const dst = new Uint8Array(codeBytes);
  const [tPacked, tCopy, tF32] = timeInterleaved([
    () => gemm(packed.codes, g, h, x, y, n, n, batch),
    () => copyBytes(src, dst, codeBytes),
    () => addon.matmul(x, w, yRef, 1, batch, n, n, false, true, 0, 0, 1, false),
  ]);
  const gemvBytes = codeBytes + 4 * (batch * n + n + n + batch * n);
  const gbs = (bytes: number, s: number) => bytes / s / 1e9;
  const bandwidth = gbs(gemvBytes, tPacked);
  const memcpy = gbs(2 * codeBytes, tCopy);
  const shape = `${n}x${n}${batch > 1 ? `-batch${batch}` : ''}`;
  rows.push({
    shape: `${n}x${n}`,
    batch,
    packed_ms: tPacked * 1e3,
    fp32_sgemm_ms: tF32 * 1e3,
    memcpy_ms: tCopy * 1e3,
    packed_bytes: gemvBytes,
    packed_GBps: bandwidth,
    memcpy_GBps: memcpy,
    fp32_GBps: gbs(4 * n * n, tF32),
    bandwidth_fraction_of_memcpy: bandwidth / memcpy,
    speedup_over_fp32: tF32 / tPacked,
  });
  lines.push(figure(`onebit-gemv-${shape}-bandwidth`, bandwidth, memcpy, 'GB/s'));
  lines.push(figure(`onebit-gemv-${shape}-time`, tPacked * 1e3, tF32 * 1e3, 'ms', false));
}

// For scale: memcpy of 256 MiB, far past every cache (DRAM bandwidth, read + write counted).
const big = 256 * 2 ** 20;
const [bigSrc, bigDst] = [new Uint8Array(big).fill(3), new Uint8Array(big)];
const [tBig] = timeInterleaved([() => copyBytes(bigSrc, bigDst, big)]);

writeJsonAtomic('bench/results/onebit-gemv.json', {
  bench: 'onebit-gemv',
  description:
    'packed sign1 GEMV/GEMM y = h ⊙ ((x ⊙ g) Sᵀ) (native/cpu/onebit.cc) vs memcpy of the packed bytes (read + write counted) and fp32 OpenBLAS sgemm of the same shape; medians',
  machine: machineDescription(),
  addon: addonPath(),
  threads: cpu.threads(),
  loadAverage1m: { before: load, after: loadavg()[0] },
  repeats: REPEATS,
  date: new Date().toISOString(),
  results: rows,
  memcpy_256MiB_GBps: (2 * big) / tBig / 1e9,
  goal: 'packed bandwidth >= 0.8 x memcpy',
});
for (const line of lines) console.log(JSON.stringify(line));
