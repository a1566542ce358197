// npm run bench:numerics — issue 3's two speed goals, measured in one run:
//  1. fake-quant throughput of the native cpu kernel (int4 group-128 and FP8 E4M3 per-tensor on a 4096 x 4096
//     float32 tensor) against this machine's memcpy bandwidth (Buffer.copy of the same bytes). The two are
//     timed in alternating rounds (best of each), so a busy machine slows both alike. Goal: >= 30% of memcpy.
//  2. GPTQ (int4, group 128) of an n x n layer from n/2 calibration tokens, Hessian included, on the native
//     kernels (the addon the cpu backend loads: the AVX2 build where the CPU has it). Goal at n = 4096: < 20 s.
//     The TypeScript reference runs beside it at a smaller size (--reference-size, default 1024), checked to
//     give the same codes, and its time is scaled by n^3 to the same size (the peer figure).
// Usage: node --import tsx bench/numerics.ts [--gptq-size 4096] [--reference-size 1024]
// The machine is shared: the load average before and after is recorded with the result.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { nativeGptqKernels } from '../src/backends/cpu/gptq-kernels.ts';
import { loadCpuAddon } from '../src/backends/cpu/load-addon.ts';
import { philoxFill } from '../src/base/philox.ts';
import { gptqQuantize, hessianFromActivations } from '../src/numerics/gptq.ts';
import { encodeFakeQuantSpec, quantSpec } from '../src/numerics/spec.ts';

interface Figure {
  bench: string;
  ours: number;
  peer: number | null;
  ratio: number | null;
  unit: string;
  machine: string;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i > 0 ? Number(process.argv[i + 1]) : fallback;
  if (!(Number.isInteger(value) && value >= 128 && value % 128 === 0))
    throw new Error(`${name} = ${process.argv[i + 1]} is not allowed; expected a multiple of 128`);
  return value;
}

const cpuModel =
  /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
const machine = `${cpuModel}, ${availableParallelism()} cores`;
const gptqSize = option('--gptq-size', 4096);
const referenceSize = option('--reference-size', 1024);
const loaded = loadCpuAddon();
if ('error' in loaded) throw new Error(loaded.error);
const { addon, path: addonPath } = loaded;
const kernels = nativeGptqKernels(addon);
if (!addon.fakeQuant || !kernels)
  throw new Error(`${addonPath} lacks fakeQuant or the GPTQ kernels: rebuild it`);
const loadBefore = loadavg();
const figures: Figure[] = [];
/** fn's result and the seconds it took. */
function timed<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const value = fn();
  return [value, (performance.now() - start) / 1000];
}
const seconds = (fn: () => void) => timed(fn)[1];

// ---- fake-quant vs memcpy: bytes of float32 input processed per second (read + write, as memcpy) ----
const rows = 4096;
const cols = 4096;
const x = new Float32Array(rows * cols);
philoxFill(x, x.length, 'normal', 1, 0);
const out = new Float32Array(rows * cols);
const src = Buffer.from(x.buffer);
const dst = Buffer.from(out.buffer);
const contenders: [string, () => void][] = [['memcpy', () => src.copy(dst)]];
for (const [name, spec] of [
  ['fake-quant int4 group-128 (GB/s)', quantSpec('int4', { granularity: { kind: 'group', size: 128 } })],
  ['fake-quant fp8_e4m3 per-tensor (GB/s)', quantSpec('fp8_e4m3')],
] as const) {
  const encoded = encodeFakeQuantSpec(spec);
  contenders.push([name, () => addon.fakeQuant?.(encoded, x, out, rows, cols, null)]);
}
const best = new Map<string, number>();
for (let round = 0; round < 15; round++) {
  for (const [name, fn] of contenders) best.set(name, Math.min(best.get(name) ?? Infinity, seconds(fn)));
}
const gbs = (name: string) => x.byteLength / (best.get(name) ?? Infinity) / 1e9;
const memcpy = gbs('memcpy');
for (const [name] of contenders.slice(1)) {
  figures.push({
    bench: name,
    ours: gbs(name),
    peer: memcpy,
    ratio: gbs(name) / memcpy,
    unit: 'GB/s vs memcpy',
    machine,
  });
}

// ---- GPTQ: n x n layer, n/2 calibration tokens, int4 group 128, Hessian included ----
function layer(n: number) {
  const tokens = n / 2;
  const acts = new Float32Array(tokens * n);
  philoxFill(acts, acts.length, 'normal', 2, 0);
  const w = new Float32Array(n * n);
  philoxFill(w, w.length, 'normal', 3, 0);
  return { n, tokens, acts, w };
}
function gptq(l: ReturnType<typeof layer>, native: boolean) {
  const k = native ? kernels : null;
  return gptqQuantize(l.w, l.n, l.n, hessianFromActivations(l.acts, l.tokens, l.n, k), {
    bits: 4,
    groupSize: 128,
    kernels: k,
  });
}

const small = layer(referenceSize);
const [nativeSmall, nativeSmallSeconds] = timed(() => gptq(small, true));
const [referenceSmall, referenceSeconds] = timed(() => gptq(small, false));
let differing = 0;
for (let i = 0; i < small.w.length; i++) if (nativeSmall.codes[i] !== referenceSmall.codes[i]) differing++;
if (differing > small.w.length * 1e-4)
  throw new Error(`native and reference GPTQ disagree on ${differing} of ${small.w.length} codes`);
const big = layer(gptqSize);
const nativeSeconds = seconds(() => gptq(big, true));
const scale = (gptqSize / referenceSize) ** 3;
figures.push({
  bench: `gptq ${gptqSize}x${gptqSize}, ${gptqSize / 2} tokens, int4 g128, native (s) vs 20 s goal`,
  ours: nativeSeconds,
  peer: 20,
  ratio: nativeSeconds / 20,
  unit: 's',
  machine,
});
figures.push({
  bench: `gptq ${gptqSize}x${gptqSize}: native (s) vs TypeScript reference (s, ${referenceSize}x${referenceSize} scaled by n^3)`,
  ours: nativeSeconds,
  peer: referenceSeconds * scale,
  ratio: nativeSeconds / (referenceSeconds * scale),
  unit: 's',
  machine,
});

const result = {
  machine,
  addon: addonPath,
  date: new Date().toISOString(),
  loadAverage: { before: loadBefore, after: loadavg() },
  gptqReference: {
    size: referenceSize,
    nativeSeconds: nativeSmallSeconds,
    referenceSeconds,
    codesDiffering: differing,
  },
  figures,
};
mkdirSync('bench/results', { recursive: true });
const tmp = 'bench/results/numerics.json.tmp';
writeFileSync(tmp, `${JSON.stringify(result, null, 2)}\n`);
renameSync(tmp, 'bench/results/numerics.json');
for (const f of figures) console.log(JSON.stringify(f));
