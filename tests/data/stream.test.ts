import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  BatchSampler,
  CorpusError,
  materialize,
  prepareCorpus,
  prepareData,
  ShardError,
  ShardedTokens,
  saveTokenizer,
  streamSource,
  writeTokenFile,
} from '../../src/data/index.ts';
import { loadPreparedCorpus } from '../../src/data/prepare_corpus.ts';
import { readTokenLayout } from '../../src/data/token_file.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'bitscale-stream-'));

/** Distinct documents, so the hash split and the shard boundaries have something to work on. */
function story(i: number): string {
  const animals = ['cat', 'dog', 'fox', 'owl', 'hen', 'bee'];
  return `Story ${i}. The ${animals[i % 6]} met the ${animals[(i * 5 + 1) % 6]} near the river, and they talked until the sun went down over hill number ${i * 7}.`;
}

function xzFile(dir: string, name: string, docs: string[]): string {
  const path = join(dir, name);
  writeFileSync(path.replace(/\.xz$/, ''), docs.join('\n<|endoftext|>\n'));
  execFileSync('xz', ['-zf', path.replace(/\.xz$/, '')]);
  return path;
}

test('a .txt.xz corpus streams into checksummed shards that decode to its documents, and a re-run is instant', async () => {
  const dir = tmp();
  const docs = Array.from({ length: 400 }, (_, i) => story(i));
  const train = xzFile(dir, 'train.txt.xz', docs.slice(0, 360));
  const val = xzFile(dir, 'val.txt.xz', docs.slice(360));
  const options = {
    corpus: train,
    validation: val,
    vocabSize: 300,
    cacheDir: join(dir, 'cache'),
    shardChars: 4000,
  };
  const seen: string[] = [];
  const first = await prepareCorpus(options, (p) => seen.push(p.phase));
  assert.equal(first.reused, false);
  assert.deepEqual([...new Set(seen)], ['tokenizer', 'shards']);
  const m = first.manifest;
  assert.equal(m.split, 'validation-file');
  assert.deepEqual(m.documents, { train: 360, val: 40 });
  assert.ok(m.train.length >= 10, `${m.train.length} shards`);
  assert.equal(m.tokenizer.vocabSize, 300);
  for (const entry of m.train) assert.match(entry.sha256, /^[0-9a-f]{64}$/);
  // Every document comes back, in order, each after <|endoftext|>.
  const data = prepareData(options);
  assert.ok(data.train instanceof ShardedTokens);
  assert.deepEqual(data.stats.cache, { tokenizer: 'hit', train: 'hit', val: 'hit' });
  const text = data.tokenizer!.decode(materialize(data.train));
  assert.equal(
    text,
    docs
      .slice(0, 360)
      .map((d) => `<|endoftext|>${d}`)
      .join(''),
  );
  assert.equal(
    data.tokenizer!.decode(data.val),
    docs
      .slice(360)
      .map((d) => `<|endoftext|>${d}`)
      .join(''),
  );
  // A range across shard boundaries reads the same as the whole stream.
  const all = materialize(data.train);
  const cut = m.train[0].tokens;
  assert.deepEqual(data.train.subarray(cut - 5, cut + 7), all.subarray(cut - 5, cut + 7));
  const batch = new BatchSampler(data.train, 4, 16, 3).batch(2);
  const start = new BatchSampler(all, 4, 16, 3).batch(2);
  assert.deepEqual(batch, start);

  const again = await prepareCorpus(options);
  assert.equal(again.reused, true);
  assert.deepEqual(again.manifest, m);
});

