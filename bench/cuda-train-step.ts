// Training-step throughput of bitscale's cuda backend next to PyTorch (eager and torch.compile) on the same GPU,
// same Transformer++ model, batch and vocabulary: (a) bf16 matmuls with fp32 master weights, (b) QAT with int4
// weights, int8 activations and int4 KV cache, (c) at d1024, FP8: E4M3 weights and activations (per-tensor
// scales) on the FP8 tensor cores (E5M2 gradients; src/tensor/ops/fp8.ts), and the same precision as fake
// quantization around bf16 matmuls (the emulation); PyTorch's peer uses torch._scaled_mm the same way.
// MFU counts model FLOPs 6 N + 12 L T d per token (N includes the tied output head) against the H100's
// 989 TFLOP/s dense bf16 peak (for FP8 also against its 1979 TFLOP/s FP8 peak).
// Usage: tsx bench/cuda-train-step.ts [d512|d1024|all] [--steps 10] [--no-torch] [--modes bf16,qat,fp8,fp8emu]
// (env BENCH_ROUNDING=0: see below; --modes runs only those modes, bitscale's and PyTorch's)
// Writes bench/results/cuda-train-step.json (or $BENCH_OUT); ends with one JSON line per figure.
import { execFileSync } from 'node:child_process';
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import '../src/backends/index.ts';
import type { CudaBackend } from '../src/backends/cuda/cuda-backend.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
import { planLinearCompute } from '../src/nn/low-precision.ts';
import type { PrecisionConfig } from '../src/nn/precision.ts';
import { initParams, lossOf } from '../src/nn/transformer.ts';
import * as T from '../src/tensor/index.ts';
import { AdamW } from '../src/train/adamw.ts';
import { productsRoundTo } from '../src/train/compute-dtype.ts';
import { type Figure, figure, machineDescription } from './machine.ts';
import { peerPython } from './peer-python.ts';

/** The linear layers' number format in a row, and whether it ran on that format's tensor cores or emulated. */
interface StepCompute {
  format: string;
  path: 'native' | 'fake-quant';
}

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
const fp8: PrecisionConfig = {
  weights: 'fp8_e4m3',
  activations: 'fp8_e4m3',
  kv: 'fp32',
  weightGranularity: 'tensor',
};
const PEAK_BF16 = 989e12;
const PEAK_FP8 = 1979e12;

const args = process.argv.slice(2);
const steps = (() => {
  const i = args.indexOf('--steps');
  return i >= 0 ? Number(args[i + 1]) : 10;
})();
const which = args[0] && !args[0].startsWith('--') ? args[0] : 'all';
const allModes = ['bf16', 'qat', 'fp8', 'fp8emu'];
const runModes = (() => {
  const i = args.indexOf('--modes');
  if (i < 0) return allModes;
  const list = (args[i + 1] ?? '').split(',');
  const bad = list.filter((m) => !allModes.includes(m));
  if (bad.length) throw new Error(`--modes: unknown mode ${bad.join(', ')}; allowed: ${allModes.join(', ')}`);
  return list;
})();
// As the trainer runs a bf16 study: activations rounded to bf16 at each layer boundary (src/train/compute-dtype.ts),
// except where the bf16 products round them anyway (productsRound); BENCH_ROUNDING=0 leaves them in fp32 (only the
// products in bf16), as this bench did before 2026-11-28; BENCH_PRODUCTS_ROUND=0 rounds at every boundary.
const rounding = process.env.BENCH_ROUNDING === '0' ? undefined : ('bf16' as const);
// BENCH_FOLDING=0: every gradient summed by an add (T.setGradientFolding), to time what folding saves.
if (process.env.BENCH_FOLDING === '0') T.setGradientFolding(false);

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

