// tokenizer.json features beyond the fixtures' defaults: the post-processor's BOS, NFC, Oniguruma's (?i:...).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HfModelError } from '../../src/hf/errors.ts';
import { hfTokenizerFromText, loadHfTokenizer } from '../../src/hf/tokenizer.ts';

const root = join(import.meta.dirname, '../fixtures/hf');
const json = (name: string) => JSON.parse(readFileSync(join(root, name, 'tokenizer.json'), 'utf8'));

test("a TemplateProcessing BOS is put before every text, as transformers' tokenizer(text) does", () => {
  const t = json('gpt2');
  const plain = hfTokenizerFromText(JSON.stringify(t), 'a.json');
  t.post_processor = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [0], tokens: ['<|endoftext|>'] } },
  };
  const withBos = hfTokenizerFromText(JSON.stringify(t), 'b.json');
  assert.deepEqual(withBos.encode('Hello world'), [0, ...plain.encode('Hello world')]);
  t.post_processor.special_tokens['<|endoftext|>'].ids = [100000];
  assert.throws(() => hfTokenizerFromText(JSON.stringify(t), 'c.json'), HfModelError);
});

test('an NFC normalizer composes text before tokenizing', () => {
  const t = json('qwen2');
  t.normalizer = { type: 'NFC' };
  const tokenizer = hfTokenizerFromText(JSON.stringify(t), 'nfc.json');
  assert.deepEqual(tokenizer.encode('caf\u0065\u0301'), tokenizer.encode('caf\u00e9'));
  const plain = loadHfTokenizer(join(root, 'qwen2', 'tokenizer.json'));
  assert.notDeepEqual(plain.encode('caf\u0065\u0301'), plain.encode('caf\u00e9'));
});

test("Qwen2's split regex keeps its case-insensitive contractions", () => {
  const pattern = loadHfTokenizer(join(root, 'qwen2', 'tokenizer.json')).tokenizer.options.splitPattern!;
  assert.deepEqual("IT'Sx it'sx".match(pattern), ['IT', "'S", 'x', ' it', "'s", 'x']);
});
