// A long training loop does not leak: 2,000 steps of a small Transformer++ (every op of the reference model:
// embedding, RoPE attention, RMSNorm, SwiGLU, tied head, cross-entropy, backward, AdamW) on the cpu backend.
// Two measures, sampled every 100 steps:
//  - the cpu backend's buffer pool, exactly: bytes held by live tensors must be the same at step 2,000 as at
//    step 100 (a tensor that outlives its step adds its bytes, however small), and no buffer is freshly
//    allocated after step 100 (every step reuses the last one's);
//  - resident memory (RSS) after a full garbage collection (with node --expose-gc), for what the pool cannot
//    see (native or JS-side leaks): RSS(2,000) / RSS(500) must stay within 5%. RSS still climbs ~10% over the
//    first few hundred steps while V8 compiles the step's code, so the baseline is taken after that.
// The model is small (d 64, 2 layers, 64 tokens x 4 sequences a step) because leaks scale with steps and ops,
// not with the model's size: the old reference-size run measured the same thing in 35 minutes, this in ~1.
// Usage: node --expose-gc --import tsx bench/memory.ts [--steps 2000] [--leak (keeps each step's loss: must fail)]. Writes bench/results/memory.json; exits
// 1 when a bar is missed.
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import '../src/backends/index.ts';
import type { CpuBackend } from '../src/backends/cpu/cpu-backend.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
import { initParams, lossOf } from '../src/nn/transformer.ts';
import * as T from '../src/tensor/index.ts';
import { AdamW } from '../src/train/adamw.ts';
import { figure, machineDescription } from './machine.ts';

const args = process.argv.slice(2);
const steps = args.includes('--steps') ? Number(args[args.indexOf('--steps') + 1]) : 2000;
const leak = args.includes('--leak');
const backend = T.setDefaultBackend('cpu');
const pool = backend as unknown as CpuBackend;
const vocab = 512;
const model = resolveModelConfig({ vocabSize: vocab, dModel: 64, nLayers: 2, nHeads: 4, context: 64 });
const B = 4;
const params = initParams(model, 0);
const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
const tokens = Int32Array.from({ length: B * model.context }, (_, i) => (i * 7919) % vocab);
const targets = Int32Array.from({ length: B * model.context }, (_, i) => (i * 104729) % vocab);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc)
  console.error('memory: run with node --expose-gc for RSS after a full collection (raw RSS is noisier)');

interface Sample {
  step: number;
  rssMiB: number;
  rawRssMiB: number;
  liveBytes: number;
  allocations: number;
}
const samples: Sample[] = [];
const started = performance.now();
for (let step = 1; step <= steps; step++) {
  T.tidy(() => {
    const x = T.tensor(tokens, [B, model.context], { dtype: 'i32', backend });
    const y = T.tensor(targets, [B, model.context], { dtype: 'i32', backend });
    const loss = lossOf(model, params, x, y, { train: true });
    T.backward(loss);
    loss.item();
    if (leak) T.keep(loss); // --leak: a self-check that one forgotten scalar per step is caught
  });
  opt.update(1e-3);
  if (step % 100 === 0 || step === steps) {
    const rawRssMiB = process.memoryUsage().rss / 2 ** 20;
    gc?.();
    const { liveBytes, allocations } = pool.poolStats();
    const s = { step, rssMiB: process.memoryUsage().rss / 2 ** 20, rawRssMiB, liveBytes, allocations };
    samples.push(s);
    if (step % 500 === 0 || step === 100)
      console.error(
        `step ${step}: RSS ${s.rssMiB.toFixed(1)} MiB, live tensors ${liveBytes} B, ${allocations} fresh buffers (${((performance.now() - started) / step).toFixed(1)} ms/step)`,
      );
  }
}
const first = samples.find((s) => s.step === 100) ?? samples[0];
const warm = samples.find((s) => s.step === 500) ?? first;
const last = samples.at(-1)!;
// For each figure, "peer" is the bar it must meet.
const figures = [
  figure(
    `live tensor bytes, step ${steps} - step 100 (cpu buffer pool)`,
    last.liveBytes - first.liveBytes,
    0,
    'bytes',
    false,
  ),
  figure(
    `buffers freshly allocated after step 100 (cpu buffer pool)`,
    last.allocations - first.allocations,
    0,
    'buffers',
    false,
  ),
  figure(
    `RSS${gc ? ' after full GC' : ''} at step ${steps} / step ${warm.step} (d64 L2 T64 B4, cpu)`,
    last.rssMiB / warm.rssMiB,
    1.05,
    'ratio',
    false,
  ),
];
const missed = figures.filter((f) => f.ours > f.peer!);
writeFileAtomic(
  'bench/results/memory.json',
  `${JSON.stringify({ machine: machineDescription(), date: new Date().toISOString(), steps, seconds: (performance.now() - started) / 1000, gcBeforeSample: Boolean(gc), samples, figures }, null, 2)}\n`,
);
for (const f of figures) console.log(JSON.stringify(f));
if (missed.length > 0) {
  console.error(`memory: over the bar: ${missed.map((f) => f.bench).join('; ')}`);
  process.exitCode = 1;
}
