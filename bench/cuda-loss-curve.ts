// Loss curve of one small Transformer++ trained on a backend, to compare cuda with cpu: same config, same seed,
// same batches (drawn on the host from a fixed Markov chain whose best loss is ln 4 ≈ 1.386 nats).
// Usage: tsx bench/cuda-loss-curve.ts run <backend> <out.json> [--steps 300] [--matmul bf16|tf32|fp32]
//          [--fp8 native|emulate] [--dff N] [--shape d1024] [--seed S]
//          (FP8: E4M3 weights and activations, per-tensor scales, on the FP8 tensor cores or as fake quantization;
//          FP8 products need d_ff a multiple of 16: --dff 352 for both runs at the default shape. --shape d1024 is
//          the GPU bench's d1024 L12 T1024 B16 V32768. --seed S changes the initialization and the batches: two
//          seeds of one setting measure the run-to-run noise another setting is judged against)
//        tsx bench/cuda-loss-curve.ts compare <a.json> <b.json> [<c.json> ...] [--out <file>]
//          (default bench/results/cuda-loss-curve.json; gaps are of the 20-step trailing mean, each run against the
//          first, over all steps and over the last 100)
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import '../src/backends/index.ts';
import type { CudaBackend } from '../src/backends/cuda/cuda-backend.ts';
import { philoxFill } from '../src/base/philox.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
import { planLinearCompute } from '../src/nn/low-precision.ts';
import { initParams, lossOf } from '../src/nn/transformer.ts';
import * as T from '../src/tensor/index.ts';
import { AdamW } from '../src/train/adamw.ts';
import { machineDescription } from './machine.ts';

const shapes = {
  default: { config: { vocabSize: 512, dModel: 128, nLayers: 4, nHeads: 4, context: 128 }, batch: 16 },
  d1024: { config: { vocabSize: 32768, dModel: 1024, nLayers: 12, nHeads: 16, context: 1024 }, batch: 16 },
};
let { config, batch } = shapes.default;
let seed = 0;

/** Batch `step`: sequences of a Markov chain where each token has 4 equally likely successors. */
function batchAt(step: number): { x: Int32Array; y: Int32Array } {
  const V = config.vocabSize;
  const n = batch * (config.context + 1);
  const u = new Float64Array(n);
  philoxFill(u, n, 'uniform', 4242 + seed, step * n);
  const seq = new Int32Array(n);
  for (let b = 0; b < batch; b++) {
    const o = b * (config.context + 1);
    seq[o] = Math.floor(u[o] * V);
    for (let t = 1; t <= config.context; t++) {
      const prev = seq[o + t - 1];
      seq[o + t] = (prev * 37 + 11 + Math.floor(u[o + t] * 4) * 101) % V;
    }
  }
  const x = new Int32Array(batch * config.context);
  const y = new Int32Array(batch * config.context);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < config.context; t++) {
      x[b * config.context + t] = seq[b * (config.context + 1) + t];
      y[b * config.context + t] = seq[b * (config.context + 1) + t + 1];
    }
  }
  return { x, y };
}

function train(
  backendName: string,
  steps: number,
  matmul?: string,
  fp8?: 'native' | 'emulate',
  dFf?: number,
): number[] {
  const backend = T.setDefaultBackend(backendName);
  if (backendName === 'cuda' && matmul)
    (backend as CudaBackend).setMatmulMode(matmul as 'bf16' | 'tf32' | 'fp32');
  const precision = fp8
    ? { weights: 'fp8_e4m3', activations: 'fp8_e4m3', kv: 'fp32', weightGranularity: 'tensor' }
    : undefined;
  const model = resolveModelConfig({
    ...config,
    ...(dFf ? { dFf } : {}),
    ...(precision ? { precision } : {}),
  });
  const fp8Linear =
    fp8 !== undefined &&
    planLinearCompute(model, fp8, backend, batch * config.context, '--fp8').path === 'native-fp8';
  const params = initParams(model, seed);
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { x, y } = batchAt(s);
    const loss = T.tidy(() => {
      const l = lossOf(
        model,
        params,
        T.tensor(x, [batch, config.context], { dtype: 'i32', backend }),
        T.tensor(y, [batch, config.context], { dtype: 'i32', backend }),
        { train: true, fp8Linear },
      );
      T.backward(l);
      return l.item();
    });
    const warm = Math.min(1, (s + 1) / 20);
    opt.update(3e-3 * warm);
    losses.push(loss);
  }
  return losses;
}

