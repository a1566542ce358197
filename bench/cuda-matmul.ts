// The products of a d1024 L12 T1024 B16 V32768 training step (bench/cuda-train-step.ts), one by one: bitscale's
// cuda matmul in bf16 mode (operands already cast: their bf16 copies stay on the storages, so this is cuBLASLt
// with fp32 output) against PyTorch's torch.mm on bf16 tensors (bf16 output, as autocast, and fp32 output),
// both timed over the same repeats on the same GPU. TFLOP/s = 2 m n k / time.
// With --fp8 (a GPU with FP8 tensor cores), also each linear product as an FP8 product on codes already cast
// (matmulFp8 on inputs it has read before: cuBLASLt alone, fp32 output; E4M3 forward, E5M2 x E4M3 gradients)
// against torch._scaled_mm on E4M3 operands, and the same product casting its operands afresh each call.
// BITSCALE_CUDA_MATMUL_TUNE=0 takes cuBLASLt's first heuristic choice instead of the fastest of its candidates.
// Usage: node --import tsx bench/cuda-matmul.ts [--repeats 20] [--no-torch] [--fp8]
// Writes bench/results/cuda-matmul.json (or $BENCH_OUT); ends with one JSON line per figure.
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import '../src/backends/index.ts';
import type { CudaBackend, CudaStorage } from '../src/backends/cuda/cuda-backend.ts';
import * as T from '../src/tensor/index.ts';
import { type Figure, figure, machineDescription } from './machine.ts';
import { peerPython, peerRowsByShape } from './peer-python.ts';

