// Where a OneBit distillation step spends its time, against an ordinary training step of the teacher's
// shape: the teacher's train step, the student's plain-CE step, the teacher's no-grad forward, and the
// distillation step (teacher forward + student forward/backward + OneBit's KL and hidden-state loss).
// On an H200 at the onebit preset's shape (d512 L7 T512 B64) a distillation step costs 2.3x the teacher's
// training step (README, OneBit);
// run with BITSCALE_CUDA_PROFILE=1 for the per-kernel split.
// Usage: node --import tsx bench/onebit-distill-step.ts [backend] (env BENCH_DMODEL, BENCH_LAYERS, BENCH_CONTEXT, BENCH_BATCH)
import '../src/backends/index.ts';
import { resolveModelConfig } from '../src/nn/config.ts';
import { forward, initParams, lossOf } from '../src/nn/transformer.ts';
import { distillLoss } from '../src/onebit/distill.ts';
import * as T from '../src/tensor/index.ts';
import { withMatmulMode } from '../src/train/compute-dtype.ts';

const backend = T.setDefaultBackend(process.argv[2] ?? 'cpu');
const dModel = Number(process.env.BENCH_DMODEL ?? 256);
const base = {
  vocabSize: 8192,
  dModel,
  nLayers: Number(process.env.BENCH_LAYERS ?? 4),
  nHeads: Math.max(1, dModel / 64),
  context: Number(process.env.BENCH_CONTEXT ?? 128),
};
const teacher = resolveModelConfig(base);
const student = resolveModelConfig({ ...base, onebit: true });
const tp = initParams(teacher, 0);
const sp = initParams(student, 1);
const B = Number(process.env.BENCH_BATCH ?? 8);
const n = B * base.context;
const ids = (mult: number) =>
  T.tensor(
    Int32Array.from({ length: n }, (_, i) => (i * mult) % base.vocabSize),
    [B, base.context],
    { dtype: 'i32', backend },
  ).keep();
const inputs = ids(7919);
const targets = ids(104729);
const compute = backend.name === 'cuda' ? ('bf16' as const) : undefined;
const time = (name: string, fn: () => number) => {
  fn();
  const t0 = performance.now();
  const reps = 3;
  for (let i = 0; i < reps; i++) fn();
  const ms = (performance.now() - t0) / reps;
  console.log(
    `${name.padEnd(22)} ${ms.toFixed(1).padStart(8)} ms  ${((n / ms) * 1000).toFixed(0).padStart(9)} tokens/s`,
  );
};
withMatmulMode(backend, compute, () => {
  const step = (c: typeof teacher, p: typeof tp) => () =>
    T.tidy(() => {
      const l = lossOf(c, p, inputs, targets, { train: true, compute });
      T.backward(l);
      return l.item();
    });
  time('teacher train step', step(teacher, tp));
  time('student CE step', step(student, sp));
  time('teacher forward', () =>
    T.tidy(() => T.noGrad(() => T.sum(forward(teacher, tp, inputs, { train: false, compute }))).item()),
  );
  time('distill step', () =>
    T.tidy(() => {
      const th: T.Tensor[] = [];
      const sh: T.Tensor[] = [];
      const t = T.noGrad(() => ({
        logits: forward(teacher, tp, inputs, { train: false, compute, onBlockOutput: (_, x) => th.push(x) }),
        hidden: th,
      }));
      const s = {
        logits: forward(student, sp, inputs, { train: true, compute, onBlockOutput: (_, x) => sh.push(x) }),
        hidden: sh,
      };
      const l = distillLoss(s, t, targets).loss;
      T.backward(l);
      return l.item();
    }),
  );
});
