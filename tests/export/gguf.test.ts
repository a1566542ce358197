// GGUF out: ggml's block layouts byte for byte, the v3 container (header, typed metadata, aligned tensor
// data) read back by our own reader, and whole models exported and read back as the same model.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportGguf } from '../../src/export/export-model.ts';
import { Q4_0, Q8_0, TQ1_0, TQ2_0 } from '../../src/export/ggml-quants.ts';
import { readGgufHeader, readGgufTensorData, writeGguf } from '../../src/export/gguf.ts';
import { inspectFile } from '../../src/export/inspect.ts';

const root = join(import.meta.dirname, '../fixtures/hf');
const text = readFileSync(join(root, 'eval.txt'), 'utf8');
const tmp = () => mkdtempSync(join(tmpdir(), 'bitscale-gguf-'));

test('Q8_0 and Q4_0 blocks are the bytes ggml-quants.c reference quantizers write', () => {
  const x = Float32Array.from({ length: 32 }, (_, j) => j - 16); // -16 .. 15
  const q8 = new Uint8Array(34);
  Q8_0.quantize(x, q8);
  // d = 16/127 as f16 (0x3008), q = round(x * 127/16): -16 -> -127 (0x81), 15 -> 119
  assert.deepEqual([q8[0] | (q8[1] << 8), q8[2], q8[33]], [0x3008, 0x81, 119]);
  const q4 = new Uint8Array(18);
  Q4_0.quantize(x, q4);
  // max = -16 -> d = 2 (f16 0x4000), q = (int8)(x / 2 + 8.5) capped at 15: x0 = -16 -> 0 and x16 = 0 -> 8
  // share byte 0 (low, high nibble); x15 = -1 -> 8 and x31 = 15 -> 15 share byte 15
  assert.deepEqual([q4[0] | (q4[1] << 8), q4[2], q4[17]], [0x4000, 0x80, 0xf8]);
  const back = new Float32Array(32);
  Q4_0.dequantize(q4, back);
  assert.deepEqual([back[0], back[15], back[16], back[31]], [-16, 0, 0, 14]);
});

test('TQ2_0 and TQ1_0 store ternary blocks exactly, in ggml trit order', () => {
  const x = Float32Array.from({ length: 512 }, (_, j) => ((j * 7) % 3) - 1);
  for (const codec of [TQ2_0, TQ1_0]) {
    const bytes = new Uint8Array(2 * codec.blockBytes);
    codec.quantize(x, bytes);
    const back = new Float32Array(512);
    codec.dequantize(bytes, back);
    assert.deepEqual(back, x);
  }
  // TQ1_0: five +1 trits (digit 2) pack to ceil(242 * 256 / 243) = 255, five -1 trits to 0.
  const ones = new Uint8Array(54);
  TQ1_0.quantize(new Float32Array(256).fill(1), ones);
  assert.deepEqual([ones[0], ones[47], ones[48], ones[52] | (ones[53] << 8)], [255, 255, 253, 0x3c00]);
  // TQ2_0: value n*32 + m in bits 2n of byte m: all +1 -> 0b10101010
  const two = new Uint8Array(66);
  TQ2_0.quantize(new Float32Array(256).fill(1), two);
  assert.equal(two[0], 0xaa);
});

test('the GGUF container: magic, version, typed metadata and 32-byte aligned tensors read back', () => {
  const path = join(tmp(), 'a.gguf');
  const data = new Float32Array([1, 2, 3]);
  writeGguf(
    path,
    [
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['x.count', { type: 'u32', value: 7 }],
      ['x.eps', { type: 'f32', value: 0.5 }],
      ['x.list', { type: 'array', itemType: 'string', values: ['a', 'bé'] }],
      ['x.flag', { type: 'bool', value: true }],
    ],
    [
      { name: 'v', dims: [3], type: 0, data: new Uint8Array(data.buffer) },
      { name: 'w', dims: [32, 2], type: 8, data: new Uint8Array(68).fill(1) },
    ],
  );
  const bytes = readFileSync(path);
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'GGUF');
  assert.equal(bytes.readUInt32LE(4), 3);
  assert.equal(bytes.readBigUInt64LE(8), 2n);
  assert.equal(bytes.readBigUInt64LE(16), 5n);
  const file = readGgufHeader(path);
  assert.deepEqual(file.metadata.get('x.list'), { type: 'array', itemType: 'string', values: ['a', 'bé'] });
  assert.deepEqual(file.metadata.get('x.count'), { type: 'u32', value: 7 });
  assert.equal(file.dataStart % 32, 0);
  assert.deepEqual(
    file.tensors.map((t) => [t.name, t.offset, t.bytes]),
    [
      ['v', 0, 12],
      ['w', 32, 68],
    ],
  );
  assert.deepEqual(new Float32Array(readGgufTensorData(path, file.tensors[0]).buffer), data);
  assert.equal(file.fileSize, file.dataStart + 32 + 68 + 28);
});

test('models exported to GGUF read back as the same model: F32 exactly, Q8_0 within a small δ', () => {
  const dir = tmp();
  for (const name of ['gpt2', 'qwen2', 'llama-gqa-llama3rope']) {
    const f32 = exportGguf(join(root, name), join(dir, `${name}.f32.gguf`), {
      quant: 'f32',
      text,
      backend: 'js',
    });
    // q/k permutation, q/k/v fusion and every name invert exactly.
    assert.equal(f32.text!.delta, 0, `${name} F32`);
    const q8 = exportGguf(join(root, name), join(dir, `${name}.q8.gguf`), {
      quant: 'q8_0',
      text,
      backend: 'js',
    });
    assert.ok(Math.abs(q8.text!.delta) < 5e-3, `${name} Q8_0 δ ${q8.text!.delta}`);
    assert.ok(q8.quantized > 0 && q8.bytes < f32.bytes);
    const inspected = inspectFile(q8.path);
    const attn = inspected.rows.find((r) => r.name === 'blk.0.attn_output.weight')!;
    assert.deepEqual([attn.format, attn.bitsPerParameter], ['Q8_0', 8.5]);
    assert.equal(inspected.metadata['general.architecture'], f32.architecture);
  }
});
