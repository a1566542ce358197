// What the fused LM head (T.linearCrossEntropy) saves in one training step on the cpu backend: peak bytes of
// live tensors during a step (forward + backward + AdamW) and ms per step, for the unfused head
// (T.crossEntropy of forward's full logits, the training loss before issue 18), the fused head as lossOf runs
// it (default chunks: ≤ 256 MiB of logits) and the fused head in chunks of 256 rows.
// Usage: BITSCALE_THREADS=1 tsx bench/lm-head-step.ts [--vocab 2048] [--steps 5]. Writes
// bench/results/lm-head-step-V<vocab>.json; ends with one JSON line per figure.
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import '../src/backends/index.ts';
import type { DType } from '../src/backends/backend.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
import { forward, hiddenState, initParams, lossOf, type Params } from '../src/nn/transformer.ts';
import * as T from '../src/tensor/index.ts';
import { AdamW } from '../src/train/adamw.ts';
import { type Figure, figure, machineDescription } from './machine.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const vocab = flag('vocab', 2048);
const steps = flag('steps', 5);
const [batch, context] = [16, 128];
const model = resolveModelConfig({ vocabSize: vocab, dModel: 128, nLayers: 4, nHeads: 4, context });
const shape = `d128 L4 T${context} B${batch} V${vocab}`;

// The cpu backend, with the bytes of live storages counted (its buffer pool keeps no peak).
const cpu = T.getBackend('cpu');
const bytesOf = new Map<unknown, number>();
let live = 0;
let peak = 0;
T.registerBackend('cpu-counted', () => ({
  ...cpu,
  alloc: (dtype: DType, size: number) => {
    const handle = cpu.alloc(dtype, size);
    const bytes = size * (dtype === 'bf16' || dtype === 'f16' ? 2 : 4);
    bytesOf.set(handle, bytes);
    live += bytes;
    peak = Math.max(peak, live);
    return handle;
  },
  free: (handle: unknown) => {
    live -= bytesOf.get(handle) ?? 0;
    bytesOf.delete(handle);
    cpu.free(handle);
  },
}));
const backend = T.setDefaultBackend('cpu-counted');

type Head = 'unfused' | 'fused' | 'fused, 256-row chunks';
const lossWith: Record<Head, (p: Params, x: T.Tensor, y: T.Tensor) => T.Tensor> = {
  unfused: (p, x, y) => T.crossEntropy(forward(model, p, x, { train: true }), y),
  fused: (p, x, y) => lossOf(model, p, x, y, { train: true }),
  'fused, 256-row chunks': (p, x, y) =>
    T.linearCrossEntropy(hiddenState(model, p, x, { train: true }), p.get('tok_emb.weight')!, y, {
      chunkRows: 256,
    }),
};

function measure(head: Head) {
  const params = initParams(model, 0);
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
  const tokens = Int32Array.from({ length: batch * context }, (_, i) => (i * 7919) % vocab);
  const targets = Int32Array.from({ length: batch * context }, (_, i) => (i * 104729) % vocab);
  let loss = 0;
  const step = () => {
    loss = T.tidy(() => {
      const x = T.tensor(tokens, [batch, context], { dtype: 'i32', backend });
      const y = T.tensor(targets, [batch, context], { dtype: 'i32', backend });
      const l = lossWith[head](params, x, y);
      T.backward(l);
      return l.item();
    });
    opt.update(1e-3);
  };
  step(); // the optimizer's moments exist from here on
  const before = live;
  peak = live;
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    step();
    times.push(performance.now() - start);
  }
  const stepPeak = peak - before;
  for (const t of [...params.values(), ...opt.m.values(), ...opt.v.values()]) t.dispose();
  const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  return { ms: median, peakMiB: stepPeak / 2 ** 20, loss };
}

const figures: Figure[] = [];
const unfused = measure('unfused');
for (const head of ['unfused', 'fused', 'fused, 256-row chunks'] as const) {
  const r = head === 'unfused' ? unfused : measure(head);
  console.error(
    `${shape} ${head}: ${r.ms.toFixed(0)} ms/step, peak ${r.peakMiB.toFixed(1)} MiB of step tensors above weights and moments (loss ${r.loss.toFixed(4)})`,
  );
  figures.push(
    figure(
      `train step ${shape} cpu, ${head} head: peak step tensors`,
      r.peakMiB,
      unfused.peakMiB,
      'MiB',
      false,
    ),
    figure(`train step ${shape} cpu, ${head} head: time`, r.ms, unfused.ms, 'ms/step', false),
  );
}
writeFileAtomic(
  `bench/results/lm-head-step-V${vocab}.json`,
  `${JSON.stringify({ machine: machineDescription(), threads: process.env.BITSCALE_THREADS ?? 'default', date: new Date().toISOString(), figures }, null, 2)}\n`,
);
for (const f of figures) console.log(JSON.stringify(f));
