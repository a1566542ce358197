// npm run bench:numerics — fake-quant throughput of the native cpu kernel against this machine's memcpy
// bandwidth (Buffer.copy) in the same run, and GPTQ time on an n x n layer with n/2 calibration tokens.
// Usage: node --import tsx bench/numerics.ts [--gptq-size 4096]   (default 1024; the 4096 goal figure is
// extrapolated by n^3 from the size measured unless --gptq-size 4096 is given: pure TS takes minutes there).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { gptqQuantize, hessianFromActivations } from '../src/numerics/gptq.ts';
import { encodeFakeQuantSpec, quantSpec } from '../src/numerics/spec.ts';
import { philoxFill } from '../src/tensor/philox.ts';

type FakeQuant = (
  spec: Float64Array,
  x: Float32Array,
  out: Float32Array,
  rows: number,
  cols: number,
  mask: Float32Array | null,
) => void;

const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
const machine = `${cpuModel}, ${cpus().length} cores`;
const addonPath =
  process.env.BITSCALE_CPU_ADDON ??
  new URL('../native/cpu/build/Release/bitscale_cpu.node', import.meta.url).pathname;
const addon = existsSync(addonPath)
  ? (createRequire(import.meta.url)(addonPath) as { fakeQuant?: FakeQuant })
  : {};
const sizeArg = process.argv.indexOf('--gptq-size');
const gptqSize = sizeArg > 0 ? Number(process.argv[sizeArg + 1]) : 1024;

function best(fn: () => void, repeats = 7): number {
  fn();
  let t = Number.POSITIVE_INFINITY;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    fn();
    t = Math.min(t, performance.now() - start);
  }
  return t / 1000;
}

interface Figure {
  bench: string;
  ours: number;
  peer: number | null;
  ratio: number | null;
  unit: string;
  machine: string;
}
const figures: Figure[] = [];

// ---- fake-quant vs memcpy: bytes of float32 input processed per second (read + write, as memcpy) ----
const rows = 4096;
const cols = 4096;
const x = new Float32Array(rows * cols);
philoxFill(x, x.length, 'normal', 1, 0);
const out = new Float32Array(rows * cols);
const bytes = x.byteLength;
const src = Buffer.from(x.buffer);
const dst = Buffer.from(out.buffer);
const memcpy = bytes / best(() => src.copy(dst)) / 1e9;
if (!addon.fakeQuant) {
  console.error(`no native fakeQuant at ${addonPath}: build native/cpu first; fake-quant figures skipped`);
} else {
  for (const [name, spec] of [
    ['fake-quant int4 group-128 (GB/s)', quantSpec('int4', { granularity: { kind: 'group', size: 128 } })],
    ['fake-quant fp8_e4m3 per-tensor (GB/s)', quantSpec('fp8_e4m3')],
  ] as const) {
    const encoded = encodeFakeQuantSpec(spec);
    const gbs = bytes / best(() => addon.fakeQuant!(encoded, x, out, rows, cols, null)) / 1e9;
    figures.push({
      bench: name,
      ours: gbs,
      peer: memcpy,
      ratio: gbs / memcpy,
      unit: 'GB/s vs memcpy',
      machine,
    });
  }
}

// ---- GPTQ on an n x n layer with n/2 calibration tokens (pure TypeScript) ----
const n = gptqSize;
const tokens = n / 2;
const acts = new Float32Array(tokens * n);
philoxFill(acts, acts.length, 'normal', 2, 0);
const w = new Float32Array(n * n);
philoxFill(w, w.length, 'normal', 3, 0);
const start = performance.now();
const h = hessianFromActivations(acts, tokens, n);
gptqQuantize(w, n, n, h, { bits: 4, groupSize: 128 });
const seconds = (performance.now() - start) / 1000;
figures.push({
  bench: `gptq ${n}x${n}, ${tokens} tokens, int4 g128 (s)`,
  ours: seconds,
  peer: null,
  ratio: null,
  unit: 's',
  machine,
});
if (n !== 4096) {
  const estimate = seconds * (4096 / n) ** 3;
  figures.push({
    bench: 'gptq 4096x4096, 2048 tokens (s, extrapolated n^3)',
    ours: estimate,
    peer: 20,
    ratio: estimate / 20,
    unit: 's vs 20 s goal',
    machine,
  });
}

mkdirSync('bench/results', { recursive: true });
const tmp = 'bench/results/numerics.json.tmp';
writeFileSync(tmp, `${JSON.stringify({ machine, date: new Date().toISOString(), figures }, null, 2)}\n`);
renameSync(tmp, 'bench/results/numerics.json');
for (const f of figures) console.log(JSON.stringify(f));
