// Packed decoding against the model's own fp32 forward (src/nn/transformer.ts) on the unpacked weights
// W = diag(h) S diag(g): logits at every position and greedy samples, through the KV cache.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { type ModelConfig, resolveModelConfig } from '../../src/nn/config.ts';
import { forward, initParams, type Params } from '../../src/nn/transformer.ts';
import { Decoder, denseDecoderWeights, packedDecoderWeights } from '../../src/onebit/decode.ts';
import { packTransformer } from '../../src/onebit/pack-model.ts';
import { packTernary, unpackMatrix } from '../../src/onebit/packed.ts';
import { type PackedModel, readPackedModel, toF32, writePackedModel } from '../../src/onebit/packed-file.ts';
import { decodeTokens } from '../../src/onebit/packed-run.ts';
import * as T from '../../src/tensor/index.ts';
import { sampleTokens } from '../../src/train/generate.ts';

const dir = mkdtempSync(join(tmpdir(), 'onebit-decode-'));

/** A random Transformer++ packed to OneBit, written and read back (g, h in fp16 as stored). */
function packedModel(config: ModelConfig, seed: number): PackedModel {
  const params = initParams(config, seed);
  const weights = new Map(
    [...params].map(([name, t]) => [name, { shape: t.shape.slice(), data: Float32Array.from(t.toArray()) }]),
  );
  for (const p of params.values()) p.dispose();
  const path = join(dir, `model-${seed}.safetensors`);
  writePackedModel(path, packTransformer(weights, { method: 'svd', denseDtype: 'F32' }));
  return readPackedModel(path);
}

/** The unpacked weights in fp32: every linear h[r] S[r, c] g[c], everything else as stored. */
function unpacked(model: PackedModel): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, { weight, g, h }] of model.linears) {
    const s = unpackMatrix(weight);
    for (let r = 0; r < weight.rows; r++)
      for (let c = 0; c < weight.cols; c++) s[r * weight.cols + c] *= h[r] * g[c];
    out.set(name, s);
  }
  for (const [name, t] of model.dense) out.set(name, toF32(t));
  return out;
}