interface Product {
  role: string;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

const d = 1024;
const ff = 2736;
const V = 32768;
const rows = 16 * 1024;
const products: Product[] = [
  { role: 'attention projection forward', m: rows, n: d, k: d, transA: false, transB: true },
  { role: 'attention projection dX', m: rows, n: d, k: d, transA: false, transB: false },
  { role: 'attention projection dW', m: d, n: d, k: rows, transA: true, transB: false },
  { role: 'mlp up/gate forward', m: rows, n: ff, k: d, transA: false, transB: true },
  { role: 'mlp down forward', m: rows, n: d, k: ff, transA: false, transB: true },
  { role: 'mlp up/gate dX', m: rows, n: d, k: ff, transA: false, transB: false },
  { role: 'mlp down dX', m: rows, n: ff, k: d, transA: false, transB: false },
  { role: 'mlp up/gate dW', m: ff, n: d, k: rows, transA: true, transB: false },
  { role: 'mlp down dW', m: d, n: ff, k: rows, transA: true, transB: false },
  { role: 'LM head forward', m: rows, n: V, k: d, transA: false, transB: true },
  { role: 'LM head dX', m: rows, n: d, k: V, transA: false, transB: false },
  { role: 'LM head dW', m: V, n: d, k: rows, transA: true, transB: false },
];

const args = process.argv.slice(2);
const repeats = (() => {
  const i = args.indexOf('--repeats');
  return i >= 0 ? Number(args[i + 1]) : 20;
})();
const noTorch = args.includes('--no-torch');
const withFp8 = args.includes('--fp8');
const python = noTorch ? '' : peerPython(['torch'], 'torch.cuda.is_available()');
const spec = (p: Product) => [p.m, p.n, p.k, Number(p.transA), Number(p.transB)].join(',');

const backend = T.setDefaultBackend('cuda') as CudaBackend;
backend.setMatmulMode('bf16');
const tuned = process.env.BITSCALE_CUDA_MATMUL_TUNE !== '0';

/** ms per call of `once`: three warm-up calls, then `repeats` timed back to back. */
function msPerCall(once: () => void): number {
  for (let i = 0; i < 3; i++) once();
  backend.synchronize();
  const start = performance.now();
  for (let i = 0; i < repeats; i++) once();
  backend.synchronize();
  return (performance.now() - start) / repeats;
}

function ours(p: Product): number {
  const a = T.randn(p.transA ? [p.k, p.m] : [p.m, p.k], { seed: 1 }).keep();
  const b = T.randn(p.transB ? [p.n, p.k] : [p.k, p.n], { seed: 2 }).keep();
  const ms = msPerCall(() => T.tidy(() => void T.matmul(a, b, { transA: p.transA, transB: p.transB })));
  a.dispose();
  b.dispose();
  return ms;
}

/** ms of an FP8 product of p's shape: on codes kept from an earlier call (`cast` false), or casting anew. */
function oursFp8(p: Product, cast: boolean): number {
  const a = T.randn(p.transA ? [p.k, p.m] : [p.m, p.k], { seed: 1 }).keep();
  const b = T.randn(p.transB ? [p.n, p.k] : [p.k, p.n], { seed: 2 }).keep();
  const out = T.zeros([p.m, p.n]).keep();
  const forward = p.role.endsWith('forward');
  const args = {
    m: p.m,
    n: p.n,
    k: p.k,
    transA: p.transA,
    transB: p.transB,
    aFormat: forward ? 'fp8_e4m3' : 'fp8_e5m2',
    bFormat: 'fp8_e4m3',
  } as const;
  // Casting anew: a's codes go with a write to it (one fill a call, timed with it; b is the weight, cast once).
  const [ha, hb, ho] = [a, b, out].map((t) => t.handle as CudaStorage);
  const once = () => {
    if (cast) backend.fill(ha, a.size, 1);
    backend.matmulFp8!(ha, hb, ho, args);
  };
  const ms = msPerCall(once);
  for (const t of [a, b, out]) t.dispose();
  return ms;
}

type PeerRow = {
  shape: string;
  bf16_out_ms: number;
  fp32_out_ms: number | null;
  fp8_ms?: number | null;
};
const peer = noTorch
  ? new Map<string, PeerRow>()
  : peerRowsByShape<PeerRow>(python, 'bench/cuda_matmul_torch.py', [String(repeats), ...products.map(spec)]);

const gpu = backend.device();
const machine = `${gpu.name} (CUDA runtime ${gpu.runtimeVersion}, ${gpu.multiprocessors} SMs); host ${machineDescription()}`;
const tflops = (p: Product, ms: number) => (2 * p.m * p.n * p.k) / (ms / 1000) / 1e12;
const figures: Figure[] = [];
const rowsOut: Record<string, unknown>[] = [];
let sumOurs = 0;
let sumPeer = 0;
for (const p of products) {
  const ms = ours(p);
  const t = peer.get(spec(p));
  const peerMs = t ? (t.fp32_out_ms ?? t.bf16_out_ms) : null;
  sumOurs += ms;
  if (peerMs !== null) sumPeer += peerMs;
  const label = `${p.m}x${p.n}x${p.k} ${p.transA ? 'T' : 'N'}${p.transB ? 'T' : 'N'}`;
  console.error(
    `${p.role.padEnd(30)} ${label.padEnd(22)} bitscale ${ms.toFixed(3)} ms (${tflops(p, ms).toFixed(0)} TFLOP/s)` +
      (t
        ? `  torch bf16-out ${t.bf16_out_ms.toFixed(3)} ms (${tflops(p, t.bf16_out_ms).toFixed(0)})` +
          (t.fp32_out_ms !== null ? `  fp32-out ${t.fp32_out_ms.toFixed(3)} ms` : '')
        : ''),
  );
  let fp8: Record<string, number | null> | null = null;
  if (withFp8 && !p.role.startsWith('LM head')) {
    const [kept, cast] = [oursFp8(p, false), oursFp8(p, true)];
    const peerFp8 = t?.fp8_ms ?? null;
    fp8 = { keptCodesMs: kept, castingMs: cast, torchScaledMmMs: peerFp8 };
    console.error(
      `${''.padEnd(53)} fp8: bitscale ${kept.toFixed(3)} ms (${tflops(p, kept).toFixed(0)}), casting ${cast.toFixed(3)} ms` +
        (peerFp8 !== null
          ? `  torch._scaled_mm ${peerFp8.toFixed(3)} ms (${tflops(p, peerFp8).toFixed(0)})`
          : ''),
    );
    figures.push({
      ...figure(
        `cuda FP8 matmul ${label} (${p.role}) on cast codes vs torch._scaled_mm`,
        tflops(p, kept),
        peerFp8 === null ? null : tflops(p, peerFp8),
        'TFLOP/s',
      ),
      machine,
    });
  }
  rowsOut.push({ ...p, ms, tflops: tflops(p, ms), torch: t ?? null, fp8 });
  figures.push({
    ...figure(
      `cuda matmul ${label} (${p.role}) vs torch.mm, same output type`,
      tflops(p, ms),
      peerMs === null ? null : tflops(p, peerMs),
      'TFLOP/s',
    ),
    machine,
  });
}
console.error(`sum over the 12 products: bitscale ${sumOurs.toFixed(2)} ms, torch ${sumPeer.toFixed(2)} ms`);
figures.push({
  ...figure(
    'cuda matmul: the 12 products of a d1024 step, summed',
    sumOurs,
    noTorch ? null : sumPeer,
    'ms',
    false,
  ),
  machine,
});
writeFileAtomic(
  process.env.BENCH_OUT ?? 'bench/results/cuda-matmul.json',
  `${JSON.stringify({ bench: 'cuda-matmul', machine, tuned, repeats, date: new Date().toISOString(), products: rowsOut }, null, 2)}\n`,
);
for (const f of figures) console.log(JSON.stringify(f));
