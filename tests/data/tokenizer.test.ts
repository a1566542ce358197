import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { trainBpe } from '../../src/data/bpe_train.ts';
import { BYTE_TO_UNICODE, pretokenize, toByteLevel } from '../../src/data/byte_level.ts';
import { Tokenizer } from '../../src/data/tokenizer.ts';
import { loadTokenizer, saveTokenizer } from '../../src/data/tokenizer_json.ts';

const SAMPLE = [
  'Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog.',
  'One day, Lily saw a big red ball. "Can I play?" she asked. Her mom said, "Yes, you can!"',
  'The dog ran and ran. It was 3:45 pm and the sun was warm. They were happy all day long.',
];

/** Random text mixing ASCII, accents, CJK, emoji, control characters and whitespace runs. */
function randomText(seed: number, length: number): string {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pools = [
    'abcdefghij ',
    '  \n\t\r',
    'éüßñ—“”’',
    '中文字符日本語',
    '😀🚀👍🏽',
    '\u0000\u0007\u007f\u00a0',
    "'s'll'd 123",
  ];
  let out = '';
  while ([...out].length < length) {
    const pool = [...pools[Math.floor(next() * pools.length)]];
    out += pool[Math.floor(next() * pool.length)];
  }
  return out;
}

test('byte-to-unicode map is a bijection onto printable characters', () => {
  assert.equal(new Set(BYTE_TO_UNICODE).size, 256);
  assert.equal(BYTE_TO_UNICODE[32], 'Ġ');
  assert.equal(BYTE_TO_UNICODE[10], 'Ċ');
  assert.equal(BYTE_TO_UNICODE[65], 'A');
  assert.equal(toByteLevel(' é'), 'ĠÃ©');
});

test('pre-tokenization follows GPT-2: contractions, leading spaces, space runs', () => {
  assert.deepEqual(pretokenize("I'll go  now, ok?"), ['I', "'ll", ' go', ' ', ' now', ',', ' ok', '?']);
  // A whitespace run before a word leaves its last character to stand alone, exactly as GPT-2's regex does.
  assert.deepEqual(pretokenize('abc 123\n\nx'), ['abc', ' 123', '\n', '\n', 'x']);
  assert.deepEqual(pretokenize('a   b'), ['a', '  ', ' b']);
});

test('merges are learned in frequency order, ties to the smaller pair', () => {
  // pre-tokens: "ab", " ab" x3, " cd" x2, " x" -> pairs (a,b)=4, (Ġ,a)=3, (Ġ,c)=2, (c,d)=2, (Ġ,x)=1
  const model = trainBpe(['ab ab ab ab cd cd x'], {
    vocabSize: 256 + 5 + 1,
    specialTokens: ['<|endoftext|>'],
    minPairCount: 1,
  });
  assert.deepEqual(model.merges, [
    ['a', 'b'],
    ['Ġ', 'ab'],
    ['Ġ', 'c'], // (32, 99) < (99, 100): same count as (c, d), smaller ids
    ['Ġc', 'd'],
    ['Ġ', 'x'],
  ]);
  assert.deepEqual(model.specialTokens, [{ content: '<|endoftext|>', id: 261 }]);
  assert.equal(model.vocab.length, 262);
});

test('minPairCount stops merging before pairs seen too rarely', () => {
  const model = trainBpe(['ab ab ab ab cd cd x'], { vocabSize: 300, minPairCount: 2 });
  assert.equal(model.merges.length, 4);
});