const smooth = (xs: number[], w = 20) =>
  xs.map((_, i) => xs.slice(Math.max(0, i - w + 1), i + 1).reduce((a, b) => a + b, 0) / Math.min(w, i + 1));

const [command, ...rest] = process.argv.slice(2);
if (command === 'run') {
  const [backendName, out] = rest;
  const opt = (name: string) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const steps = Number(opt('steps') ?? 300);
  const shape = opt('shape') ?? 'default';
  if (!(shape in shapes))
    throw new Error(`--shape '${shape}' is not one of ${Object.keys(shapes).join(', ')}`);
  ({ config, batch } = shapes[shape as keyof typeof shapes]);
  seed = Number(opt('seed') ?? 0);
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`--seed '${opt('seed')}' is not a whole number >= 0`);
  const start = performance.now();
  const fp8 = opt('fp8');
  if (fp8 !== undefined && fp8 !== 'native' && fp8 !== 'emulate')
    throw new Error(`--fp8 '${fp8}' is not native or emulate`);
  const dFf = opt('dff') === undefined ? undefined : Number(opt('dff'));
  const losses = train(backendName, steps, opt('matmul'), fp8, dFf);
  const label = [
    backendName,
    opt('matmul') ? ` (${opt('matmul')} matmul)` : '',
    fp8 ? ` fp8 ${fp8}` : '',
    dFf ? ` dff ${dFf}` : '',
    shape === 'default' ? '' : ` ${shape}`,
    seed ? ` seed ${seed}` : '',
  ].join('');
  const machine =
    backendName === 'cuda' ? (T.getBackend('cuda') as CudaBackend).device().name : machineDescription();
  writeFileAtomic(
    out,
    `${JSON.stringify({ label, machine, seconds: (performance.now() - start) / 1000, config, batch, losses })}\n`,
  );
  console.error(`${label}: first ${losses[0].toFixed(4)} last ${losses.at(-1)!.toFixed(4)}`);
} else if (command === 'compare') {
  const outAt = rest.indexOf('--out');
  const out = outAt >= 0 ? rest[outAt + 1] : 'bench/results/cuda-loss-curve.json';
  const paths = outAt >= 0 ? rest.filter((_, i) => i !== outAt && i !== outAt + 1) : rest;
  const runs = paths.map(
    (p) => JSON.parse(readFileSync(p, 'utf8')) as { label: string; machine: string; losses: number[] },
  );
  const curves = runs.map((r) => smooth(r.losses));
  const steps = Math.min(...runs.map((r) => r.losses.length));
  const table = [];
  for (let s = 0; s < steps; s += 25)
    table.push({ step: s, ...Object.fromEntries(runs.map((r, i) => [r.label, +curves[i][s].toFixed(4)])) });
  table.push({
    step: steps - 1,
    ...Object.fromEntries(runs.map((r, i) => [r.label, +curves[i][steps - 1].toFixed(4)])),
  });
  const gap = (i: number, from: number) => {
    let g = 0;
    for (let s = from; s < steps; s++) g = Math.max(g, Math.abs(curves[0][s] - curves[i][s]));
    return g;
  };
  const maxGap = gap(1, 0);
  const summary = {
    runs: runs.map((r, i) => ({
      label: r.label,
      machine: r.machine,
      finalSmoothed: curves[i][steps - 1],
      maxGapToFirst: gap(i, 0),
      maxGapToFirstLast100: gap(i, Math.max(0, steps - 100)),
    })),
    smoothing: '20-step trailing mean',
    maxGapFirstTwo: maxGap,
    table,
    raw: Object.fromEntries(runs.map((r) => [r.label, r.losses])),
  };
  writeFileAtomic(out, `${JSON.stringify(summary, null, 2)}\n`);
  console.table(table);
  for (const [i, r] of summary.runs.entries())
    if (i > 0)
      console.log(
        JSON.stringify({
          bench: `loss curve ${r.label} vs ${runs[0].label}, max gap of smoothed loss (last 100 steps)`,
          ours: r.maxGapToFirstLast100,
          peer: null,
          ratio: null,
          unit: 'nats',
          machine: [runs[0].machine, r.machine].join(' / '),
        }),
      );
} else {
  throw new Error(`command '${command}' is not one of run, compare`);
}
