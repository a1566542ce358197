// Time of a small training step (forward, backward, AdamW) on the cpu backend, fp32 and emulated bf16 compute,
// with the loss of every step, to compare a tree before and after a change of the step's ops (issue 18's
// fusions): the times say what the change gains, equal losses that it changed no number. Uses only APIs that
// predate the fusions, so the same file runs in an older checkout.
// Usage: BITSCALE_THREADS=1 tsx bench/fused-step.ts [--steps 10] [--warmup 2] [--compute fp32,bf16]
// Prints one JSON line per compute mode: { compute, msPerStep, cpuMsPerStep (medians: wall and this process's
// CPU time, steadier on a shared machine), msAll, losses }.
import '../src/backends/index.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
import { initParams, lossOf } from '../src/nn/transformer.ts';
import * as T from '../src/tensor/index.ts';
import { AdamW } from '../src/train/adamw.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const steps = Number(option('steps', '10'));
const warmup = Number(option('warmup', '2'));
const modes = option('compute', 'fp32,bf16').split(',') as ('fp32' | 'bf16' | 'f16')[];

// bench/train-step.ts's reference shape: d128 L4 T128 B16 V2048.
const [batch, context, vocab] = [16, 128, 2048];
const model = resolveModelConfig({ vocabSize: vocab, dModel: 128, nLayers: 4, nHeads: 4, context });

function run(compute: 'fp32' | 'bf16' | 'f16') {
  const backend = T.setDefaultBackend('cpu');
  const params = initParams(model, 0);
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
  const tokens = Int32Array.from({ length: batch * context }, (_, i) => (i * 7919) % vocab);
  const targets = Int32Array.from({ length: batch * context }, (_, i) => (i * 104729) % vocab);
  const losses: number[] = [];
  const ms: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    T.tidy(() => {
      const x = T.tensor(tokens, [batch, context], { dtype: 'i32', backend });
      const y = T.tensor(targets, [batch, context], { dtype: 'i32', backend });
      const loss = lossOf(model, params, x, y, {
        train: true,
        ...(compute === 'fp32' ? {} : { compute }),
      });
      T.backward(loss);
      losses.push(loss.item());
    });
    opt.update(1e-3);
    if (i >= warmup) {
      ms.push(performance.now() - start);
      const cpu = process.cpuUsage(cpuStart);
      cpuMs.push((cpu.user + cpu.system) / 1000);
    }
  }
  for (const t of [...params.values(), ...opt.m.values(), ...opt.v.values()]) t.dispose();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { compute, msPerStep: median(ms), cpuMsPerStep: median(cpuMs), msAll: ms, losses };
}

for (const compute of modes) console.log(JSON.stringify(run(compute)));
