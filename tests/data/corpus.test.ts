import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCorpus } from '../../src/data/corpus.ts';
import { repairMojibake, splitDocuments, tinyStoriesValidationDocuments } from '../../src/data/documents.ts';
import { CorpusError } from '../../src/data/errors.ts';
import { splitByHash } from '../../src/data/split.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'bitscale-corpus-'));

test('documents split on <|endoftext|> when present, else on blank lines', () => {
  assert.deepEqual(splitDocuments('a b\nc<|endoftext|>\nd e\n\nf<|endoftext|>  '), ['a b\nc', 'd e\n\nf']);
  assert.deepEqual(splitDocuments('one\nline two\n\n \nthree\r\n\r\nfour'), [
    'one\nline two',
    'three',
    'four',
  ]);
});

test('TinyStories validation: mojibake repaired, paragraphs joined into stories', () => {
  assert.equal(repairMojibake('â€œHi,â€ she said. Itâ€™s okâ€”fine'), '“Hi,” she said. It’s ok—fine');
  const text =
    'tail of a story.\n\nOnce upon a time, a cat.\n\nThe cat ran.\n\nOne day, the cat slept.\n\nOnce there was a dog.';
  assert.deepEqual(tinyStoriesValidationDocuments(text), [
    'tail of a story.',
    'Once upon a time, a cat.\nThe cat ran.\nOne day, the cat slept.',
    'Once there was a dog.',
  ]);
});

test('the embedded TinyStories corpus loads as stories with its own validation stories', () => {
  const corpus = loadCorpus('tinystories');
  assert.equal(corpus.kind, 'text');
  if (corpus.kind !== 'text') return;
  assert.equal(corpus.documents.length, 2316); // 2,317 pieces, the last cut off mid-story and dropped
  assert.ok(corpus.validation !== null && corpus.validation.length > 700);
  assert.ok(!corpus.validation.some((d) => d.includes('â€')), 'validation keeps mojibake');
  assert.ok(!corpus.documents.some((d) => d.includes('<|endoftext|>')));
  const trainSet = new Set(corpus.documents);
  assert.ok(!corpus.validation.some((d) => trainSet.has(d)), 'validation overlaps train');
});

test('a folder of .txt files is read recursively in name order', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'b.txt'), 'second\n\nthird');
  writeFileSync(join(dir, 'a.txt'), 'first');
  writeFileSync(join(dir, 'sub', 'c.txt'), 'fourth<|endoftext|>fifth');
  writeFileSync(join(dir, 'notes.md'), 'ignored');
  const corpus = loadCorpus(dir);
  assert.equal(corpus.kind, 'text');
  if (corpus.kind === 'text')
    assert.deepEqual(corpus.documents, ['first', 'second', 'third', 'fourth', 'fifth']);
});

test('missing, empty, non-UTF-8 and text-less inputs fail naming the file', () => {
  const dir = tmp();
  const missing = join(dir, 'nope.txt');
  assert.throws(
    () => loadCorpus(missing),
    (e: Error) => e instanceof CorpusError && e.message.includes(missing),
  );
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, ' \n\n ');
  assert.throws(() => loadCorpus(empty), new RegExp(`${empty}: is empty`));
  const binary = join(dir, 'latin1.txt');
  writeFileSync(binary, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xff]));
  assert.throws(() => loadCorpus(binary), new RegExp(`${binary}: is not valid UTF-8`));
  const folder = join(dir, 'folder');
  mkdirSync(folder);
  assert.throws(() => loadCorpus(folder), new RegExp(`${folder}: folder holds no .txt files`));
  writeFileSync(join(folder, 'bad.txt'), '');
  assert.throws(() => loadCorpus(folder), /bad\.txt: is empty/);
});

test('the hash split is deterministic and adding documents moves none of the others', () => {
  const docs = Array.from({ length: 2000 }, (_, i) => `document number ${i} about ${i % 7} things`);
  const first = splitByHash(docs, 0.1);
  assert.deepEqual(splitByHash(docs, 0.1), first);
  assert.ok(first.val.length > 140 && first.val.length < 260, `val share ${first.val.length}/2000`);
  const more = [...docs.slice(0, 1000), 'a new one', 'and another', ...docs.slice(1000)];
  const second = splitByHash(more, 0.1);
  const oldVal = new Set(first.val);
  assert.deepEqual(
    second.val.filter((d) => docs.includes(d)),
    docs.filter((d) => oldVal.has(d)),
  );
  // A larger fraction only adds documents to validation.
  const wider = new Set(splitByHash(docs, 0.2).val);
  assert.ok(first.val.every((d) => wider.has(d)));
  assert.throws(() => splitByHash(docs, 1), /valFraction = 1 is not allowed/);
});
