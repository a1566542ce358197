// Training-step throughput of bitscale's cuda backend next to PyTorch (eager and torch.compile) on the same GPU,
// same Transformer++ model, batch and vocabulary: (a) bf16 matmuls with fp32 master weights, (b) QAT with int4
// weights, int8 activations and int4 KV cache. MFU counts model FLOPs 6 N + 12 L T d per token (N includes the
// tied output head) against the H100's 989 TFLOP/s dense bf16 peak.
// Usage: tsx bench/cuda-train-step.ts [d512|d1024|all] [--steps 10] [--no-torch]
// Writes bench/results/cuda-train-step.json (or $BENCH_OUT); ends with one JSON line per figure.
import { execFileSync } from 'node:child_process';
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import '../src/backends/index.ts';
import type { CudaBackend } from '../src/backends/cuda/cuda-backend.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
import type { PrecisionConfig } from '../src/nn/precision.ts';
import { initParams, lossOf } from '../src/nn/transformer.ts';
import * as T from '../src/tensor/index.ts';
import { AdamW } from '../src/train/adamw.ts';
import { type Figure, figure, machineDescription } from './machine.ts';
import { peerPython } from './peer-python.ts';

interface Shape {
  name: string;
  d: number;
  layers: number;
  heads: number;
  context: number;
  batch: number;
  vocab: number;
}

const shapes: Record<string, Shape> = {
  d512: {
    name: 'd512 L8 T1024 B32 V32768',
    d: 512,
    layers: 8,
    heads: 8,
    context: 1024,
    batch: 32,
    vocab: 32768,
  },
  d1024: {
    name: 'd1024 L12 T1024 B16 V32768',
    d: 1024,
    layers: 12,
    heads: 16,
    context: 1024,
    batch: 16,
    vocab: 32768,
  },
};
const qat: PrecisionConfig = { weights: 'int4', activations: 'int8', kv: 'int4' };
const PEAK_BF16 = 989e12;

const args = process.argv.slice(2);
const steps = (() => {
  const i = args.indexOf('--steps');
  return i >= 0 ? Number(args[i + 1]) : 10;
})();
const which = args[0] && !args[0].startsWith('--') ? args[0] : 'all';

// Fails with how to build the addon when it is missing.
T.getBackend('cuda');
// The PyTorch peer needs a torch built with CUDA (not Debian's): BITSCALE_PEER_PYTHON names its Python.
const noTorch = args.includes('--no-torch');
const python = noTorch ? '' : peerPython(['torch'], 'torch.cuda.is_available()');

function flopsPerToken(s: Shape): number {
  const dff = Math.ceil((8 * s.d) / 3 / 8) * 8;
  const n = s.layers * (4 * s.d * s.d + 3 * s.d * dff) + s.vocab * s.d;
  return 6 * n + 12 * s.layers * s.context * s.d;
}

/** Milliseconds per training step of bitscale on cuda. */
function bitscaleStep(s: Shape, precision: PrecisionConfig | undefined, n: number): number {
  const backend = T.setDefaultBackend('cuda') as CudaBackend;
  backend.setMatmulMode('bf16');
  const model = resolveModelConfig({
    vocabSize: s.vocab,
    dModel: s.d,
    nLayers: s.layers,
    nHeads: s.heads,
    context: s.context,
    ...(precision ? { precision } : {}),
  });
  const params = initParams(model, 0);
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
  const tokens = Int32Array.from({ length: s.batch * s.context }, (_, i) => (i * 7919) % s.vocab);
  const targets = Int32Array.from({ length: s.batch * s.context }, (_, i) => (i * 104729) % s.vocab);
  const step = () => {
    T.tidy(() => {
      const x = T.tensor(tokens, [s.batch, s.context], { dtype: 'i32', backend });
      const y = T.tensor(targets, [s.batch, s.context], { dtype: 'i32', backend });
      T.backward(lossOf(model, params, x, y, { train: true }));
    });
    opt.update(1e-3);
  };
  for (let i = 0; i < 2; i++) step();
  backend.synchronize();
  const start = performance.now();
  for (let i = 0; i < n; i++) step();
  backend.synchronize();
  const ms = (performance.now() - start) / n;
  const profile = backend.profile();
  if (profile) {
    const rows = Object.entries(profile).sort((a, b) => b[1].ms - a[1].ms);
    console.error(`profile (all steps, synchronized per kernel) ${s.name} ${precision ? 'qat' : 'bf16'}:`);
    for (const [name, e] of rows)
      console.error(
        `  ${name.padEnd(36)} ${e.ms.toFixed(1).padStart(9)} ms ${String(e.calls).padStart(7)} calls`,
      );
    for (const key of Object.keys(profile)) delete profile[key];
  }
  for (const t of [...params.values(), ...opt.m.values(), ...opt.v.values()]) t.dispose();
  backend.trimCache();
  return ms;
}