/** Milliseconds per training step of bitscale on cuda; `compute` native runs FP8 formats on the tensor cores. */
function bitscaleStep(
  s: Shape,
  precision: PrecisionConfig | undefined,
  n: number,
  compute: 'native' | 'emulate' = 'emulate',
): number {
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
  // 'native' on a card without FP8 fails here, naming the reason.
  const fp8Linear =
    planLinearCompute(model, compute, backend, s.batch * s.context, '--fp8').path === 'native-fp8';
  const params = initParams(model, 0);
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
  const tokens = Int32Array.from({ length: s.batch * s.context }, (_, i) => (i * 7919) % s.vocab);
  const targets = Int32Array.from({ length: s.batch * s.context }, (_, i) => (i * 104729) % s.vocab);
  const step = () => {
    T.tidy(() => {
      const x = T.tensor(tokens, [s.batch, s.context], { dtype: 'i32', backend });
      const y = T.tensor(targets, [s.batch, s.context], { dtype: 'i32', backend });
      T.backward(
        lossOf(model, params, x, y, {
          train: true,
          fp8Linear,
          compute: rounding,
          productsRound: process.env.BENCH_PRODUCTS_ROUND !== '0' && productsRoundTo(backend, rounding),
        }),
      );
    });
    opt.update(1e-3);
  };
  for (let i = 0; i < 2; i++) step();
  backend.synchronize();
  const warm = backend.profile(); // the profile covers the timed steps only
  for (const key of Object.keys(warm ?? {})) delete warm![key];
  const counts = () => backend.addon.halfOnlyCounts?.() ?? [0, 0];
  const [kept, widened] = counts();
  const start = performance.now();
  for (let i = 0; i < n; i++) step();
  backend.synchronize();
  const ms = (performance.now() - start) / n;
  const [keptAfter, widenedAfter] = counts();
  console.error(
    `${s.name} ${precision ? `${precision.weights}/${precision.activations} ${compute}` : 'bf16'}: a step keeps ${(keptAfter - kept) / n} outputs as 16-bit copies alone, ` +
      `${(widenedAfter - widened) / n} of them widened later`,
  );
  const profile = backend.profile();
  if (profile) {
    const rows = Object.entries(profile).sort((a, b) => b[1].ms - a[1].ms);
    const label = precision ? `${precision.weights}/${precision.activations} ${compute}` : 'bf16';
    const how = process.env.BITSCALE_CUDA_PROFILE === 'gpu' ? 'device marks' : 'synchronized per kernel';
    console.error(`profile (a step: ms and calls; ${how}) ${s.name} ${label}, ${ms.toFixed(1)} ms a step:`);
    for (const [name, e] of rows)
      console.error(
        `  ${name.padEnd(36)} ${(e.ms / n).toFixed(3).padStart(9)} ms ${(e.calls / n).toFixed(0).padStart(6)}`,
      );
    for (const key of Object.keys(profile)) delete profile[key];
  }
  for (const t of [...params.values(), ...opt.m.values(), ...opt.v.values()]) t.dispose();
  backend.trimCache();
  return ms;
}

