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

test('W8A8 on a loaded model: activations quantized per token, and LLM.int8 decomposition at its two extremes', () => {
  const w8a8 = { format: 'int8', method: 'rtn' as const, activations: 'int4' };
  const result = evaluateText(join(root, 'qwen2'), text, {
    backend: 'js',
    window: 64,
    stride: 32,
    quantize: [
      { format: 'int8', method: 'rtn' },
      w8a8,
      // A threshold every |x| reaches: every input dimension is an "outlier", kept fp32 with its weight columns: the model as loaded.
      { ...w8a8, decompose: true, outlierThreshold: 1e-30, calibrationTokens: 256 },
      // A threshold nothing reaches: nothing kept, the same as no decomposition.
      { ...w8a8, decompose: true, outlierThreshold: 1e9, calibrationTokens: 256 },
    ],
  });
  const [weightsOnly, acts, keepAll, keepNone] = result.quantized;
  assert.deepEqual(
    result.quantized.map((q) => [q.activations, q.decomposed]),
    [
      ['fp32', false],
      ['int4', false],
      ['int4', true],
      ['int4', true],
    ],
  );
  assert.notEqual(acts.delta, weightsOnly.delta, 'quantizing the activations changes the loss');
  assert.equal(keepAll.delta, 0);
  assert.equal(keepNone.delta, acts.delta);
});
