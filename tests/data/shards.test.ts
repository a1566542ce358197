import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { trainBpe } from '../../src/data/bpe_train.ts';
import { CorpusError } from '../../src/data/errors.ts';
import {
  cachedTokens,
  hashDocuments,
  resolveCacheDir,
  shardPath,
  tokenizeDocuments,
} from '../../src/data/shards.ts';
import { readTokenFile, tokenArrayFor, writeTokenFile } from '../../src/data/token_file.ts';
import { Tokenizer } from '../../src/data/tokenizer.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'bitscale-shards-'));
const DOCS = ['The cat sat on the mat.', 'A dog ran in the park, and the cat ran too.', 'The end.'];
const tokenizer = new Tokenizer(
  trainBpe(DOCS, { vocabSize: 300, specialTokens: ['<|endoftext|>'], minPairCount: 1 }),
);
const eot = tokenizer.specialId('<|endoftext|>');

test('documents become one stream with <|endoftext|> before each', () => {
  const tokens = tokenizeDocuments(DOCS, tokenizer, eot);
  assert.ok(tokens instanceof Uint16Array);
  assert.equal(tokenizer.decode(tokens), DOCS.map((d) => `<|endoftext|>${d}`).join(''));
});

test('shards: miss, then hit, then a corrupted or truncated file is detected and rebuilt', () => {
  const dir = tmp();
  const first = cachedTokens(DOCS, tokenizer, eot, dir);
  assert.equal(first.outcome, 'miss');
  const hit = cachedTokens(DOCS, tokenizer, eot, dir);
  assert.equal(hit.outcome, 'hit');
  assert.equal(hit.path, first.path);
  assert.deepEqual(hit.tokens, first.tokens);

  const bytes = readFileSync(first.path);
  bytes[bytes.length - 1] ^= 0x01; // one flipped bit in the payload
  writeFileSync(first.path, bytes);
  assert.throws(() => readTokenFile(first.path), /checksum mismatch/);
  const repaired = cachedTokens(DOCS, tokenizer, eot, dir);
  assert.equal(repaired.outcome, 'rebuilt');
  assert.deepEqual(repaired.tokens, first.tokens);
  assert.equal(cachedTokens(DOCS, tokenizer, eot, dir).outcome, 'hit');

  truncateSync(first.path, statSync(first.path).size - 3);
  assert.throws(() => readTokenFile(first.path), /truncated/);
  assert.equal(cachedTokens(DOCS, tokenizer, eot, dir).outcome, 'rebuilt');
});

test('the shard key changes with the documents and with the tokenizer', () => {
  const dir = tmp();
  const other = new Tokenizer(
    trainBpe(DOCS, { vocabSize: 270, specialTokens: ['<|endoftext|>'], minPairCount: 1 }),
  );
  const a = cachedTokens(DOCS, tokenizer, eot, dir).path;
  assert.notEqual(cachedTokens([...DOCS, 'more'], tokenizer, eot, dir).path, a);
  assert.notEqual(cachedTokens(DOCS, other, other.specialId('<|endoftext|>'), dir).path, a);
  // Boundaries count: the same characters cut differently are different documents.
  assert.notEqual(hashDocuments(['ab', 'c']), hashDocuments(['a', 'bc']));
  assert.notEqual(shardPath(dir, 'x', 'y'), shardPath(dir, 'x', 'z'));
});

test('cache folder: argument, else $BITSCALE_CACHE, else .bitscale-cache', () => {
  const saved = process.env.BITSCALE_CACHE;
  try {
    process.env.BITSCALE_CACHE = '/tmp/from-env';
    assert.equal(resolveCacheDir('/tmp/given'), '/tmp/given');
    assert.equal(resolveCacheDir(), '/tmp/from-env');
    delete process.env.BITSCALE_CACHE;
    assert.equal(resolveCacheDir(), join(process.cwd(), '.bitscale-cache'));
  } finally {
    if (saved === undefined) delete process.env.BITSCALE_CACHE;
    else process.env.BITSCALE_CACHE = saved;
  }
});

test('token files: ours in 16 and 32 bits, llm.c format, raw with a JSON sidecar', () => {
  const dir = tmp();
  const small = Uint16Array.from([0, 1, 65535, 42]);
  writeTokenFile(join(dir, 'a.bin'), small, 65536);
  assert.deepEqual(readTokenFile(join(dir, 'a.bin')), { tokens: small, vocabSize: 65536 });
  const wide = tokenArrayFor(100_000, 3);
  assert.ok(wide instanceof Uint32Array);
  wide.set([99_999, 0, 70_000]);
  writeTokenFile(join(dir, 'b.bin'), wide, 100_000);
  assert.deepEqual(readTokenFile(join(dir, 'b.bin')).tokens, wide);

  const header = Buffer.alloc(1024);
  header.writeInt32LE(20240520, 0);
  header.writeInt32LE(1, 4);
  header.writeInt32LE(3, 8);
  writeFileSync(
    join(dir, 'llmc.bin'),
    Buffer.concat([header, Buffer.from(Uint16Array.from([5, 6, 50256]).buffer)]),
  );
  assert.deepEqual(readTokenFile(join(dir, 'llmc.bin')).tokens, Uint16Array.from([5, 6, 50256]));

  writeFileSync(join(dir, 'raw.bin'), Buffer.from(Uint32Array.from([7, 8, 9]).buffer));
  assert.throws(
    () => readTokenFile(join(dir, 'raw.bin')),
    /raw\.bin: no bitscale or llm\.c header, and no sidecar/,
  );
  writeFileSync(join(dir, 'raw.bin.json'), JSON.stringify({ dtype: 'uint32', vocab_size: 10 }));
  assert.deepEqual(readTokenFile(join(dir, 'raw.bin')), {
    tokens: Uint32Array.from([7, 8, 9]),
    vocabSize: 10,
  });
  writeFileSync(join(dir, 'raw.bin.json'), JSON.stringify({ dtype: 'int8' }));
  assert.throws(
    () => readTokenFile(join(dir, 'raw.bin')),
    /raw\.bin\.json: dtype is "int8"; allowed: uint16, uint32/,
  );

  writeFileSync(join(dir, 'empty.bin'), '');
  assert.throws(
    () => readTokenFile(join(dir, 'empty.bin')),
    (e: Error) => e instanceof CorpusError && /empty\.bin: is empty/.test(e.message),
  );
});