/** PyTorch's ms per step by mode (eager, compile); quant 0 bf16, 1 QAT, 2 FP8 (torch._scaled_mm). */
function torchSteps(s: Shape, quant: 0 | 1 | 2, n: number): Record<string, number> {
  try {
    const out = execFileSync(
      python,
      [
        'bench/cuda_train_step_torch.py',
        ...[s.d, s.layers, s.heads, s.context, s.batch, s.vocab, n, quant].map(String),
        'eager,compile',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const result: Record<string, number> = {};
    for (const line of out.trim().split('\n')) {
      const r = JSON.parse(line);
      if (r.unavailable) console.error(`PyTorch ${r.mode} not measured: ${r.unavailable}`);
      else result[r.mode] = r.ms_per_step;
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
    })
      .trim()
      .split('\n')[0]; // one line per GPU: the host's driver is one
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
  if (runModes.includes('bf16')) ms.bf16 = bitscaleStep(s, undefined, steps);
  if (runModes.includes('qat')) ms.qat = bitscaleStep(s, qat, steps);
  const withFp8 = key === 'd1024';
  if (withFp8 && runModes.includes('fp8')) {
    try {
      ms.fp8 = bitscaleStep(s, fp8, steps, 'native');
    } catch (e) {
      console.error(`bitscale FP8 not measured: ${(e as Error).message}`); // a card without FP8 tensor cores
      process.exitCode = 1;
    }
  }
  if (withFp8 && runModes.includes('fp8emu')) ms.fp8Emulated = bitscaleStep(s, fp8, steps, 'emulate');
  // PyTorch's peers for the modes measured (--modes).
  const tb = noTorch || !runModes.includes('bf16') ? {} : torchSteps(s, 0, steps);
  const tq = noTorch || !runModes.includes('qat') ? {} : torchSteps(s, 1, steps);
  const tf = noTorch || !withFp8 || !runModes.includes('fp8') ? {} : torchSteps(s, 2, steps);
  // [label, bitscale's ms, the peers' ms, the linear layers' compute: format and path (what `bitscale optimize
  // --throughput-from` reads: hardware rates come from the native rows)]
  const modes: [string, number | undefined, Record<string, number>, StepCompute][] = [
    ['bf16', ms.bf16, tb, { format: 'bf16', path: 'native' }],
    ['qat int4/int8/kv-int4', ms.qat, tq, { format: 'int4/int8/kv-int4', path: 'fake-quant' }],
  ];
  if (withFp8)
    modes.push(
      ['fp8 e4m3 w/a native', ms.fp8, tf, { format: 'fp8', path: 'native' }],
      ['fp8 e4m3 w/a fake-quant', ms.fp8Emulated, {}, { format: 'fp8', path: 'fake-quant' }],
    );
  for (const [label, ours, peers, compute] of modes) {
    if (ours === undefined) continue;
    for (const peer of ['eager', 'compile']) {
      if (label.includes('fake-quant')) continue; // PyTorch's FP8 peer is the native one
      const f = figure(
        `cuda train step ${s.name} ${label} vs torch ${peer}`,
        perSecond(ours)!,
        perSecond(peers[peer]),
        'tokens/s',
      );
      f.machine = machine;
      figures.push(f);
    }
    const fp8Mfu = (v: number) =>
      label.startsWith('fp8') ? { mfuFp8Peak: mfu(v) * (PEAK_BF16 / PEAK_FP8) } : {};
    rows.push({
      shape: s.name,
      mode: label,
      compute,
      bitscale: { msPerStep: ours, tokensPerSecond: perSecond(ours), mfu: mfu(ours!), ...fp8Mfu(ours!) },
      torchEager: peers.eager && {
        msPerStep: peers.eager,
        tokensPerSecond: perSecond(peers.eager),
        mfu: mfu(peers.eager),
        ...fp8Mfu(peers.eager),
      },
      torchCompile: peers.compile && {
        msPerStep: peers.compile,
        tokensPerSecond: perSecond(peers.compile),
        mfu: mfu(peers.compile),
        ...fp8Mfu(peers.compile),
      },
    });
    console.error(
      `${s.name} ${label}: bitscale ${perSecond(ours)?.toFixed(0)} tok/s (MFU ${(100 * mfu(ours!)).toFixed(1)}%)` +
        ['eager', 'compile']
          .map((p) =>
            peers[p]
              ? `, torch ${p} ${perSecond(peers[p])?.toFixed(0)} (MFU ${(100 * mfu(peers[p])).toFixed(1)}%)`
              : '',
          )
          .join(''),
    );
  }
  rows.push({
    shape: s.name,
    qatOverBf16: {
      bitscale: ms.qat! / ms.bf16!,
      torchEager: tq.eager && tb.eager && tq.eager / tb.eager,
      torchCompile: tq.compile && tb.compile && tq.compile / tb.compile,
    },
    ...(withFp8
      ? {
          bf16OverFp8: {
            bitscale: ms.fp8 && ms.bf16! / ms.fp8,
            bitscaleFakeQuantOverNative: ms.fp8 && ms.fp8Emulated! / ms.fp8,
            torchEager: tf.eager && tb.eager && tb.eager / tf.eager,
            torchCompile: tf.compile && tb.compile && tb.compile / tf.compile,
          },
        }
      : {}),
  });
  console.error(JSON.stringify(rows.at(-1)));
}
const out = process.env.BENCH_OUT ?? 'bench/results/cuda-train-step.json';
writeFileAtomic(
  out,
  `${JSON.stringify({ machine, gpu, driver, date: new Date().toISOString(), steps, flops: '6 N + 12 L T d per token; peak 989 TFLOP/s bf16', rows, figures }, null, 2)}\n`,
);
for (const f of figures) console.log(JSON.stringify(f));
