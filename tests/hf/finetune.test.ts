// QAT fine-tuning of a loaded Hugging Face model through bitscale's trainer: the run starts from the loaded
// weights (its first loss is the loaded model's), trains at the requested precision, and is a normal run.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateText } from '../../src/hf/evaluate-text.ts';
import { finetuneHf } from '../../src/hf/finetune.ts';
import { loadRun } from '../../src/train/run.ts';

const root = join(import.meta.dirname, '../fixtures/hf');
const text = readFileSync(join(root, 'eval.txt'), 'utf8');

test('a Qwen2 model fine-tuned with int4 weights starts from its own weights and learns the text', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'bitscale-finetune-')), 'run');
  const losses: number[] = [];
  const summary = finetuneHf(join(root, 'qwen2'), out, {
    corpus: join(root, 'eval.txt'),
    validation: join(root, 'eval.txt'),
    precision: { weights: 'int4' },
    train: { tokens: 4096, batchSize: 4, lr: 3e-3, evalTokens: 512, checkpointEvery: 1000 },
    backend: 'js',
    onProgress: (p) => losses.push(p.loss),
  });
  assert.equal(summary.status, 'done');
  const run = loadRun(out, 'js');
  assert.equal(run.config.model.precision.weights, 'int4');
  assert.deepEqual(run.config.model.arch?.biases, ['attn.wq', 'attn.wk', 'attn.wv']);
  assert.ok(losses.at(-1)! < losses[0] - 0.5, `loss ${losses[0]} -> ${losses.at(-1)}`);
  for (const p of run.params.values()) p.dispose();
  const before = evaluateText(join(root, 'qwen2'), text, { backend: 'js' });
  const after = evaluateText(out, text, { backend: 'js' });
  assert.equal(after.textTokens, before.textTokens); // the run's saved tokenizer keeps the Split regex
  assert.ok(after.base.perplexity < before.base.perplexity / 2);
});

test('with a zero learning rate the fine-tuned run is the loaded model at the run precision (int4 PTQ)', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'bitscale-finetune-')), 'run');
  finetuneHf(join(root, 'gpt2'), out, {
    corpus: join(root, 'eval.txt'),
    validation: join(root, 'eval.txt'),
    precision: { weights: 'int4' },
    train: { tokens: 512, batchSize: 4, lr: 0, evalTokens: 256 },
    backend: 'js',
  });
  const ptq = evaluateText(join(root, 'gpt2'), text, {
    backend: 'js',
    quantize: [{ format: 'int4', method: 'rtn' }],
  });
  const run = evaluateText(out, text, { backend: 'js' });
  assert.ok(
    Math.abs(run.base.nll - ptq.quantized[0].nll) < 1e-6,
    `${run.base.nll} vs ${ptq.quantized[0].nll}`,
  );
});
