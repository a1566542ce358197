// lossOf, the training loss, runs the fused head (T.linearCrossEntropy on the final hidden state; fp16 keeps
// the unfused head for its loss scaling): its loss and every parameter's gradient equal those of the unfused
// T.crossEntropy(forward(...)) it replaced, tied and untied, in fp32, bf16 and fp16 compute, on js and cpu.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { resolveModelConfig } from '../../src/nn/config.ts';
import { type ForwardOptions, forward, initParams, lossOf } from '../../src/nn/transformer.ts';
import * as T from '../../src/tensor/index.ts';

const backends = ['js', 'cpu'].filter((name) => 'backend' in T.tryBackend(name));
const [batch, context, V] = [3, 16, 251];

function tokens(seed: number): number[] {
  let s = seed;
  return Array.from({ length: batch * context }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % V;
  });
}

for (const name of backends) {
  for (const tiedEmbeddings of [false, true]) {
    test(`${name}, ${tiedEmbeddings ? 'tied' : 'untied'}: lossOf equals the unfused head, loss and gradients`, () => {
      T.setDefaultBackend(name);
      const config = resolveModelConfig({
        vocabSize: V,
        dModel: 32,
        nLayers: 2,
        nHeads: 2,
        context,
        tiedEmbeddings,
      });
      const params = initParams(config, 7);
      for (const compute of [undefined, 'bf16', 'f16'] as const) {
        const run = (fused: boolean) =>
          T.tidy(() => {
            for (const p of params.values()) p.grad = null;
            const inputs = T.tensor(tokens(1), [batch, context], { dtype: 'i32' });
            const targets = T.tensor(tokens(2), [batch, context], { dtype: 'i32' });
            const options: ForwardOptions = { train: true, compute };
            const loss = fused
              ? lossOf(config, params, inputs, targets, options)
              : T.crossEntropy(forward(config, params, inputs, options), targets);
            T.backward(loss);
            const grads = new Map([...params].map(([k, p]) => [k, Array.from(p.grad!.toArray())]));
            return { loss: loss.item(), grads };
          });
        const want = run(false);
        const ours = run(true);
        const what = `compute ${compute ?? 'fp32'}`;
        assert.ok(
          Math.abs(ours.loss - want.loss) <= 1e-6 * want.loss,
          `${what}: ${ours.loss} vs ${want.loss}`,
        );
        for (const [k, g] of want.grads) {
          const o = ours.grads.get(k)!;
          const scale = Math.max(...g.map(Math.abs));
          const tol = 1e-5 * scale;
          for (let i = 0; i < g.length; i++)
            if (!(Math.abs(o[i] - g[i]) <= tol)) assert.fail(`${what} ${k}[${i}]: ${o[i]} vs ${g[i]}`);
        }
      }
    });
  }
}