test('prepare resumes: only a missing or damaged shard is made again', async () => {
  const dir = tmp();
  const docs = Array.from({ length: 300 }, (_, i) => story(i));
  const corpus = join(dir, 'docs');
  mkdirSync(corpus);
  writeFileSync(
    join(corpus, 'a.jsonl'),
    docs
      .slice(0, 150)
      .map((text) => JSON.stringify({ text }))
      .join('\n'),
  );
  writeFileSync(
    join(corpus, 'b.jsonl'),
    docs
      .slice(150)
      .map((text) => JSON.stringify({ text, id: 1 }))
      .join('\n'),
  );
  const options = {
    corpus,
    vocabSize: 300,
    cacheDir: join(dir, 'cache'),
    shardChars: 3000,
    valFraction: 0.1,
  };
  const first = await prepareCorpus(options);
  assert.equal(first.manifest.split, 'hash');
  assert.equal(first.manifest.documents.train + first.manifest.documents.val, 300);
  const shard = (i: number) => join(first.dir, first.manifest.train[i].file);
  const mtimes = first.manifest.train.map((_, i) => statSync(shard(i)).mtimeMs);
  // Damage one shard's payload: the manifest check refuses it, naming the file; prepare rebuilds just that one.
  const bytes = readFileSync(shard(2));
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(shard(2), bytes);
  assert.throws(
    () => loadPreparedCorpus(first.dir),
    (e: Error) => e instanceof ShardError && e.message.includes(shard(2)) && /checksum/.test(e.message),
  );
  const second = await prepareCorpus(options);
  assert.equal(second.reused, false);
  assert.deepEqual(second.manifest.train, first.manifest.train);
  second.manifest.train.forEach((_, i) => {
    if (i !== 2) assert.equal(statSync(shard(i)).mtimeMs, mtimes[i], `shard ${i} was rewritten`);
  });
  assert.ok(loadPreparedCorpus(first.dir) !== null);
  assert.ok(!readdirSync(first.dir).some((f) => f.endsWith('.tmp')));
});

test('two processes preparing one corpus at once both finish with the same sound shards', async () => {
  const dir = tmp();
  const docs = Array.from({ length: 300 }, (_, i) => story(i));
  const train = xzFile(dir, 'train.txt.xz', docs);
  const options = { corpus: train, vocabSize: 290, cacheDir: join(dir, 'cache'), shardChars: 2000 };
  const entry = new URL('../../src/data/tsx_entry.mjs', import.meta.url).pathname;
  const main = new URL('../../src/data/prepare_main.ts', import.meta.url).href;
  const runOne = () =>
    new Promise<number | null>((done) => {
      const child = spawn(process.execPath, [entry, main, JSON.stringify(options)], { stdio: 'ignore' });
      child.on('close', done);
    });
  assert.deepEqual(await Promise.all([runOne(), runOne()]), [0, 0]);
  const prepared = await prepareCorpus(options);
  assert.equal(prepared.reused, true);
  const data = prepareData(options);
  assert.ok(data.train.length > 0 && data.val.length > 0);
  assert.equal(data.stats.documents!.train + data.stats.documents!.val, 300);
});

test('prepareData prepares a streamed corpus itself (in a child process) when it is not prepared yet', () => {
  const dir = tmp();
  const docs = Array.from({ length: 200 }, (_, i) => story(i));
  const corpus = join(dir, 'c.jsonl');
  writeFileSync(corpus, docs.map((text) => JSON.stringify({ text })).join('\n'));
  const options = { corpus, vocabSize: 280, cacheDir: join(dir, 'cache'), valFraction: 0.2 };
  const first = prepareData(options);
  assert.deepEqual(first.stats.cache, { tokenizer: 'miss', train: 'miss', val: 'miss' });
  assert.equal(first.stats.split, 'hash');
  const second = prepareData(options);
  assert.deepEqual(second.stats.cache, { tokenizer: 'hit', train: 'hit', val: 'hit' });
  assert.deepEqual(materialize(second.train), materialize(first.train));
});