function asParams(config: ModelConfig, weights: Map<string, Float32Array>): Params {
  const params = initParams(config, 0);
  for (const [name, p] of params) p.backend.write(p.handle, 'f32', weights.get(name)!);
  return params;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-4 * (1 + scale), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

const config = resolveModelConfig({ vocabSize: 61, dModel: 32, nLayers: 2, nHeads: 4, dFf: 40, context: 24 });

test('packed decoding with a KV cache: logits at every position equal the fp32 forward of the unpacked model', () => {
  const model = packedModel(config, 3);
  const weights = unpacked(model);
  const params = asParams(config, weights);
  const tokens = Array.from({ length: 20 }, (_, i) => (i * 17 + 5) % config.vocabSize);
  const want = T.noGrad(() =>
    forward(config, params, T.tensor(tokens, [1, tokens.length], { dtype: 'i32' }), {
      train: false,
    }).toArray(),
  );
  const V = config.vocabSize;
  for (const [kind, w] of [
    ['packed', packedDecoderWeights(config, model, 'exact')],
    ['dense', denseDecoderWeights(config, weights)],
  ] as const) {
    const decoder = new Decoder(w);
    // A prompt of 6 as one batch (GEMM), then one token at a time (GEMV) against the cache.
    assertClose(decoder.forward(tokens.slice(0, 6)), want.slice(5 * V, 6 * V), `${kind} logits at 5`);
    for (let t = 6; t < tokens.length; t++)
      assertClose(decoder.forward([tokens[t]]), want.slice(t * V, (t + 1) * V), `${kind} logits at ${t}`);
    assert.equal(decoder.length, tokens.length);
  }
  for (const p of params.values()) p.dispose();
});

test('greedy samples of the packed decoder equal the reference sampler on the unpacked model', () => {
  const model = packedModel({ ...config, tiedEmbeddings: false }, 4);
  const untied = { ...config, tiedEmbeddings: false };
  const params = asParams(untied, unpacked(model));
  const prompt = [3, 14, 15, 9, 26];
  const options = { maxTokens: config.context - prompt.length, temperature: 0, topK: 1, seed: 0 };
  const want = sampleTokens(untied, params, prompt, options);
  const got = decodeTokens(new Decoder(packedDecoderWeights(untied, model, 'exact')), prompt, options);
  assert.deepEqual(got, want);
  // Sampling draws the same uniform numbers as the reference, so it agrees at temperature > 0 too.
  const warm = { ...options, temperature: 1, topK: 10, seed: 7 };
  assert.deepEqual(
    decodeTokens(new Decoder(packedDecoderWeights(untied, model, 'exact')), prompt, warm),
    sampleTokens(untied, params, prompt, warm),
  );
  for (const p of params.values()) p.dispose();
});

test('a ternary (BitNet b1.58) packed model decodes like its unpacked fp32 forward', () => {
  const model = packedModel(config, 8);
  // Each linear as BitNet stores it: W ≈ mean|W| · T with T ∈ {-1, 0, +1} (0 below the mean), g = 1, h = mean|W|.
  for (const [name, layer] of model.linears) {
    const { rows, cols } = layer.weight;
    const w = unpackMatrix(layer.weight).map((s, i) => s * layer.h[Math.floor(i / cols)] * layer.g[i % cols]);
    const scale = w.reduce((a, v) => a + Math.abs(v), 0) / w.length;
    const t = Array.from(w, (v) => (Math.abs(v) < scale ? 0 : Math.sign(v)));
    assert.ok(t.includes(0), 'some weights are zero');
    model.linears.set(name, {
      weight: packTernary(t, rows, cols),
      g: new Float32Array(cols).fill(1),
      h: new Float32Array(rows).fill(scale),
    });
  }
  const params = asParams(config, unpacked(model));
  const tokens = [5, 9, 2, 33, 7, 1, 60, 12];
  const want = T.noGrad(() =>
    forward(config, params, T.tensor(tokens, [1, tokens.length], { dtype: 'i32' }), {
      train: false,
    }).toArray(),
  );
  const V = config.vocabSize;
  const decoder = new Decoder(packedDecoderWeights(config, model, 'exact'));
  assertClose(decoder.forward(tokens.slice(0, 3)), want.slice(2 * V, 3 * V), 'ternary logits at 2');
  for (let t = 3; t < tokens.length; t++)
    assertClose(decoder.forward([tokens[t]]), want.slice(t * V, (t + 1) * V), `ternary logits at ${t}`);
  for (const p of params.values()) p.dispose();
});

test('the table-lookup kernel (the default) decodes within a percent or two of the exact logits', () => {
  const model = packedModel(config, 6);
  const [lut, exact] = [
    new Decoder(packedDecoderWeights(config, model)),
    new Decoder(packedDecoderWeights(config, model, 'exact')),
  ];
  const rms = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0) / a.length);
  let [a, b] = [lut.forward([1, 2, 3, 4]), exact.forward([1, 2, 3, 4])];
  for (let t = 0; t < 10; t++) {
    const diff = a.map((v, i) => v - b[i]);
    assert.ok(rms(diff) < 0.03 * rms(b) && rms(diff) > 0, `step ${t}: ${rms(diff)} vs ${rms(b)}`);
    [a, b] = [lut.forward([t + 5]), exact.forward([t + 5])];
  }
});

test('decoding past the context keeps the newest tokens; bad tokens and shapes are refused by name', () => {
  const model = packedModel(config, 5);
  const decoder = new Decoder(packedDecoderWeights(config, model));
  const out = decodeTokens(decoder, [1, 2, 3], { maxTokens: 40, temperature: 0, topK: 1, seed: 0 });
  assert.equal(out.length, 40);
  assert.ok(decoder.length <= config.context);
  assert.throws(() => decoder.forward([config.vocabSize]), /tokens\[0\]: 61 \(expected 0 ≤ id < 61\)/);
  assert.throws(
    () => packedDecoderWeights({ ...config, dFf: 48 }, model),
    /blocks\.0\.mlp\.w_gate\.weight: \[40, 32\] \(expected \[48, 32\]/,
  );
  model.dense.delete('norm.weight');
  assert.throws(() => packedDecoderWeights(config, model), /norm\.weight: missing/);
});
