// Causal attention alone, forward and forward + backward, at the head shapes of the training-step bench: bitscale's
// cuda attention in bf16 mode (the flash kernels, fp32 (B, T, nh, hs) tensors in and out, as the engine holds them)
// against PyTorch's scaled_dot_product_attention with the flash backend on bf16 (B, nh, T, hs) tensors, both timed
// over the same repeats on the same GPU. bitscale's times include its fp32 -> bf16 copies of q, k, v (forward) and
// gOut (backward), as a training step pays them. TFLOP/s counts the causal half: forward 2 products of 2 B nh T² hs / 2
// flops, backward 2.5 times the forward (FlashAttention's convention).
// Usage: node --import tsx bench/cuda-attention.ts [--repeats 20] [--no-torch]
// Writes bench/results/cuda-attention.json (or $BENCH_OUT); ends with one JSON line per figure.
import { createCudaBackend } from '../src/backends/cuda/cuda-backend.ts';
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import { philoxFill } from '../src/base/philox.ts';
import { type Figure, figure, machineDescription } from './machine.ts';
import { peerPython, peerRowsByShape } from './peer-python.ts';

interface Shape {
  name: string;
  B: number;
  T: number;
  nh: number;
  hs: number;
}

const shapes: Shape[] = [
  { name: 'd512 (B32 T1024 nh8 hs64)', B: 32, T: 1024, nh: 8, hs: 64 },
  { name: 'd1024 (B16 T1024 nh16 hs64)', B: 16, T: 1024, nh: 16, hs: 64 },
  { name: 'hs128 (B8 T1024 nh16 hs128)', B: 8, T: 1024, nh: 16, hs: 128 },
];

const args = process.argv.slice(2);
const repeats = (() => {
  const i = args.indexOf('--repeats');
  return i >= 0 ? Number(args[i + 1]) : 20;
})();
const noTorch = args.includes('--no-torch');
const python = noTorch ? '' : peerPython(['torch'], 'torch.cuda.is_available()');
const spec = (s: Shape) => [s.B, s.T, s.nh, s.hs].join(',');

const cuda = createCudaBackend();
cuda.setMatmulMode('bf16');

const WARMUP = 3;

/** Mean ms of fn over the sets after the warm-up ones, each call on its own set. */
function timeMs(sets: number, fn: (i: number) => void): number {
  for (let i = 0; i < WARMUP; i++) fn(i);
  cuda.synchronize();
  const start = performance.now();
  for (let i = WARMUP; i < sets; i++) fn(i);
  cuda.synchronize();
  return (performance.now() - start) / (sets - WARMUP);
}

// Each call gets inputs of its own, as in a training step: the forward makes the 16-bit copies of q, k and v
// (kept on their storages), the backward reads those and makes gOut's. Timing one set over and over would find
// every copy made already.
function ours(s: Shape): { forward_ms: number; backward_ms: number } {
  const n = s.B * s.T * s.nh * s.hs;
  const sets = WARMUP + repeats;
  const base = [1, 2, 3, 4].map((seed) => {
    const x = new Float32Array(n);
    philoxFill(x, n, 'normal', seed, 0);
    const st = cuda.alloc('f32', n);
    cuda.write(st, 'f32', x);
    return st;
  });
  const inputs = Array.from({ length: sets }, () =>
    base.map((b) => {
      const st = cuda.alloc('f32', n);
      cuda.affine(b, st, n, 1, 0);
      return st;
    }),
  );
  const outs = Array.from({ length: sets }, () => cuda.alloc('f32', n));
  const lses = Array.from({ length: sets }, () => cuda.alloc('f32', s.B * s.nh * s.T));
  const [gq, gk, gv] = [0, 1, 2].map(() => cuda.alloc('f32', n));
  const scale = 1 / Math.sqrt(s.hs);
  const forward = (i: number) => {
    const [q, k, v] = inputs[i];
    cuda.attention(q, k, v, outs[i], lses[i], s.B, s.T, s.nh, s.hs, scale, true);
  };
  const backward = (i: number) => {
    const [q, k, v, gOut] = inputs[i];
    cuda.attentionGrad(q, k, v, outs[i], lses[i], gOut, gq, gk, gv, s.B, s.T, s.nh, s.hs, scale, true);
  };
  // One untimed pass makes every copy, then rewriting the inputs drops them: their memory goes back to the
  // allocator's cache, as at the end of a training step, so the timed calls reuse it rather than cudaMalloc.
  for (let i = 0; i < sets; i++) {
    forward(i);
    backward(i);
  }
  for (const set of inputs) for (let j = 0; j < set.length; j++) cuda.affine(base[j], set[j], n, 1, 0);
  const forward_ms = timeMs(sets, forward);
  const backward_ms = timeMs(sets, backward);
  for (const st of [...base, ...inputs.flat(), ...outs, ...lses, gq, gk, gv]) cuda.free(st);
  return { forward_ms, backward_ms };
}

type PeerRow = { shape: string; forward_ms: number; forward_backward_ms: number };
const peer = noTorch
  ? new Map<string, PeerRow>()
  : peerRowsByShape<PeerRow>(python, 'bench/cuda_attention_torch.py', [String(repeats), ...shapes.map(spec)]);

const gpu = cuda.device();
const machine = `${gpu.name} (CUDA runtime ${gpu.runtimeVersion}, ${gpu.multiprocessors} SMs); host ${machineDescription()}`;
const forwardFlops = (s: Shape) => (2 * (2 * s.B * s.nh * s.T * s.T * s.hs)) / 2;
const tflops = (flops: number, ms: number) => flops / (ms / 1000) / 1e12;
const figures: Figure[] = [];
const rows: Record<string, unknown>[] = [];
for (const s of shapes) {
  const t = ours(s);
  const p = peer.get(spec(s)) ?? null;
  const both = t.forward_ms + t.backward_ms;
  const f = forwardFlops(s);
  console.error(
    `${s.name.padEnd(30)} bitscale fwd ${t.forward_ms.toFixed(3)} ms (${tflops(f, t.forward_ms).toFixed(0)} TFLOP/s), ` +
      `fwd+bwd ${both.toFixed(3)} ms (${tflops(3.5 * f, both).toFixed(0)})` +
      (p
        ? `  torch fwd ${p.forward_ms.toFixed(3)} ms (${tflops(f, p.forward_ms).toFixed(0)}), fwd+bwd ${p.forward_backward_ms.toFixed(3)} ms (${tflops(3.5 * f, p.forward_backward_ms).toFixed(0)})`
        : ''),
  );
  rows.push({ ...s, ...t, torch: p });
  figures.push(
    {
      ...figure(
        `cuda attention forward ${s.name} causal vs torch sdpa flash`,
        t.forward_ms,
        p?.forward_ms ?? null,
        'ms',
        false,
      ),
      machine,
    },
    {
      ...figure(
        `cuda attention forward+backward ${s.name} causal vs torch sdpa flash`,
        both,
        p?.forward_backward_ms ?? null,
        'ms',
        false,
      ),
      machine,
    },
  );
}
writeFileAtomic(
  process.env.BENCH_OUT ?? 'bench/results/cuda-attention.json',
  `${JSON.stringify({ bench: 'cuda-attention', machine, repeats, date: new Date().toISOString(), shapes: rows }, null, 2)}\n`,
);
for (const fig of figures) console.log(JSON.stringify(fig));
