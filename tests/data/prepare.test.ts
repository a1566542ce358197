import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bigramBaseline, materialize, prepareData, saveTokenizer } from '../../src/data/index.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'bitscale-prepare-'));

function storyFile(dir: string, count: number): string {
  const names = ['Tom', 'Mia', 'Sam', 'Lily', 'Ben'];
  const things = ['a red ball', 'a small boat', 'a big tree', 'a shiny stone'];
  const stories = Array.from(
    { length: count },
    (_, i) =>
      `${names[i % 5]} found ${things[i % 4]} on day ${i}. ${names[(i + 1) % 5]} said, "Let's play!" They were happy.`,
  );
  const path = join(dir, 'stories.txt');
  writeFileSync(path, stories.join('\n<|endoftext|>\n'));
  return path;
}

test('prepareData on a user file: trains a tokenizer, splits by hash, caches everything', () => {
  const dir = tmp();
  const corpus = storyFile(dir, 300);
  const cacheDir = join(dir, 'cache');
  const first = prepareData({ corpus, vocabSize: 320, cacheDir, valFraction: 0.1 });
  assert.equal(first.stats.split, 'hash');
  assert.deepEqual(first.stats.cache, { tokenizer: 'miss', train: 'miss', val: 'miss' });
  assert.equal(first.vocabSize, 320);
  assert.equal(first.stats.documents!.train + first.stats.documents!.val, 300);
  assert.ok(first.stats.bytesPerToken! > 1.5, `compression ${first.stats.bytesPerToken}`);
  const tok = first.tokenizer!;
  const trainText = tok.decode(materialize(first.train));
  assert.ok(trainText.startsWith('<|endoftext|>'));
  assert.equal(trainText.split('<|endoftext|>').length - 1, first.stats.documents!.train);

  const second = prepareData({ corpus, vocabSize: 320, cacheDir, valFraction: 0.1 });
  assert.deepEqual(second.stats.cache, { tokenizer: 'hit', train: 'hit', val: 'hit' });
  assert.deepEqual(second.train, first.train);
  assert.deepEqual(second.val, first.val);
  assert.deepEqual(second.tokenizer!.merges, tok.merges);

  writeFileSync(first.stats.tokenizerPath!, '{"model": '); // a cached tokenizer cut short
  const third = prepareData({ corpus, vocabSize: 320, cacheDir, valFraction: 0.1 });
  assert.deepEqual(third.stats.cache, { tokenizer: 'rebuilt', train: 'hit', val: 'hit' }); // same tokenizer again
  assert.deepEqual(third.train, first.train);
});

test('a separate validation file and a given tokenizer are used as they are', () => {
  const dir = tmp();
  const corpus = storyFile(dir, 100);
  const cacheDir = join(dir, 'cache');
  const trained = prepareData({ corpus, vocabSize: 300, cacheDir });
  const tokPath = join(dir, 'tokenizer.json');
  saveTokenizer(trained.tokenizer!, tokPath);
  const valPath = join(dir, 'val.txt');
  writeFileSync(valPath, 'Mia found a red ball.\n\nTom said, "Hello!"');
  const data = prepareData({ corpus, validation: valPath, tokenizer: tokPath, cacheDir });
  assert.equal(data.stats.split, 'validation-file');
  assert.equal(data.stats.cache.tokenizer, 'given');
  assert.equal(data.stats.documents!.train, 100);
  assert.equal(
    data.tokenizer!.decode(data.val),
    '<|endoftext|>Mia found a red ball.<|endoftext|>Tom said, "Hello!"',
  );
});

test('a pre-tokenized .bin corpus with a sidecar is split in chunks by hash', () => {
  const dir = tmp();
  const path = join(dir, 'tokens.bin');
  const tokens = Uint16Array.from({ length: 50_000 }, (_, i) => (i * 31) % 997);
  writeFileSync(path, Buffer.from(tokens.buffer));
  writeFileSync(`${path}.json`, JSON.stringify({ dtype: 'uint16', vocab_size: 1000 }));
  const data = prepareData({ corpus: path, valFraction: 0.2, cacheDir: join(dir, 'cache') });
  assert.equal(data.tokenizer, null);
  assert.equal(data.vocabSize, 1000);
  assert.equal(data.train.length + data.val.length, 50_000);
  assert.ok(data.val.length > 0 && data.train.length > data.val.length);
  const again = prepareData({ corpus: path, valFraction: 0.2, cacheDir: join(dir, 'cache') });
  assert.deepEqual(again.val, data.val);
});

test('errors name the corpus file or the argument', () => {
  const dir = tmp();
  assert.throws(
    () => prepareData({ corpus: join(dir, 'missing.txt'), cacheDir: dir }),
    /missing\.txt: cannot read/,
  );
  const corpus = storyFile(dir, 20);
  assert.throws(
    () => prepareData({ corpus, vocabSize: 100, cacheDir: dir }),
    /vocabSize = 100 is not allowed/,
  );
  const one = join(dir, 'one.txt');
  writeFileSync(one, 'just one document');
  assert.throws(
    () => prepareData({ corpus: one, vocabSize: 300, cacheDir: dir }),
    /one\.txt: the hash split/,
  );
});

test('the embedded TinyStories corpus: tokens and a bigram baseline that beats the unigram', () => {
  const data = prepareData({ vocabSize: 512, cacheDir: join(tmp(), 'cache') });
  assert.equal(data.stats.split, 'embedded');
  assert.ok(data.train.length > 100_000 && data.val.length > 50_000);
  const { crossEntropy } = bigramBaseline(data.train, data.val, data.vocabSize);
  const freq = new Float64Array(data.vocabSize);
  for (const t of materialize(data.train)) freq[t]++;
  let unigram = 0;
  for (const t of data.val) unigram -= Math.log((freq[t] + 1) / (data.train.length + data.vocabSize));
  unigram /= data.val.length;
  assert.ok(crossEntropy < unigram - 0.5, `bigram ${crossEntropy} vs add-one unigram ${unigram}`);
});