test('bad corpora are refused before any work, naming the path and what is allowed, leaving nothing behind', async () => {
  const dir = tmp();
  const cacheDir = join(dir, 'cache');
  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '');
  const binary = join(dir, 'image.jsonl');
  writeFileSync(binary, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d, 0xff, 0xfe, 0x00, 0x01]));
  const fakeXz = join(dir, 'fake.txt.xz');
  writeFileSync(fakeXz, 'plain text, not xz');
  const noText = join(dir, 'notext.jsonl');
  writeFileSync(noText, '{"body": "hello"}\n');
  const cases: [string, RegExp][] = [
    [
      join(dir, 'missing.txt.xz'),
      /missing\.txt\.xz: cannot read \(ENOENT\); give a file, a folder, or one of: .*gutenberg/,
    ],
    [empty, /empty\.jsonl: is empty/],
    [binary, /image\.jsonl: is binary, not UTF-8 text; allowed: UTF-8 \.txt, \.txt\.xz, \.jsonl/],
    [fakeXz, /fake\.txt\.xz: is named \.xz but is not xz data/],
    [noText, /notext\.jsonl:1: has no "text" string field/],
  ];
  for (const [corpus, message] of cases) {
    await assert.rejects(
      prepareCorpus({ corpus, vocabSize: 300, cacheDir }),
      (e: Error) => e instanceof CorpusError && message.test(e.message),
      corpus,
    );
    assert.throws(
      () => prepareData({ corpus, vocabSize: 300, cacheDir }),
      (e: Error) => message.test(e.message),
    );
  }
  // Every case stops before the cache folder is even made.
  assert.equal(existsSync(cacheDir), false);
  assert.equal(streamSource('tinystories'), null);
});

test('a folder of .bin shards: read in place; a bad checksum or a vocabulary unlike the tokenizer is refused', () => {
  const dir = tmp();
  const shards = join(dir, 'shards');
  mkdirSync(shards);
  const tokens = (n: number, offset: number) =>
    Uint16Array.from({ length: n }, (_, i) => (i * 7 + offset) % 300);
  writeTokenFile(join(shards, 'train_000.bin'), tokens(500, 0), 300);
  writeTokenFile(join(shards, 'train_001.bin'), tokens(700, 3), 300);
  writeTokenFile(join(shards, 'val_000.bin'), tokens(200, 5), 300);
  const data = prepareData({ corpus: shards, cacheDir: join(dir, 'cache') });
  assert.equal(data.vocabSize, 300);
  assert.ok(data.train instanceof ShardedTokens);
  assert.equal(data.train.length, 1200);
  assert.deepEqual(
    data.train.subarray(495, 505),
    Uint16Array.from([...tokens(500, 0).subarray(495), ...tokens(700, 3).subarray(0, 5)]),
  );
  assert.deepEqual(data.val, tokens(200, 5));

  // A tokenizer of another vocabulary: refused, naming the shard, both sizes and the tokenizer.
  const other = prepareData({ corpus: 'tinystories', vocabSize: 320, cacheDir: join(dir, 'cache') });
  const tokPath = join(dir, 'tok.json');
  saveTokenizer(other.tokenizer!, tokPath);
  assert.throws(
    () => prepareData({ corpus: shards, tokenizer: tokPath }),
    (e: Error) =>
      e instanceof ShardError &&
      /train_000\.bin: vocabulary 300 does not match the tokenizer .*tok\.json \(320\)/.test(e.message),
  );
  // One flipped byte: the checksum in the header no longer holds.
  const path = join(shards, 'train_001.bin');
  const bytes = readFileSync(path);
  bytes[100] ^= 1;
  writeFileSync(path, bytes);
  assert.throws(
    () => prepareData({ corpus: shards }),
    (e: Error) => e instanceof ShardError && e.message.includes(path) && /checksum mismatch/.test(e.message),
  );
  assert.equal(readTokenLayout(join(shards, 'val_000.bin')).count, 200);
  // Without validation shards there is nothing to validate on: say how to give them.
  const noVal = join(dir, 'noval');
  mkdirSync(noVal);
  writeTokenFile(join(noVal, 'a.bin'), tokens(100, 0), 300);
  writeTokenFile(join(noVal, 'b.bin'), tokens(100, 1), 300);
  assert.throws(() => prepareData({ corpus: noVal }), /needs validation shards: name them \*val\*/);
});
