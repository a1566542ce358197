// The cost of leaving the outlier statistics on (src/nn/outliers.ts): training-step time with the statistics
// collected on every step, against the same steps without, interleaved so drift hits both alike; the amortized
// cost at train.statsEvery = k follows as (sampled - plain) / k. The peer is our own step without statistics.
// On cpu and js, whose kernels run as they are called, also the time inside the statistics alone (observe and
// readWith), which the machine's noise blurs less than a difference of two step times.
// Usage: tsx bench/outlier-stats.ts [--backend cpu|js|cuda] [--steps 20] [--threads 1]
// Writes bench/results/outlier-stats-<backend>.json; ends with one JSON line per figure.
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import '../src/backends/index.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
import { LinearInputStats } from '../src/nn/outliers.ts';
import { initParams, lossOf } from '../src/nn/transformer.ts';
import * as T from '../src/tensor/index.ts';
import { AdamW } from '../src/train/adamw.ts';
import { type Figure, figure, machineDescription } from './machine.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const backendName = option('backend', 'cpu');
const steps = Number(option('steps', '20'));
process.env.BITSCALE_THREADS ??= option('threads', '1');

const cpuShapes = [
  { name: 'quick d64 L3 T64 B16 V512', d: 64, layers: 3, heads: 4, context: 64, batch: 16, vocab: 512 },
  {
    name: 'reference d128 L4 T128 B16 V2048',
    d: 128,
    layers: 4,
    heads: 4,
    context: 128,
    batch: 16,
    vocab: 2048,
  },
];
/** On a GPU: the smallest and largest models of experiments/outliers.yaml. */
const gpuShapes = [
  {
    name: 'outliers d128 L4 T256 B64 V8192',
    d: 128,
    layers: 4,
    heads: 4,
    context: 256,
    batch: 64,
    vocab: 8192,
  },
  {
    name: 'outliers d384 L6 T256 B64 V8192',
    d: 384,
    layers: 6,
    heads: 6,
    context: 256,
    batch: 64,
    vocab: 8192,
  },
];
const shapes = backendName === 'cuda' ? gpuShapes : cpuShapes;

/** Milliseconds per step, [without statistics, with them on every step, inside the statistics], interleaved
 *  step by step. */
function stepTimes(s: (typeof shapes)[number]): [number, number, number] {
  const backend = T.setDefaultBackend(backendName);
  const model = resolveModelConfig({
    vocabSize: s.vocab,
    dModel: s.d,
    nLayers: s.layers,
    nHeads: s.heads,
    context: s.context,
  });
  const params = initParams(model, 0);
  const optimizer = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
  const tokens = Int32Array.from({ length: s.batch * s.context }, (_, i) => (i * 7919) % s.vocab);
  const targets = Int32Array.from(tokens, (t) => (t + 1) % s.vocab);
  const statsTimes: number[] = [];
  const step = (withStats: boolean) => {
    const started = performance.now();
    const collector = withStats ? new LinearInputStats() : null;
    let inside = 0;
    const timed = (fn: () => void) => {
      const t0 = performance.now();
      fn();
      inside += performance.now() - t0;
    };
    const observe = collector && ((name: string, x: T.Tensor) => timed(() => collector.observe(name, x)));
    T.tidy(() => {
      const x = T.tensor(tokens, [s.batch, s.context], { dtype: 'i32', backend });
      const y = T.tensor(targets, [s.batch, s.context], { dtype: 'i32', backend });
      const loss = lossOf(model, params, x, y, { train: true, onLinearInput: observe ?? undefined });
      T.backward(loss);
      loss.item();
    });
    if (collector) {
      timed(() => collector.readWith(params));
      statsTimes.push(inside);
    }
    optimizer.update(1e-3); // reads the gradient norm: the step's synchronization, as in the trainer
    return performance.now() - started;
  };
  step(false);
  step(true); // warm-up of both paths
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < steps; i++) {
    times[i % 2].push(step(i % 2 === 1));
    times[(i + 1) % 2].push(step((i + 1) % 2 === 1));
  }
  for (const p of params.values()) p.dispose();
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  return [median(times[0]), median(times[1]), median(statsTimes.slice(1))]; // past the warm-up
}

const figures: Figure[] = [];
for (const s of shapes) {
  const [plain, sampled, inside] = stepTimes(s);
  const bench = (what: string) => `outlier-stats ${backendName} ${s.name}: ${what}`;
  figures.push(figure(bench('a sampled step'), sampled, plain, 'ms/step', false));
  if (backendName !== 'cuda')
    figures.push(figure(bench('inside the statistics, per sampled step'), inside, null, 'ms'));
  for (const k of [10, 50])
    figures.push(
      figure(bench(`statsEvery ${k}, amortized`), plain + (sampled - plain) / k, plain, 'ms/step', false),
    );
}
writeFileAtomic(
  `bench/results/outlier-stats-${backendName}.json`,
  `${JSON.stringify({ machine: machineDescription(), date: new Date().toISOString(), figures }, null, 2)}\n`,
);
for (const f of figures) console.log(JSON.stringify(f));
