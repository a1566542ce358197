// Loading tokenizer.json files as Hugging Face `tokenizers` writes them for GPT-2-style byte-level BPE.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TokenizerError } from '../../src/data/errors.ts';
import { loadTokenizer, tokenizerFromJson } from '../../src/data/tokenizer_json.ts';

/** GPT-2's byte order for ids 0..255: printable bytes first, then the rest (so 'Ġ', byte 32, is id 220). */
function gpt2ByteVocab(): Record<string, number> {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const order = [...printable];
  const chars = printable.map((b) => String.fromCharCode(b));
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) {
      order.push(b);
      chars.push(String.fromCharCode(256 + n++));
    }
  }
  return Object.fromEntries(chars.map((ch, id) => [ch, id]));
}

/** A small tokenizer.json in the layout tokenizers 0.13-0.19 writes for GPT-2 (merges as "a b" strings). */
function fixture(): Record<string, unknown> {
  const vocab = gpt2ByteVocab();
  const merges = ['Ġ t', 'h e', 'Ġt he', 'n d', 'Ġ a', 'Ġa nd'];
  merges.forEach((m, i) => {
    vocab[m.replace(' ', '')] = 256 + i;
  });
  vocab['<|endoftext|>'] = 262;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 262,
        content: '<|endoftext|>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: true,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

function writeFixture(json: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'bitscale-hf-')), 'tokenizer.json');
  writeFileSync(path, JSON.stringify(json));
  return path;
}

test('a GPT-2-style tokenizer.json from HF tokenizers encodes with its own ids and merges', () => {
  const tokenizer = loadTokenizer(writeFixture(fixture()));
  assert.equal(tokenizer.vocabSize, 263);
  // 't'=83 'h'=71 'e'=68 'c'=66 'a'=64 'd'=67 'o'=78 'g'=70 'Ġ'=220 (GPT-2's own byte ids)
  // the -> t|he ; " cat" -> Ġ|c|a|t ; " and" -> (n d) then (Ġ a) then (Ġa nd) ; " the" -> Ġthe ; " dog" -> bytes
  const ids = tokenizer.encode('the cat and the dog<|endoftext|>');
  assert.deepEqual(ids, [83, 257, 220, 66, 64, 83, 261, 258, 220, 67, 78, 70, 262]);
  assert.equal(tokenizer.decode(ids), 'the cat and the dog<|endoftext|>');
  assert.equal(tokenizer.specialId('<|endoftext|>'), 262);
});

test('newer layout (merges as pairs) and add_prefix_space load too', () => {
  const json = fixture();
  const model = json.model as { merges: unknown };
  model.merges = (model.merges as string[]).map((m) => m.split(' '));
  json.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
  const tokenizer = loadTokenizer(writeFixture(json));
  assert.deepEqual(tokenizer.encode('the'), [258]); // " the" after the prefix space
  assert.deepEqual(tokenizer.encode(' the'), [258]); // already starts with a space: no second one
  assert.deepEqual(tokenizer.encode('the<|endoftext|>the'), [258, 262, 258]); // each piece gets its space
});

test('settings that would change tokenization silently are refused, naming the field', () => {
  const withNormalizer = { ...fixture(), normalizer: { type: 'NFKC' } };
  assert.throws(() => tokenizerFromJson(withNormalizer, 'x.json'), /x\.json: normalizer is "NFKC"/);
  const wordPiece = fixture();
  (wordPiece.model as { type: string }).type = 'WordPiece';
  assert.throws(() => tokenizerFromJson(wordPiece, 'y.json'), /y\.json: model\.type is "WordPiece"/);
  const badMerge = fixture();
  (badMerge.model as { merges: string[] }).merges.push('q z');
  assert.throws(() => tokenizerFromJson(badMerge, 'z.json'), /z\.json: merge 6 "q z" uses a token missing/);
  const missingByte = fixture();
  delete (missingByte.model as { vocab: Record<string, number> }).vocab.A;
  assert.throws(() => tokenizerFromJson(missingByte, 'w.json'), TokenizerError);
});

test('an unreadable or malformed tokenizer file is named in the error', () => {
  assert.throws(
    () => loadTokenizer('/nonexistent/tokenizer.json'),
    /tokenizer \/nonexistent\/tokenizer\.json: cannot read/,
  );
  const path = writeFixture('');
  writeFileSync(path, '{ not json');
  assert.throws(
    () => loadTokenizer(path),
    (e: Error) => e instanceof TokenizerError && e.message.includes(path),
  );
});
