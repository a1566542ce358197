// Resident memory of a long training loop on the cpu backend: RSS after 2,000 steps of the reference model must
// stay within 5% of its value after 100 (tensor lifetimes are scoped, buffers pooled). RSS is sampled after a full
// garbage collection when node runs with --expose-gc (what a leak would leave behind; without it V8's heap sizing
// moves RSS by tens of MiB between collections), and raw as well.
// Usage: node --expose-gc --import tsx bench/memory.ts [--steps 2000]
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import '../src/backends/index.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
import { initParams, lossOf } from '../src/nn/transformer.ts';
import * as T from '../src/tensor/index.ts';
import { AdamW } from '../src/train/adamw.ts';
import { figure, machineDescription } from './machine.ts';

const args = process.argv.slice(2);
const steps = args.includes('--steps') ? Number(args[args.indexOf('--steps') + 1]) : 2000;
const backend = T.setDefaultBackend('cpu');
const model = resolveModelConfig({ vocabSize: 2048, dModel: 128, nLayers: 4, nHeads: 4, context: 128 });
const params = initParams(model, 0);
const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
const B = 16;
const tokens = Int32Array.from({ length: B * model.context }, (_, i) => (i * 7919) % 2048);
const targets = Int32Array.from({ length: B * model.context }, (_, i) => (i * 104729) % 2048);
const rss: Record<number, number> = {};
const rawRss: Record<number, number> = {};
const gc = (globalThis as { gc?: () => void }).gc;
const started = performance.now();
for (let step = 1; step <= steps; step++) {
  T.tidy(() => {
    const x = T.tensor(tokens, [B, model.context], { dtype: 'i32', backend });
    const y = T.tensor(targets, [B, model.context], { dtype: 'i32', backend });
    const loss = lossOf(model, params, x, y, { train: true });
    T.backward(loss);
    loss.item();
  });
  opt.update(1e-3);
  if (step === 100 || step === steps || step % 500 === 0) {
    rawRss[step] = process.memoryUsage().rss / 2 ** 20;
    gc?.();
    rss[step] = process.memoryUsage().rss / 2 ** 20;
    console.error(
      `step ${step}: RSS ${rss[step].toFixed(1)} MiB${gc ? ' after GC' : ''}, raw ${rawRss[step].toFixed(1)} MiB (${((performance.now() - started) / step).toFixed(0)} ms/step)`,
    );
  }
}
// ours = growth ratio RSS(last)/RSS(100); the bar is 1.05, so "peer" records that limit.
const f = figure(
  `RSS${gc ? ' after full GC' : ''} after ${steps} steps / after 100 (reference model, cpu)`,
  rss[steps] / rss[100],
  1.05,
  'ratio',
  false,
);
writeFileAtomic(
  'bench/results/memory.json',
  `${JSON.stringify({ machine: machineDescription(), date: new Date().toISOString(), rssMiB: rss, rawRssMiB: rawRss, gcBeforeSample: Boolean(gc), figures: [f] }, null, 2)}\n`,
);
console.log(JSON.stringify(f));
