// `bitscale smoke`: proves the engine works on this machine — fits a tiny MLP with autodiff and AdamW-free SGD
// on the chosen backend and prints the loss falling.
import type { Command } from 'commander';
import '../../backends/index.ts';
import * as T from '../../tensor/index.ts';

export function runSmoke(
  backendName?: string,
  steps = 200,
): { backend: string; first: number; last: number } {
  const backend = backendName ? T.setDefaultBackend(backendName) : T.defaultBackend();
  const x = T.randn([64, 8], { seed: 1 }).keep();
  const y = T.tidy(() => T.sum(T.tanh(T.slice(x, 1, 0, 3)), 1, true)).keep();
  const w1 = T.requireGrad(T.affine(T.randn([8, 32], { seed: 2 }), 0.3).keep());
  const w2 = T.requireGrad(T.affine(T.randn([32, 1], { seed: 3 }), 0.3).keep());
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    T.tidy(() => {
      const loss = T.mean(T.square(T.sub(T.matmul(T.gelu(T.matmul(x, w1)), w2), y)));
      T.backward(loss);
      losses.push(loss.item());
      for (const w of [w1, w2]) {
        w.backend.binary(
          'sub',
          w.handle,
          [w.shape[1], 1],
          T.affine(w.grad!, 0.05).handle,
          [w.shape[1], 1],
          w.handle,
          w.shape,
        );
        w.grad!.dispose();
        w.grad = null;
      }
    });
  }
  return { backend: backend.name, first: losses[0], last: losses[losses.length - 1] };
}

export function registerSmoke(program: Command): void {
  program
    .command('smoke')
    .description('check the engine on this machine: train a tiny network and show its loss falling')
    .option('--backend <name>', 'js | cpu (default: $BITSCALE_BACKEND, else cpu if built, else js)')
    .action((opts: { backend?: string }) => {
      const result = runSmoke(opts.backend);
      console.log(`smoke (${result.backend}): loss ${result.first.toFixed(4)} -> ${result.last.toFixed(4)}`);
    });
}