/** Reference BPE: recounts every pair over every word at each step (slow, obviously right). */
function naiveMerges(text: string, merges: number): [string, string][] {
  let words = new Map<string, { symbols: string[]; count: number }>();
  for (const piece of pretokenize(text)) {
    const w = toByteLevel(piece);
    const entry = words.get(w) ?? { symbols: [...w], count: 0 };
    entry.count++;
    words.set(w, entry);
  }
  const ids = new Map<string, number>(BYTE_TO_UNICODE.map((ch, i) => [ch, i]));
  const out: [string, string][] = [];
  while (out.length < merges) {
    const counts = new Map<string, number>();
    for (const { symbols, count } of words.values()) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${ids.get(symbols[i])},${ids.get(symbols[i + 1])}`;
        counts.set(key, (counts.get(key) ?? 0) + count);
      }
    }
    let best: [number, number] | null = null;
    let bestCount = 0;
    for (const [key, count] of counts) {
      const pair = key.split(',').map(Number) as [number, number];
      const better =
        count > bestCount ||
        (count === bestCount &&
          best !== null &&
          (pair[0] < best[0] || (pair[0] === best[0] && pair[1] < best[1])));
      if (better) [best, bestCount] = [pair, count];
    }
    if (best === null || bestCount < 2) break;
    const tokens = [...ids.keys()];
    const byId = new Map([...ids].map(([t, i]) => [i, t]));
    const [a, b] = [byId.get(best[0])!, byId.get(best[1])!];
    ids.set(a + b, tokens.length);
    out.push([a, b]);
    const rewritten = new Map<string, { symbols: string[]; count: number }>();
    for (const [w, { symbols, count }] of words) {
      const next: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(symbols[i]);
      }
      rewritten.set(w, { symbols: next, count });
    }
    words = rewritten;
  }
  return out;
}

test('incremental pair counts give the same merges as recounting from scratch', () => {
  const text = `${SAMPLE.join('\n')} aaaa aaaaa baaab ${randomText(7, 400)}`;
  const expected = naiveMerges(text, 120);
  const model = trainBpe([text], { vocabSize: 256 + expected.length, minPairCount: 2 });
  assert.deepEqual(model.merges, expected);
});

test('encode/decode round-trips arbitrary UTF-8 exactly, special tokens included', () => {
  const model = trainBpe([...Array(20).fill(SAMPLE).flat(), randomText(1, 2000)], {
    vocabSize: 600,
    specialTokens: ['<|endoftext|>'],
  });
  const tokenizer = new Tokenizer(model);
  for (let seed = 0; seed < 30; seed++) {
    const text = randomText(seed + 100, 300);
    assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
  }
  const withSpecial = `${SAMPLE[0]}<|endoftext|>${SAMPLE[1]}<|endoftext|>`;
  const ids = tokenizer.encode(withSpecial);
  assert.equal(ids.filter((id) => id === tokenizer.specialId('<|endoftext|>')).length, 2);
  assert.equal(tokenizer.decode(ids), withSpecial);
  assert.deepEqual(tokenizer.encode(''), []);
  // Learned merges compress text the tokenizer was trained on.
  assert.ok(tokenizer.encode(SAMPLE[0]).length < Buffer.byteLength(SAMPLE[0]) / 2);
});

test('encoding a word is the same from the cache as fresh', () => {
  const tokenizer = new Tokenizer(trainBpe(SAMPLE, { vocabSize: 400 }));
  const first = tokenizer.encode(SAMPLE.join(' '));
  const again = tokenizer.encode(SAMPLE.join(' '));
  const fresh = new Tokenizer(trainBpe(SAMPLE, { vocabSize: 400 })).encode(SAMPLE.join(' '));
  assert.deepEqual(again, first);
  assert.deepEqual(fresh, first);
});

test('tokenizer.json save then load gives an equal tokenizer', () => {
  const tokenizer = new Tokenizer(trainBpe(SAMPLE, { vocabSize: 420, specialTokens: ['<|endoftext|>'] }));
  const path = join(mkdtempSync(join(tmpdir(), 'bitscale-tok-')), 'tokenizer.json');
  saveTokenizer(tokenizer, path);
  const json = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(json.model.type, 'BPE');
  assert.equal(json.pre_tokenizer.type, 'ByteLevel');
  assert.equal(json.decoder.type, 'ByteLevel');
  assert.deepEqual(json.added_tokens[0].content, '<|endoftext|>');
  const loaded = loadTokenizer(path);
  assert.deepEqual(loaded.vocab, tokenizer.vocab);
  assert.deepEqual(loaded.merges, tokenizer.merges);
  assert.deepEqual(loaded.specialTokens, tokenizer.specialTokens);
  const text = `${SAMPLE.join('<|endoftext|>')} ${randomText(3, 200)}`;
  assert.deepEqual(loaded.encode(text), tokenizer.encode(text));
});
