// Training-step throughput of bitscale next to PyTorch on the same CPU threads, same model, same batch.
// Usage: tsx bench/train-step.ts [reference|1m|all] [--threads 2] [--steps 10] [--js]
// Writes bench/results/train-step.json; ends with one JSON line per figure. The peer (bench/train_step_torch.py)
// runs on /usr/bin/python3 with Debian's python3-torch (`bash scripts/setup.sh --bench`); without it, exit 1.
import { execFileSync } from 'node:child_process';
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import '../src/backends/index.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
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
  reference: {
    name: 'reference d128 L4 T128 B16 V2048',
    d: 128,
    layers: 4,
    heads: 4,
    context: 128,
    batch: 16,
    vocab: 2048,
  },
  '1m': {
    name: '~1M params d128 L5 T256 B8 V2048',
    d: 128,
    layers: 5,
    heads: 4,
    context: 256,
    batch: 8,
    vocab: 2048,
  },
};

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const which = args[0] && !args[0].startsWith('--') ? args[0] : 'reference';
const threads = flag('threads', 2);
const steps = flag('steps', 10);
process.env.BITSCALE_THREADS = String(threads);
const python = peerPython(['torch']);

/** Milliseconds per training step of bitscale on a backend. */
export function bitscaleStep(s: Shape, backendName: string, n: number): number {
  const backend = T.setDefaultBackend(backendName);
  const model = resolveModelConfig({
    vocabSize: s.vocab,
    dModel: s.d,
    nLayers: s.layers,
    nHeads: s.heads,
    context: s.context,
  });
  const params = initParams(model, 0);
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
  const tokens = Int32Array.from({ length: s.batch * s.context }, (_, i) => (i * 7919) % s.vocab);
  const targets = Int32Array.from({ length: s.batch * s.context }, (_, i) => (i * 104729) % s.vocab);
  const step = () => {
    T.tidy(() => {
      const x = T.tensor(tokens, [s.batch, s.context], { dtype: 'i32', backend });
      const y = T.tensor(targets, [s.batch, s.context], { dtype: 'i32', backend });
      const loss = lossOf(model, params, x, y, { train: true });
      T.backward(loss);
      loss.item();
    });
    opt.update(1e-3);
  };
  for (let i = 0; i < 2; i++) step();
  const start = performance.now();
  for (let i = 0; i < n; i++) step();
  const ms = (performance.now() - start) / n;
  for (const t of [...params.values(), ...opt.m.values(), ...opt.v.values()]) t.dispose();
  return ms;
}

function torchStep(s: Shape, n: number): number | null {
  try {
    const out = execFileSync(
      python,
      [
        'bench/train_step_torch.py',
        ...[s.d, s.layers, s.heads, s.context, s.batch, s.vocab, n, threads].map(String),
      ],
      { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } },
    );
    return JSON.parse(out.trim().split('\n').pop()!).ms_per_step;
  } catch (e) {
    console.error(`PyTorch not measured: ${(e as Error).message.split('\n')[0]}`);
    process.exitCode = 1;
    return null;
  }
}

const figures: Figure[] = [];
for (const key of which === 'all' ? Object.keys(shapes) : [which]) {
  const s = shapes[key];
  const tokens = s.batch * s.context;
  const ours = bitscaleStep(s, 'cpu', steps);
  const peer = torchStep(s, steps);
  const perSecond = (ms: number | null) => (ms === null ? null : (tokens / ms) * 1000);
  console.error(
    `${s.name}: bitscale cpu ${ours.toFixed(1)} ms/step, PyTorch ${peer?.toFixed(1) ?? '-'} ms/step (${threads} threads)`,
  );
  figures.push(
    figure(`train step ${s.name} cpu ${threads} threads`, perSecond(ours)!, perSecond(peer), 'tokens/s'),
  );
  if (args.includes('--js')) {
    const js = bitscaleStep(s, 'js', 1);
    figures.push(
      figure(
        `train step ${s.name} js backend`,
        (tokens / js) * 1000,
        perSecond(ours),
        'tokens/s (peer = bitscale cpu)',
      ),
    );
  }
}
writeFileAtomic(
  `bench/results/train-step-${which}.json`,
  `${JSON.stringify({ machine: machineDescription(), date: new Date().toISOString(), figures }, null, 2)}\n`,
);
for (const f of figures) console.log(JSON.stringify(f));
