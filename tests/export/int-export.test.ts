// Quantized models out: integer codes + scales + zero points, and 1-bit/ternary through OneBit's packed
// layout, written and read back bit-exact, and evaluated as the models they are.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportQuantized } from '../../src/export/export-model.ts';
import { inspectFile } from '../../src/export/inspect.ts';
import { dequantizeInt, quantizeIntRtn } from '../../src/export/int-codes.ts';
import { readIntModel, writeIntModel } from '../../src/export/int-file.ts';
import { readExport } from '../../src/export/read-export.ts';
import { evaluateText } from '../../src/hf/evaluate-text.ts';
import { fakeQuantArray } from '../../src/numerics/fake-quant.ts';
import { quantSpec } from '../../src/numerics/spec.ts';

const root = join(import.meta.dirname, '../fixtures/hf');
const text = readFileSync(join(root, 'eval.txt'), 'utf8');
const tmp = () => mkdtempSync(join(tmpdir(), 'bitscale-export-'));

function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 1073741824 - 1) * 0.1;
  });
}

test('RTN codes are the fake-quant grid: dequantized weights within one f32 rounding of fakeQuantArray', () => {
  const [rows, cols] = [12, 48];
  const w = random(rows * cols, 3);
  for (const [format, symmetric, group] of [
    ['int4', true, 16],
    ['int3', false, 0],
    ['int8', true, 0],
    ['int6', false, 24],
  ] as const) {
    const spec = quantSpec(format, {
      symmetric,
      granularity: group ? { kind: 'group', size: group } : { kind: 'row' },
    });
    const q = quantizeIntRtn(w, rows, cols, spec, group);
    const expected = new Float32Array(w.length);
    fakeQuantArray(spec, w, expected, rows, cols, null);
    const got = dequantizeInt(q);
    for (let i = 0; i < w.length; i++)
      assert.ok(
        Math.abs(got[i] - expected[i]) <= Math.abs(expected[i]) * 2 ** -23,
        `${format} [${i}]: ${got[i]} vs ${expected[i]}`,
      );
  }
});

test('int-codes/1 files round-trip bit-exact: same codes, scales, zero points, bytes', () => {
  const [rows, cols] = [8, 40];
  const w = random(rows * cols, 7);
  const q3 = quantizeIntRtn(w, rows, cols, quantSpec('int3', { granularity: { kind: 'group', size: 8 } }), 8);
  const q5 = quantizeIntRtn(
    w,
    rows,
    cols,
    quantSpec('int5', { symmetric: false, granularity: { kind: 'row' } }),
    0,
  );
  const dir = tmp();
  const dense = new Map([['norm.weight', { dtype: 'F32' as const, shape: [cols], data: random(cols, 1) }]]);
  writeIntModel(join(dir, 'a.safetensors'), {
    linears: new Map([
      ['a', q3],
      ['b', q5],
    ]),
    dense,
  });
  const back = readIntModel(join(dir, 'a.safetensors'));
  for (const [name, q] of [
    ['a', q3],
    ['b', q5],
  ] as const) {
    const r = back.linears.get(name)!;
    assert.deepEqual(
      [r.bits, r.rows, r.cols, r.groupSize, r.symmetric],
      [q.bits, q.rows, q.cols, q.groupSize, q.symmetric],
    );
    assert.deepEqual(r.codes, q.codes);
    assert.deepEqual(r.scales, q.scales);
    assert.deepEqual(r.zeros, q.zeros);
    assert.deepEqual(dequantizeInt(r), dequantizeInt(q));
  }
  writeIntModel(join(dir, 'b.safetensors'), { linears: back.linears, dense: back.dense });
  assert.deepEqual(readFileSync(join(dir, 'b.safetensors')), readFileSync(join(dir, 'a.safetensors')));
});

test('an exported model (int4 RTN, int4 GPTQ, ternary) evaluates as itself and near the fake-quant δ', () => {
  const dir = tmp();
  const model = join(root, 'qwen2');
  const fakeQuant = evaluateText(model, text, {
    backend: 'js',
    quantize: [
      { format: 'int4', method: 'rtn', groupSize: 32 },
      { format: 'int4', method: 'gptq', groupSize: 32, calibrationTokens: 1024 },
    ],
  });
  const int4 = exportQuantized(model, join(dir, 'int4.safetensors'), {
    format: 'int4',
    groupSize: 32,
    backend: 'js',
  });
  assert.equal(int4.linears, 2 * 7);
  const exported = evaluateText(int4.path, text, { backend: 'js' });
  // Same codes, scales rounded to f32: the same model up to float rounding.
  assert.ok(Math.abs(exported.base.nll - fakeQuant.quantized[0].nll) < 1e-5);

  const gptq = exportQuantized(model, join(dir, 'gptq.safetensors'), {
    format: 'int4',
    method: 'gptq',
    groupSize: 32,
    calibrationText: text,
    calibrationTokens: 1024,
    backend: 'js',
  });
  // GPTQ's codes with the same calibration tokens: the model src/ptq evaluates, up to f32 scales.
  const gptqEval = evaluateText(gptq.path, text, { backend: 'js' });
  assert.ok(Math.abs(gptqEval.base.nll - fakeQuant.quantized[1].nll) < 1e-5);
  const ternary = exportQuantized(model, join(dir, 'ternary.safetensors'), {
    format: 'ternary',
    backend: 'js',
  });
  const t = readExport(ternary.path);
  const w = t.params.get('blocks.0.attn.wq.weight')!.toArray();
  const [rows, cols] = [64, 64];
  for (let r = 0; r < rows; r++) {
    const levels = new Set(Array.from(w.slice(r * cols, (r + 1) * cols), (v) => Math.abs(v)));
    levels.delete(0);
    assert.equal(levels.size, 1, `row ${r} of a ternary weight has one magnitude`);
  }
  assert.ok(ternary.bytes < int4.bytes);
  // inspect: int4 codes (4 bits) + an f32 scale and a u8 zero point per 32 columns = 5.25 bits per weight;
  // ternary2 codes (2 bits) + f32 g and h vectors over a 64 x 64 weight = 3 bits per weight.
  const rowOf = (path: string, name: string) => inspectFile(path).rows.find((r) => r.name === name)!;
  const i4 = rowOf(int4.path, 'blocks.0.attn.wq.weight');
  assert.deepEqual([i4.format, i4.shape, i4.bitsPerParameter], ['int4 sym g32', [64, 64], 5.25]);
  const t2 = rowOf(ternary.path, 'blocks.0.attn.wq.weight');
  assert.deepEqual([t2.format, t2.bitsPerParameter], ['ternary2', 3]);
  assert.equal(rowOf(int4.path, 'tok_emb.weight').format, 'F32');
  // OneBit's SVID initialization of the loaded model: sign1 codes with value vectors, evaluated as stored.
  const onebit = exportQuantized(model, join(dir, 'onebit.safetensors'), { format: 'onebit', backend: 'js' });
  assert.equal(rowOf(onebit.path, 'blocks.0.attn.wq.weight').format, 'sign1');
  const onebitEval = evaluateText(onebit.path, text, { backend: 'js' });
  assert.ok(Number.isFinite(onebitEval.base.nll) && onebitEval.base.nll !== exported.base.nll);
});
