// Packed GEMV at 4096x4096 and 8192x8192 (sign1 and ternary2), and a batch-8 GEMM at 4096, two kernels side
// by side: exact (fp32 sums, native/cpu/onebit.cc) and lut (int8 table lookup, native/cpu/onebit_lut.cc):
//   bandwidth: bytes the GEMV reads and writes per second, against a memcpy of the packed matrix's size on
//              the same machine, same threads (memcpy counted as bytes read + bytes written, STREAM's "copy";
//              at these sizes it runs from cache; a 256 MiB memcpy is recorded too, for DRAM);
//   cold:      the LUT GEMV over a pool of copies of the packed matrix (COLD_POOL_MIB, default 512 MiB, past the
//              last-level cache), each call on the next copy, so every call reads its codes from DRAM as decoding a
//              model larger than the cache does; against the 256 MiB memcpy (also DRAM), runs interleaved;
//   time:      against the fp32 product of the same shape through the addon's matmul (OpenBLAS sgemm, m = batch).
// Runs are interleaved (so other processes' load falls on all alike); medians over REPEATS after a warm-up.
// The JSON also keeps each kernel's best interleaved run, and its best run alone (back to back, caches warm
// with its own data): what it does when nothing else on a shared machine gets in the way.
// Writes bench/results/onebit-gemv.json and prints one JSON line per figure.
import { loadavg } from 'node:os';
import { createCpuBackend } from '../src/backends/cpu/cpu-backend.ts';
import { addonPath } from '../src/backends/cpu/load-addon.ts';
import {
  nativeOnebitGemm,
  nativePackedLutGemm,
  nativeTernaryGemm,
} from '../src/backends/cpu/onebit-kernel.ts';
import { writeJsonAtomic } from '../src/base/atomic-write.ts';
import { tileCodes } from '../src/onebit/gemv.ts';
import { type PackedFormat, packSigns, packTernary, rowBytes } from '../src/onebit/packed.ts';
import { figure, machineDescription } from './machine.ts';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 15);
const COLD_POOL = Number(process.env.COLD_POOL_MIB ?? 512) * 2 ** 20;
// For the cold figures: memcpy of 256 MiB, far past every cache (DRAM bandwidth, read + write counted).
const big = 256 * 2 ** 20;
const [bigSrc, bigDst] = [new Uint8Array(big).fill(3), new Uint8Array(big)];
const cpu = createCpuBackend();
const addon = cpu.addon;
const exact = { sign1: nativeOnebitGemm(addon), ternary2: nativeTernaryGemm(addon) };
const lut = nativePackedLutGemm(addon);
if (!exact.sign1 || !exact.ternary2 || !lut || !addon.copyBytes)
  throw new Error('the native addon lacks a packed kernel or copyBytes: rebuild native/cpu');
const copyBytes = addon.copyBytes.bind(addon);

/** Median (and best) seconds of each fn, runs interleaved. The best run shows the kernel without the other
 *  processes of a shared machine; the median is the figure. */
function timeInterleaved(fns: (() => void)[]): { median: number[]; best: number[] } {
  const runs = fns.map(() => [] as number[]);
  for (const fn of fns) fn();
  for (let i = 0; i < REPEATS; i++) {
    fns.forEach((fn, j) => {
      const t0 = process.hrtime.bigint();
      fn();
      runs[j].push(Number(process.hrtime.bigint() - t0) / 1e9);
    });
  }
  const sorted = runs.map((r) => r.sort((a, b) => a - b));
  return { median: sorted.map((r) => r[Math.floor(r.length / 2)]), best: sorted.map((r) => r[0]) };
}

/** Best seconds of fn run back to back (caches warm with its own data): the kernel alone, no peer between. */
function bestAlone(fn: () => void, runs = 5 * REPEATS): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i <= runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    if (i > 0) best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

function randomF32(n: number, seed: number): Float32Array {
  const s = cpu.alloc('f32', n) as Float32Array;
  cpu.random(s, n, 'normal', seed, 0);
  return s;
}

