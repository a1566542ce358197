import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CheckpointError, writeSafetensors } from '../../src/io/safetensors.ts';
import { packSigns, packTernary, rowBytes, unpackMatrix } from '../../src/onebit/packed.ts';
import {
  type PackedModel,
  packedModelBits,
  readPackedModel,
  writePackedModel,
} from '../../src/onebit/packed-file.ts';

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}

const dir = mkdtempSync(join(tmpdir(), 'onebit-'));

test('sign and ternary packing round-trip on odd shapes, one byte-aligned row each', () => {
  const rows = 5;
  const cols = 13;
  const w = rand(rows * cols, 1);
  const p = packSigns(w, rows, cols);
  assert.equal(p.codes.length, rows * 2);
  assert.deepEqual(
    [...unpackMatrix(p)],
    [...w].map((v) => (v >= 0 ? 1 : -1)),
  );
  // Row 1 starts on its own byte: its first weight's sign is bit 0 of byte 2.
  assert.equal(p.codes[2] & 1, w[cols] >= 0 ? 1 : 0);
  const t = [...w].map((v) => (v > 0.3 ? 1 : v < -0.3 ? -1 : 0));
  const q = packTernary(t, rows, cols);
  assert.equal(q.codes.length, rows * rowBytes(cols, 'ternary2'));
  assert.equal(rowBytes(cols, 'ternary2'), 4);
  assert.deepEqual([...unpackMatrix(q)], t);
  assert.throws(() => packTernary([2], 1, 1), /t\[0, 0\]: 2/);
});

function model(): PackedModel {
  return {
    linears: new Map([
      ['layers.0.mlp.up', { weight: packSigns(rand(7 * 19, 2), 7, 19), g: rand(19, 3), h: rand(7, 4) }],
      [
        'layers.0.mlp.down',
        { weight: packTernary([...rand(19 * 7, 5)].map(Math.sign), 19, 7), g: rand(7, 6), h: rand(19, 7) },
      ],
    ]),
    dense: new Map([['norm.weight', { dtype: 'F32' as const, shape: [19], data: rand(19, 8) }]]),
  };
}

test('a packed model is written and read back bit-exact (F32 values) and byte-stable (F16 values)', () => {
  const m = model();
  const p32 = join(dir, 'f32.safetensors');
  writePackedModel(p32, m, { valueDtype: 'F32' });
  const back = readPackedModel(p32);
  for (const [name, l] of m.linears) {
    const b = back.linears.get(name)!;
    assert.deepEqual(b.weight, l.weight);
    assert.deepEqual(b.g, l.g);
    assert.deepEqual(b.h, l.h);
  }
  assert.deepEqual(back.dense.get('norm.weight'), m.dense.get('norm.weight'));

  const p16 = join(dir, 'f16.safetensors');
  writePackedModel(p16, m);
  const once = readPackedModel(p16);
  assert.deepEqual(
    once.linears.get('layers.0.mlp.up')!.weight.codes,
    m.linears.get('layers.0.mlp.up')!.weight.codes,
  );
  const g = once.linears.get('layers.0.mlp.up')!.g;
  assert.ok(
    g.some((v, i) => v !== m.linears.get('layers.0.mlp.up')!.g[i]),
    'fp16 rounds g',
  );
  assert.ok(g.every((v, i) => Math.abs(v - m.linears.get('layers.0.mlp.up')!.g[i]) < 1e-3));
  const p16b = join(dir, 'f16-again.safetensors');
  writePackedModel(p16b, once);
  assert.deepEqual(readFileSync(p16b), readFileSync(p16));
});

test('bits per parameter count codes, value vectors and dense tensors exactly', () => {
  const m = model();
  const bits = packedModelBits(m);
  // up: 7 rows of ceil(19/8) = 3 bytes, g 19 + h 7 fp16; down: 19 rows of ceil(14/8) = 2 bytes, g 7 + h 19.
  const up = 7 * 3 * 8 + 26 * 16;
  const down = 19 * 2 * 8 + 26 * 16;
  assert.equal(bits.totalBits, up + down + 19 * 32);
  assert.equal(bits.parameters, 2 * 133 + 19);
  assert.equal(bits.layers.get('layers.0.mlp.up'), up / 133);
  // OneBit's figure for a 4096 x 4096 layer: 1 + 16 (4096 + 4096) / 4096^2 = 1.0078125 bits per weight.
  const big: PackedModel = {
    linears: new Map([
      [
        'w',
        {
          weight: { format: 'sign1', rows: 4096, cols: 4096, codes: new Uint8Array(4096 * 512) },
          g: new Float32Array(4096),
          h: new Float32Array(4096),
        },
      ],
    ]),
    dense: new Map(),
  };
  assert.equal(packedModelBits(big).bitsPerParameter, 1.0078125);
});

test('a packed file whose header disagrees with its data length names the file and the tensor', () => {
  const path = join(dir, 'bad.safetensors');
  // Metadata says [4, 20] sign1 (4 rows of 3 bytes); the codes hold 4 rows of 2 bytes.
  writeSafetensors(
    path,
    new Map([
      ['fc.codes', { dtype: 'U8', shape: [4, 2], data: new Uint8Array(8) }],
      ['fc.g', { dtype: 'F32', shape: [20], data: new Float32Array(20) }],
      ['fc.h', { dtype: 'F32', shape: [4], data: new Float32Array(4) }],
    ]),
    { 'bitscale.layout': 'onebit-packed/1', 'bitscale.packed.fc': '{"format":"sign1","shape":[4,20]}' },
  );
  assert.throws(
    () => readPackedModel(path),
    (e: unknown) =>
      e instanceof CheckpointError &&
      e.path === path &&
      e.tensor === 'fc.codes' &&
      /holds 8 bytes .* needs \[4, 3\] = 12 bytes/.test(e.message),
  );
  const noLayout = join(dir, 'plain.safetensors');
  writeSafetensors(noLayout, new Map());
  assert.throws(() => readPackedModel(noLayout), /bitscale.layout/);
});
