// Our GGUF files read by a reader bitscale did not write: Hugging Face's @huggingface/gguf (the parser the Hub
// uses to show GGUF files). It must see the same version, metadata, tensor names, shapes, ggml types and data
// offsets as our own reader, for every quantization we export.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gguf } from '@huggingface/gguf';
import { exportGguf } from '../../src/export/export-model.ts';
import { readGgufHeader } from '../../src/export/gguf.ts';

const root = join(import.meta.dirname, '../fixtures/hf');

const plain = (v: unknown): unknown =>
  typeof v === 'bigint' ? Number(v) : Array.isArray(v) ? v.map(plain) : v;

for (const [model, quant] of [
  ['llama-gqa-llama3rope', 'q8_0'],
  ['qwen2', 'q4_0'],
  ['gpt2', 'tq2_0'],
  ['gpt2', 'tq1_0'],
] as const) {
  test(`@huggingface/gguf reads our ${quant} export of ${model} as our reader does`, async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bitscale-gguf-peer-')), `${model}.${quant}.gguf`);
    exportGguf(join(root, model), path, { quant, backend: 'js' });
    const ours = readGgufHeader(path);
    const peer = await gguf(path, { allowLocalFile: true });

    assert.equal(Number(peer.metadata.version), ours.version);
    assert.equal(Number(peer.metadata.tensor_count), ours.tensors.length);
    assert.equal(Number(peer.tensorDataOffset), ours.dataStart);
    for (const [key, value] of ours.metadata) {
      assert.ok(key in peer.metadata, `metadata ${key} missing for the peer`);
      assert.deepEqual(
        plain((peer.metadata as Record<string, unknown>)[key]),
        plain(value.type === 'array' ? value.values : value.value),
        `metadata ${key}`,
      );
    }
    assert.deepEqual(
      peer.tensorInfos.map((t) => ({
        name: t.name,
        dims: t.shape.map(Number),
        type: t.dtype,
        offset: Number(t.offset),
      })),
      ours.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, offset: t.offset })),
    );
    // The quantized types are there (and not everything left in F32).
    assert.ok(ours.tensors.some((t) => t.type > 1));
  });
}