const cases: { n: number; batch: number; format: PackedFormat }[] = [
  { n: 4096, batch: 1, format: 'sign1' },
  { n: 8192, batch: 1, format: 'sign1' },
  { n: 4096, batch: 1, format: 'ternary2' },
  { n: 8192, batch: 1, format: 'ternary2' },
  { n: 4096, batch: 8, format: 'sign1' },
];
const rows: Record<string, unknown>[] = [];
const lines: ReturnType<typeof figure>[] = [];
const load = loadavg()[0];
for (const { n, batch, format } of cases) {
  const w = randomF32(n * n, 1);
  const packed =
    format === 'sign1'
      ? packSigns(w, n, n)
      : packTernary(
          Array.from(w, (v) => (v > 0.5 ? 1 : v < -0.5 ? -1 : 0)),
          n,
          n,
        );
  const tiled = tileCodes(packed);
  const [g, h, x] = [randomF32(n, 2), randomF32(n, 3), randomF32(batch * n, 4)];
  const y = new Float32Array(batch * n);
  const yRef = new Float32Array(batch * n);
  const codeBytes = n * rowBytes(n, format);
  const src = new Uint8Array(codeBytes).fill(7);
  const dst = new Uint8Array(codeBytes);
  const exactGemm = exact[format]!;
  const times = timeInterleaved([
    () => lut(tiled, g, h, x, y, n, n, batch, format === 'ternary2'),
    () => exactGemm(packed.codes, g, h, x, y, n, n, batch),
    () => copyBytes(src, dst, codeBytes),
    () => addon.matmul(x, w, yRef, 1, batch, n, n, false, true, 0, 0, 1, false),
  ]);
  const [tLut, tExact, tCopy, tF32] = times.median;
  const [bestLut, , bestCopy] = times.best;
  const aloneLut = bestAlone(() => lut(tiled, g, h, x, y, n, n, batch, format === 'ternary2'));
  const aloneCopy = bestAlone(() => copyBytes(src, dst, codeBytes));
  // Cold: one timed run = the GEMV on each of `calls` consecutive copies of the pool (at least 64 MiB of codes,
  // so that one run is long enough to time), then the 256 MiB memcpy, interleaved.
  const copies = Math.max(2, Math.ceil(COLD_POOL / tiled.length));
  const pool = Array.from({ length: copies }, () => tiled.slice());
  const calls = Math.min(copies, Math.ceil((64 * 2 ** 20) / tiled.length));
  let next = 0;
  const [tColdRun, tBigCopy] = timeInterleaved([
    () => {
      for (let k = 0; k < calls; k++, next = (next + 1) % copies)
        lut(pool[next], g, h, x, y, n, n, batch, format === 'ternary2');
    },
    () => copyBytes(bigSrc, bigDst, big),
  ]).median;
  pool.length = 0;
  const gemvBytes = codeBytes + 4 * (batch * n + n + n + batch * n);
  const gbs = (bytes: number, s: number) => bytes / s / 1e9;
  const memcpy = gbs(2 * codeBytes, tCopy);
  const coldLut = gbs(calls * gemvBytes, tColdRun);
  const coldMemcpy = gbs(2 * big, tBigCopy);
  const shape = `${n}x${n}${format === 'ternary2' ? '-ternary' : ''}${batch > 1 ? `-batch${batch}` : ''}`;
  rows.push({
    shape: `${n}x${n}`,
    format,
    batch,
    lut_ms: tLut * 1e3,
    exact_ms: tExact * 1e3,
    fp32_sgemm_ms: tF32 * 1e3,
    memcpy_ms: tCopy * 1e3,
    packed_bytes: gemvBytes,
    lut_GBps: gbs(gemvBytes, tLut),
    exact_GBps: gbs(gemvBytes, tExact),
    memcpy_GBps: memcpy,
    fp32_GBps: gbs(4 * n * n, tF32),
    lut_fraction_of_memcpy: gbs(gemvBytes, tLut) / memcpy,
    best_run_lut_GBps: gbs(gemvBytes, bestLut),
    best_run_memcpy_GBps: gbs(2 * codeBytes, bestCopy),
    best_run_lut_fraction_of_memcpy: gbs(gemvBytes, bestLut) / gbs(2 * codeBytes, bestCopy),
    alone_warm_best_lut_GBps: gbs(gemvBytes, aloneLut),
    alone_warm_best_memcpy_GBps: gbs(2 * codeBytes, aloneCopy),
    alone_warm_lut_fraction_of_memcpy: gbs(gemvBytes, aloneLut) / gbs(2 * codeBytes, aloneCopy),
    exact_fraction_of_memcpy: gbs(gemvBytes, tExact) / memcpy,
    cold_pool_bytes: copies * tiled.length,
    cold_lut_ms: (tColdRun / calls) * 1e3,
    cold_lut_GBps: coldLut,
    cold_memcpy_256MiB_GBps: coldMemcpy,
    cold_lut_fraction_of_memcpy: coldLut / coldMemcpy,
    lut_speedup_over_fp32: tF32 / tLut,
    exact_speedup_over_fp32: tF32 / tExact,
  });
  lines.push(figure(`onebit-gemv-${shape}-lut-bandwidth`, gbs(gemvBytes, tLut), memcpy, 'GB/s'));
  lines.push(figure(`onebit-gemv-${shape}-lut-bandwidth-cold`, coldLut, coldMemcpy, 'GB/s'));
  lines.push(figure(`onebit-gemv-${shape}-lut-time`, tLut * 1e3, tF32 * 1e3, 'ms', false));
  lines.push(figure(`onebit-gemv-${shape}-exact-bandwidth`, gbs(gemvBytes, tExact), memcpy, 'GB/s'));
  lines.push(figure(`onebit-gemv-${shape}-exact-time`, tExact * 1e3, tF32 * 1e3, 'ms', false));
}

const [tBig] = timeInterleaved([() => copyBytes(bigSrc, bigDst, big)]).median;

writeJsonAtomic('bench/results/onebit-gemv.json', {
  bench: 'onebit-gemv',
  description:
    'packed sign1/ternary2 GEMV/GEMM y = h ⊙ ((x ⊙ g) Sᵀ): lut (int8 table lookup, native/cpu/onebit_lut.cc) and exact (fp32, native/cpu/onebit.cc) vs memcpy of the packed bytes (read + write counted) and fp32 OpenBLAS sgemm of the same shape; cold_*: the lut over a pool of copies past the last-level cache vs a 256 MiB memcpy; medians',
  machine: machineDescription(),
  addon: addonPath(),
  threads: cpu.threads(),
  loadAverage1m: { before: load, after: loadavg()[0] },
  repeats: REPEATS,
  date: new Date().toISOString(),
  results: rows,
  memcpy_256MiB_GBps: (2 * big) / tBig / 1e9,
  cold_pool_MiB: COLD_POOL / 2 ** 20,
  goal: 'packed (lut) bandwidth >= 0.8 x memcpy',
});
for (const line of lines) console.log(JSON.stringify(line));