function torchSteps(s: Shape, isQat: boolean, n: number): Record<string, number> {
  try {
    const out = execFileSync(
      python,
      [
        'bench/cuda_train_step_torch.py',
        ...[s.d, s.layers, s.heads, s.context, s.batch, s.vocab, n, isQat ? 1 : 0].map(String),
        'eager,compile',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const result: Record<string, number> = {};
    for (const line of out.trim().split('\n')) {
      const r = JSON.parse(line);
      result[r.mode] = r.ms_per_step;
    }
    return result;
  } catch (e) {
    console.error(`PyTorch not measured: ${(e as Error).message.split('\n')[0]}`);
    process.exitCode = 1;
    return {};
  }
}

const backend = T.getBackend('cuda') as CudaBackend;
const gpu = backend.device();
const driver = (() => {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=driver_version', '--format=csv,noheader'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return `CUDA driver API ${gpu.driverVersion}`;
  }
})();
const machine = `${gpu.name} (driver ${driver}, CUDA runtime ${gpu.runtimeVersion}, ${gpu.multiprocessors} SMs); host ${machineDescription()}`;
const figures: Figure[] = [];
const rows: Record<string, unknown>[] = [];
for (const key of which === 'all' ? Object.keys(shapes) : [which]) {
  const s = shapes[key];
  const tokens = s.batch * s.context;
  const perSecond = (ms: number | undefined) => (ms === undefined ? null : (tokens / ms) * 1000);
  const mfu = (ms: number) => (flopsPerToken(s) * tokens) / (ms / 1000) / PEAK_BF16;
  const ms: Record<string, number | undefined> = {};
  ms.bf16 = bitscaleStep(s, undefined, steps);
  ms.qat = bitscaleStep(s, qat, steps);
  const tb = noTorch ? {} : torchSteps(s, false, steps);
  const tq = noTorch ? {} : torchSteps(s, true, steps);
  for (const [label, ours, peers] of [
    ['bf16', ms.bf16, tb],
    ['qat int4/int8/kv-int4', ms.qat, tq],
  ] as const) {
    for (const peer of ['eager', 'compile']) {
      const f = figure(
        `cuda train step ${s.name} ${label} vs torch ${peer}`,
        perSecond(ours)!,
        perSecond(peers[peer]),
        'tokens/s',
      );
      f.machine = machine;
      figures.push(f);
    }
    rows.push({
      shape: s.name,
      mode: label,
      bitscale: { msPerStep: ours, tokensPerSecond: perSecond(ours), mfu: mfu(ours!) },
      torchEager: peers.eager && {
        msPerStep: peers.eager,
        tokensPerSecond: perSecond(peers.eager),
        mfu: mfu(peers.eager),
      },
      torchCompile: peers.compile && {
        msPerStep: peers.compile,
        tokensPerSecond: perSecond(peers.compile),
        mfu: mfu(peers.compile),
      },
    });
  }
  rows.push({
    shape: s.name,
    qatOverBf16: {
      bitscale: ms.qat! / ms.bf16!,
      torchEager: tq.eager && tb.eager && tq.eager / tb.eager,
      torchCompile: tq.compile && tb.compile && tq.compile / tb.compile,
    },
  });
  console.error(JSON.stringify(rows.slice(-3)));
}
const out = process.env.BENCH_OUT ?? 'bench/results/cuda-train-step.json';
writeFileAtomic(
  out,
  `${JSON.stringify({ machine, gpu, driver, date: new Date().toISOString(), steps, flops: '6 N + 12 L T d per token; peak 989 TFLOP/s bf16', rows, figures }, null, 2)}\n`,
);
for (const f of figures) console.log(JSON.stringify(f));
