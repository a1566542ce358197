// evaluateText: the perplexity `bitscale eval --text` reports, and PTQ δ on a loaded model through src/ptq.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateText } from '../../src/hf/evaluate-text.ts';
import { PtqError } from '../../src/ptq/settings.ts';

const root = join(import.meta.dirname, '../fixtures/hf');
const text = readFileSync(join(root, 'eval.txt'), 'utf8');

test('eval reports transformers-parity perplexity and PTQ δ for RTN and GPTQ on a loaded model', () => {
  const expected = JSON.parse(readFileSync(join(root, 'gpt2.expected.json'), 'utf8'));
  const result = evaluateText(join(root, 'gpt2'), text, {
    backend: 'js',
    window: expected.max_length,
    stride: expected.stride,
    quantize: [
      { format: 'int8', method: 'rtn' },
      { format: 'int2', method: 'rtn', groupSize: 32 },
      { format: 'int3', method: 'gptq', groupSize: 32, calibrationTokens: 1024 },
    ],
  });
  assert.equal(result.textTokens, expected.ids.length);
  assert.ok(Math.abs(result.base.perplexity - expected.ppl) / expected.ppl < 1e-4);
  const [int8, int2, gptq] = result.quantized;
  for (const q of result.quantized) {
    assert.ok(Number.isFinite(q.delta));
    assert.ok(Math.abs(q.nll - result.base.nll - q.delta) < 1e-12);
  }
  // 8-bit weights barely move the loss; 2-bit weights move it far more.
  assert.ok(Math.abs(int8.delta) < 2e-3, `int8 δ ${int8.delta}`);
  assert.ok(Math.abs(int2.delta) > 10 * Math.abs(int8.delta), `int2 δ ${int2.delta} vs int8 δ ${int8.delta}`);
  assert.equal(gptq.method, 'gptq');
});

test('a PTQ request the model cannot take is refused before any evaluation', () => {
  assert.throws(
    () =>
      evaluateText(join(root, 'qwen2'), text, {
        backend: 'js',
        quantize: [{ format: 'int4', method: 'rtn', groupSize: 48 }],
      }),
    (e: unknown) => e instanceof PtqError && /48 does not divide d_model = 64/.test(e.message),
  );
});
