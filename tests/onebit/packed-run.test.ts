// A trained run packed to one file that decodes on its own: config and tokenizer travel in the metadata,
// the file reads back bit-exact, and `bitscale sample` on it gives the library's text.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { isPackedFile, readPackedModel, writePackedModel } from '../../src/onebit/packed-file.ts';
import { openPackedModel, packRun, samplePacked } from '../../src/onebit/packed-run.ts';
import { loadRun } from '../../src/train/run.ts';
import { train } from '../../src/train/trainer.ts';
import { smallData, tinyConfig } from '../train/helpers.ts';

test('packRun: a run folder becomes a packed file with its config and tokenizer, and it samples text', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onebit-run-'));
  const run = join(dir, 'run');
  train(tinyConfig({ train: { tokens: 16 * 32 * 4 } }), { outDir: run, backend: 'js', data: smallData() });
  const out = join(dir, 'packed.safetensors');
  const bits = packRun(run, out, { method: 'svd' });
  // `bitscale pack` writes the same file.
  const viaCli = join(dir, 'cli.safetensors');
  const cliBin = (args: string[]) =>
    execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      encoding: 'utf8',
      env: { ...process.env, BITSCALE_THREADS: '1' },
    });
  assert.equal(
    JSON.parse(cliBin(['pack', run, '--out', viaCli, '--svid', 'svd'])).bitsPerParameter,
    bits.bitsPerParameter,
  );
  assert.deepEqual(readFileSync(viaCli), readFileSync(out));
  assert.ok(bits.bitsPerParameter > 1 && bits.bitsPerParameter < 16);
  assert.ok(isPackedFile(out) && !isPackedFile(join(run, 'checkpoint.safetensors')));

  const { config, tokenizer, model } = openPackedModel(out);
  const teacher = loadRun(run, 'js');
  assert.deepEqual(config, teacher.config.model);
  assert.ok(tokenizer);
  const text = 'Once upon a time, a cat';
  assert.deepEqual(tokenizer.encode(text), teacher.tokenizer!.encode(text));
  // Rewriting what was read gives the same bytes: the metadata travels with the model.
  const again = join(dir, 'again.safetensors');
  writePackedModel(again, model);
  assert.deepEqual(readFileSync(again), readFileSync(out));

  const options = { maxTokens: 12, temperature: 0, topK: 1, seed: 0 };
  const sample = samplePacked(out, 'Once upon a time', options);
  assert.ok(sample.startsWith('Once upon a time') && sample.length > 'Once upon a time'.length, sample);
  const cli = cliBin(['sample', out, '--prompt', 'Once upon a time', '--tokens', '12', '--temperature', '0']);
  assert.equal(cli.trimEnd(), sample);
  // With a backend the whole decoder runs there (device-decode.ts): the exact host decoder's text.
  const exact = samplePacked(out, 'Once upon a time', { ...options, kernel: 'exact' });
  assert.equal(samplePacked(out, 'Once upon a time', { ...options, backend: 'js' }), exact);
  const onJs = cliBin([
    'sample',
    out,
    '--prompt',
    'Once upon a time',
    '--tokens',
    '12',
    '--temperature',
    '0',
    '--backend',
    'js',
  ]);
  assert.equal(onJs.trimEnd(), exact);
  assert.throws(
    () => samplePacked(out, 'x', { ...options, kernel: 'exact', backend: 'js' }),
    (e: Error) => e.message.includes(out) && /kernel 'exact' is for the host decoder/.test(e.message),
  );
});

test('a packed file without the model config, or with a header that disagrees with its data, is refused by path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onebit-bad-'));
  const path = join(dir, 'bare.safetensors');
  const codes = new Uint8Array(8).fill(0xff);
  const layer = {
    weight: { format: 'sign1' as const, rows: 8, cols: 8, codes },
    g: new Float32Array(8).fill(1),
    h: new Float32Array(8).fill(1),
  };
  writePackedModel(path, { linears: new Map([['blocks.0.attn.wq.weight', layer]]), dense: new Map() });
  assert.throws(
    () => openPackedModel(path),
    (e: Error) => e.message.includes(path) && /bitscale\.model is missing/.test(e.message),
  );
  // Cut the data short: the header still promises 8 code bytes.
  const bytes = readFileSync(path);
  const cut = join(dir, 'cut.safetensors');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 3));
  assert.throws(
    () => readPackedModel(cut),
    (e: Error) =>
      e.name === 'CheckpointError' &&
      e.message.includes(cut) &&
      /tensor "blocks.0.attn.wq.weight.h": truncated/.test(e.message),
  );
});
