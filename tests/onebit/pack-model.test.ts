import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveModelConfig } from '../../src/nn/config.ts';
import { initParams, isLinearWeight } from '../../src/nn/transformer.ts';
import { packTransformer } from '../../src/onebit/pack-model.ts';
import { packedModelBits, readPackedModel, writePackedModel } from '../../src/onebit/packed-file.ts';

test('a Transformer++ packs to a OneBit file whose data is exactly the bits counted', () => {
  const config = resolveModelConfig({ vocabSize: 37, dModel: 24, nLayers: 2, nHeads: 2, context: 8 });
  const params = initParams(config, 1);
  const weights = new Map(
    [...params].map(([name, t]) => [name, { shape: t.shape.slice(), data: Float32Array.from(t.toArray()) }]),
  );
  const model = packTransformer(weights, { method: 'svd' });
  assert.deepEqual([...model.linears.keys()], [...params.keys()].filter(isLinearWeight));
  assert.ok(model.dense.has('tok_emb.weight') && model.dense.has('norm.weight'));
  const path = join(mkdtempSync(join(tmpdir(), 'onebit-model-')), 'model.safetensors');
  writePackedModel(path, model);
  const bits = packedModelBits(model);
  // The file: 8-byte length, the header, then the data; the data is exactly the counted bits.
  const file = readFileSync(path);
  const headerBytes = Number(file.readBigUInt64LE(0));
  assert.equal(bits.totalBits, (file.length - 8 - headerBytes) * 8);
  assert.equal(
    bits.parameters,
    [...params.values()].reduce((a, t) => a + t.size, 0),
  );
  // Linear weights at ~1 bit plus value vectors; embeddings and norms at 16: between 1 and 16 bits overall.
  assert.ok(bits.bitsPerParameter > 1 && bits.bitsPerParameter < 16, `${bits.bitsPerParameter}`);
  const back = readPackedModel(path);
  assert.deepEqual([...back.linears.keys()].sort(), [...model.linears.keys()].sort());
  for (const [name, l] of model.linears) assert.deepEqual(back.linears.get(name)!.weight, l.weight);
  for (const p of params.values()) p.dispose();
});
