// `bitscale smoke`: proves the engine works on this machine in seconds — fits a tiny MLP with autodiff and
// AdamW on the chosen backend and prints the loss falling.
import type { Command } from 'commander';
import '../../backends/index.ts';
import * as T from '../../tensor/index.ts';
import { AdamW } from '../../train/adamw.ts';

export function runSmoke(
  backendName?: string,
  steps = 200,
): { backend: string; first: number; last: number } {
  const backend = backendName ? T.setDefaultBackend(backendName) : T.defaultBackend();
  const x = T.randn([64, 8], { seed: 1 }).keep();
  const y = T.tidy(() => T.sum(T.tanh(T.slice(x, 1, 0, 3)), 1, true)).keep();
  const params = new Map([
    ['w1', T.requireGrad(T.tidy(() => T.affine(T.randn([8, 32], { seed: 2 }), 0.3)).keep())],
    ['w2', T.requireGrad(T.tidy(() => T.affine(T.randn([32, 1], { seed: 3 }), 0.3)).keep())],
  ]);
  const optimizer = new AdamW(params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradClip: 0 });
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = T.tidy(() => {
      const l = T.mean(
        T.square(T.sub(T.matmul(T.gelu(T.matmul(x, params.get('w1')!)), params.get('w2')!), y)),
      );
      T.backward(l);
      return l.item();
    });
    losses.push(loss);
    optimizer.update(0.01);
  }
  return { backend: backend.name, first: losses[0], last: losses[losses.length - 1] };
}

export function registerSmoke(program: Command): void {
  program
    .command('smoke')
    .description('check the engine on this machine: train a tiny network and show its loss falling')
    .option('--backend <name>', 'js | cpu | cuda (default: $BITSCALE_BACKEND, else cpu if built, else js)')
    .action((opts: { backend?: string }) => {
      const result = runSmoke(opts.backend);
      console.log(`smoke (${result.backend}): loss ${result.first.toFixed(4)} -> ${result.last.toFixed(4)}`);
      if (!(result.last < result.first / 10)) {
        process.exitCode = 1;
        console.error('smoke: the loss did not fall tenfold; the engine is not working on this backend');
      }
    });
}
