// Parity with transformers on the tiny random models of tests/fixtures/hf (made on the GPU machine with
// transformers' save_pretrained; each NAME.expected.json holds transformers' token ids of eval.txt, its fp32
// sliding-window perplexity with the window and stride used, and the logits of the first 16 tokens).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadHfModel } from '../../src/hf/load.ts';
import { slidingWindowPerplexity } from '../../src/hf/perplexity.ts';
import { forward } from '../../src/nn/transformer.ts';
import * as T from '../../src/tensor/index.ts';

const root = join(import.meta.dirname, '../fixtures/hf');
const text = readFileSync(join(root, 'eval.txt'), 'utf8');
const fixtures = ['gpt2', 'qwen2', 'llama-gqa-llama3rope', 'llama-tied-linearrope-sharded'];

for (const name of fixtures) {
  test(`${name}: token ids, logits and sliding-window perplexity match transformers`, () => {
    const expected = JSON.parse(readFileSync(join(root, `${name}.expected.json`), 'utf8'));
    const model = loadHfModel(join(root, name), { backend: 'js' });
    try {
      assert.deepEqual(model.tokenizer!.encode(text), expected.ids);
      const logits = T.tidy(() =>
        T.noGrad(() => {
          const x = T.tensor(expected.ids.slice(0, 16), [1, 16], { dtype: 'i32' });
          return forward(model.config, model.params, x, { train: false }).toArray();
        }),
      );
      const V = model.config.vocabSize;
      let worst = 0;
      expected.logits16.forEach((row: number[], t: number) => {
        row.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(logits[t * V + j] - v));
        });
      });
      assert.ok(worst < 1e-4, `largest logit difference ${worst}`);
      const result = slidingWindowPerplexity(model.config, model.params, expected.ids, {
        window: expected.max_length,
        stride: expected.stride,
      });
      assert.equal(result.windows, expected.windows.length);
      const relative = Math.abs(result.perplexity - expected.ppl) / expected.ppl;
      assert.ok(relative <= 1e-4, `perplexity ${result.perplexity} vs transformers ${expected.ppl}`);
    } finally {
      for (const p of model.params.values()) p.dispose();
    }
  });
}
