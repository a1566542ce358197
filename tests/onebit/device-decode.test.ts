// The engine decoder (src/onebit/device-decode.ts) on js and cpu against the host decoder (decode.ts) on the
// same models: logits at every step close, greedy tokens identical, through prompts, single tokens and a cache
// that overflows; packed sign1 (with and without OneBit's output LayerNorm), ternary, and the dense teacher.
// Also T.packedMatmul on js and cpu against the float64 reference.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { resolveModelConfig } from '../../src/nn/config.ts';
import { initParams } from '../../src/nn/transformer.ts';
import { Decoder, denseDecoderWeights, packedDecoderWeights } from '../../src/onebit/decode.ts';
import { denseDeviceDecoder, packedDeviceDecoder } from '../../src/onebit/device-decode.ts';
import { packedGemmReference } from '../../src/onebit/gemv.ts';
import { type PackedFormat, packTernary, rowBytes } from '../../src/onebit/packed.ts';
import type { PackedLinear } from '../../src/onebit/packed-file.ts';
import { decodeTokens } from '../../src/onebit/packed-run.ts';
import * as T from '../../src/tensor/index.ts';
import { nativeSkip } from '../native-required.ts';
import { packedModel, ternaryModel } from './packed-models.ts';

const cpuSkip = nativeSkip('error' in T.tryBackend('cpu') ? 'the cpu addon is not built' : false);
const backends: [string, string | false][] = [
  ['js', false],
  ['cpu', cpuSkip],
];

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}

/** Random codes: sign1 as raw bytes (nonzero padding bits too), ternary2 with -1, 0, +1 (the reference refuses 3). */
function randomLayer(format: PackedFormat, rows: number, cols: number, seed: number): PackedLinear {
  const weight =
    format === 'sign1'
      ? {
          format,
          rows,
          cols,
          codes: Uint8Array.from(
            rand(rows * rowBytes(cols, format), seed),
            (v) => Math.floor((v + 1) * 128) & 255,
          ),
        }
      : packTernary(
          Array.from(rand(rows * cols, seed), (v) => (v > 0.3 ? 1 : v < -0.3 ? -1 : 0)),
          rows,
          cols,
        );
  return { weight, g: rand(cols, seed + 1), h: rand(rows, seed + 2) };
}

for (const [name, skip] of backends)
  test(`T.packedMatmul on ${name} equals the float64 reference (sign1 and ternary2, padded rows)`, {
    skip,
  }, () => {
    const backend = T.getBackend(name);
    for (const [format, rows, cols, batch] of [
      ['sign1', 7, 37, 3],
      ['sign1', 16, 64, 1],
      ['ternary2', 5, 30, 2],
      ['ternary2', 9, 128, 9],
    ] as const) {
      const layer = randomLayer(format, rows, cols, rows * cols);
      const x = rand(batch * cols, 7 + cols);
      const want = packedGemmReference(layer, x, batch);
      const ternary = format === 'ternary2';
      const words = new Int32Array(T.packedCodesSize(rows, cols, ternary));
      new Uint8Array(words.buffer).set(layer.weight.codes);
      const got = T.tidy(() =>
        T.packedMatmul(T.tensor(x, [batch, cols], { backend }), {
          codes: T.tensor(words, [words.length], { backend, dtype: 'i32' }),
          g: T.tensor(layer.g, [cols], { backend }),
          h: T.tensor(layer.h, [rows], { backend }),
          rows,
          cols,
          ternary,
        }).toArray(),
      );
      for (let i = 0; i < want.length; i++)
        assert.ok(
          Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])),
          `${format} ${i}: ${got[i]} vs ${want[i]}`,
        );
    }
    const x = T.tensor(rand(8, 1), [2, 4], { backend });
    const [g, h] = [T.zeros([4], { backend }), T.zeros([9], { backend })];
    const codes = (n: number) => T.zeros([n], { backend, dtype: 'i32' });
    const layer = { g, h, rows: 9, cols: 4, ternary: false };
    assert.throws(
      () => T.packedMatmul(x, { ...layer, codes: codes(1) }),
      /codes has shape \[1\], expected \[3\]/,
    );
    assert.throws(
      () => T.packedMatmul(x, { ...layer, codes: codes(3), cols: 5 }),
      /g has shape \[4\], expected \[5\]/,
    );
    assert.throws(() => T.packedMatmul(x, { ...layer, codes: codes(5), ternary: true }), /expected \[3\]/);
    assert.equal(T.packedMatmul(x, { ...layer, codes: codes(3) }).shape.join(), '2,9');
  });

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-4 * (1 + scale), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

const base = resolveModelConfig({ vocabSize: 61, dModel: 32, nLayers: 2, nHeads: 4, dFf: 40, context: 16 });
const argmax = (a: ArrayLike<number>) => {
  let best = 0;
  for (let v = 1; v < a.length; v++) if (a[v] > a[best]) best = v;
  return best;
};

