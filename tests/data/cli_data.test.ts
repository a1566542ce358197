import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { registerData } from '../../src/cli/commands/data.ts';

async function run(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerData(program);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => lines.push(parts.join(' '));
  try {
    await program.parseAsync(['node', 'bitscale', ...args]);
  } finally {
    console.log = log;
  }
  return lines.join('\n');
}

test('bitscale data reports tokens, cache use and the bigram bar, and saves the tokenizer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-cli-data-'));
  const corpus = join(dir, 'c.txt');
  writeFileSync(
    corpus,
    Array.from({ length: 200 }, (_, i) => `Story ${i}: the cat and the dog ran home.`).join('\n\n'),
  );
  const args = [
    'data',
    '--corpus',
    corpus,
    '--vocab-size',
    '300',
    '--val-fraction',
    '0.2',
    '--cache',
    join(dir, 'cache'),
  ];
  const text = await run([...args, '--save-tokenizer', join(dir, 'tok.json')]);
  assert.match(text, /cache +tokenizer miss, train miss, val miss/);
  assert.match(text, /bigram +\d+\.\d{4} nats\/token/);
  assert.ok(existsSync(join(dir, 'tok.json')));
  const summary = JSON.parse(await run([...args, '--json']));
  assert.deepEqual(summary.cache, { tokenizer: 'hit', train: 'hit', val: 'hit' });
  assert.ok(summary.bigramValLoss > 0 && summary.bigramValLoss < Math.log(300));
  await assert.rejects(
    run(['data', '--vocab-size', 'many']),
    /--vocab-size = "many" is not allowed: a number/,
  );
});

test('bitscale data prepare tokenizes a .txt.xz corpus into shards once, then reports it as prepared', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-cli-prepare-'));
  const text = join(dir, 'c.txt');
  writeFileSync(
    text,
    Array.from({ length: 120 }, (_, i) => `Book ${i}: the fox and the owl walked ${i} miles.`).join(
      '\n<|endoftext|>\n',
    ),
  );
  execFileSync('xz', ['-z', text]);
  const args = [
    'data',
    'prepare',
    '--corpus',
    `${text}.xz`,
    '--vocab-size',
    '300',
    '--cache',
    join(dir, 'cache'),
  ];
  const first = JSON.parse(await run([...args, '--json']));
  assert.equal(first.reused, false);
  assert.equal(first.documents.train + first.documents.val, 120);
  assert.ok(first.dir.startsWith(join(dir, 'cache')));
  assert.ok(existsSync(join(first.dir, 'manifest.json')) && existsSync(join(first.dir, first.train[0].file)));
  const again = await run(args);
  assert.match(again, /already prepared/);
  assert.match(again, /vocabulary 300/);
  await assert.rejects(
    run(['data', 'prepare', '--corpus', join(dir, 'nope.txt')]),
    /nope\.txt: cannot read \(ENOENT\)/,
  );
});