for (const [name, skip] of backends)
  test(`the engine decoder on ${name} gives the host decoder's logits and greedy tokens`, { skip }, () => {
    const backend = T.getBackend(name);
    const onebit = { ...base, onebit: true as const };
    const untied = { ...base, tiedEmbeddings: false };
    const cases = [
      ['sign1', base, packedModel(base, 3)],
      ['sign1 with OneBit output norms', onebit, packedModel(onebit, 4)],
      ['ternary2, untied head', untied, ternaryModel(untied, 5)],
    ] as const;
    for (const [what, config, model] of cases) {
      const host = new Decoder(packedDecoderWeights(config, model, 'exact'));
      const device = packedDeviceDecoder(config, model, backend);
      const tokens = Array.from({ length: 24 }, (_, i) => (i * 17 + 5) % config.vocabSize);
      // A prompt of 6 as one batch, then one token at a time, past the context (16): the cache overflows twice.
      assertClose(device.forward(tokens.slice(0, 6)), host.forward(tokens.slice(0, 6)), `${what} prompt`);
      for (let t = 6; t < tokens.length; t++) {
        const want = host.forward([tokens[t]]);
        if (t % 2) assert.equal(device.forwardArgmax([tokens[t]]), argmax(want), `${what} argmax at ${t}`);
        else assertClose(device.forward([tokens[t]]), want, `${what} logits at ${t}`);
        assert.equal(device.length, host.length);
      }
      const options = { maxTokens: 30, temperature: 0, topK: 1, seed: 0 };
      const want = decodeTokens(
        new Decoder(packedDecoderWeights(config, model, 'exact')),
        [3, 14, 15],
        options,
      );
      assert.deepEqual(decodeTokens(device, [3, 14, 15], options), want, `${what} greedy tokens`);
      const warm = { ...options, temperature: 1, topK: 10, seed: 7 };
      assert.deepEqual(
        decodeTokens(device, [3, 14, 15], warm),
        decodeTokens(new Decoder(packedDecoderWeights(config, model, 'exact')), [3, 14, 15], warm),
        `${what} sampled tokens`,
      );
      device.dispose();
    }
  });

for (const [name, skip] of backends)
  test(`the dense (teacher) engine decoder on ${name} matches the host decoder`, { skip }, () => {
    const backend = T.getBackend(name);
    const params = initParams(base, 9);
    const weights = new Map([...params].map(([n, t]) => [n, Float32Array.from(t.toArray())]));
    for (const p of params.values()) p.dispose();
    const host = new Decoder(denseDecoderWeights(base, weights));
    const device = denseDeviceDecoder(base, weights, backend);
    assertClose(device.forward([1, 2, 3, 4]), host.forward([1, 2, 3, 4]), 'dense prompt');
    // Several tokens at once after cached ones: the causal mask over (new, cached + new) positions.
    assertClose(device.forward([7, 8, 9]), host.forward([7, 8, 9]), 'dense chunk after the prompt');
    for (let t = 0; t < 14; t++)
      assertClose(device.forward([t + 5]), host.forward([t + 5]), `dense logits ${t}`);
    assert.throws(() => device.forward([base.vocabSize]), /tokens\[0\]: 61 \(expected 0 ≤ id < 61\)/);
    assert.throws(() => device.forward([]), /tokens\.length/);
    device.dispose();
  });

test('on a backend with matmul modes (cuda) the attention products run in fp32, the linears in its mode', () => {
  const js = T.getBackend('js');
  let mode = 'bf16';
  const modes: string[] = [];
  const modal = {
    ...js,
    name: 'js-modal',
    setMatmulMode(m: string) {
      const previous = mode;
      mode = m;
      return previous;
    },
    matmul(...args: Parameters<typeof js.matmul>) {
      modes.push(`${mode} ${args[3].batch}`);
      js.matmul(...args);
    },
  };
  const params = initParams(base, 9);
  const weights = new Map([...params].map(([n, t]) => [n, Float32Array.from(t.toArray())]));
  for (const p of params.values()) p.dispose();
  const device = denseDeviceDecoder(base, weights, modal);
  const want = new Decoder(denseDecoderWeights(base, weights)).forward([1, 2, 3]);
  assertClose(device.forward([1, 2, 3]), want, 'logits');
  assert.equal(mode, 'bf16');
  // Per layer: wq wk wv (bf16), two attention products over the 4 heads (fp32), wo, gate, up, down; the head.
  const layer = ['bf16 1', 'bf16 1', 'bf16 1', 'fp32 4', 'fp32 4', 'bf16 1', 'bf16 1', 'bf16 1', 'bf16 1'];
  assert.deepEqual(modes, [...layer, ...layer, 'bf16 1']);
  device.dispose();
});
