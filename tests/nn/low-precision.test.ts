// FP8 linear layers off the GPU: the emulation's numbers (src/tensor/ops/fp8.ts), the path a run picks
// (src/nn/low-precision.ts), the config field and its errors. The native product is checked in tests/cuda/fp8.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Backend } from '../../src/backends/backend.ts';
import { resolveModelConfig } from '../../src/nn/config.ts';
import { ConfigError } from '../../src/nn/fields.ts';
import { planLinearCompute } from '../../src/nn/low-precision.ts';
import { forward, initParams } from '../../src/nn/transformer.ts';
import { quantSpec } from '../../src/numerics/spec.ts';
import * as T from '../../src/tensor/index.ts';
import { matmulFp8Into } from '../../src/tensor/ops/fp8.ts';
import { resolveRunConfig } from '../../src/train/config.ts';
import { train } from '../../src/train/trainer.ts';
import { smallData, tinyConfig } from '../train/helpers.ts';

const e4 = quantSpec('fp8_e4m3');
const e5 = quantSpec('fp8_e5m2');

function random(shape: number[], seed: number, std = 1): T.Tensor {
  return T.tidy(() => T.affine(T.randn(shape, { seed }), std)).keep();
}

test('linearFp8 forward is fakeQuant(x, e4m3) @ fakeQuant(W, e4m3)ᵀ, per-tensor absmax', () => {
  T.setDefaultBackend('js');
  const x = random([2, 16, 32], 1, 3);
  const w = random([48, 32], 2, 0.05);
  const ours = T.linearFp8(x, w).toArray();
  const ref = T.matmul(T.fakeQuant(x, e4), T.fakeQuant(w, e4), { transB: true }).toArray();
  assert.deepEqual([...ours], [...ref]);
  // and it is not the unquantized product (the test could fail)
  assert.notDeepEqual([...ours], [...T.matmul(x, w, { transB: true }).toArray()]);
});

test('linearFp8 gradients: E5M2 output gradient times the E4M3 operands', () => {
  T.setDefaultBackend('js');
  const x = T.requireGrad(random([32, 16], 3));
  const w = T.requireGrad(random([16, 16], 4, 0.1));
  const u = random([32, 16], 5, 1e-3); // the upstream gradient, small: the scale must follow it
  const [gx, gw] = T.grad((a, b) => T.sum(T.mul(T.linearFp8(a, b), u)), [x, w]);
  const q5 = T.fakeQuant(u, e5);
  const gxRef = T.matmul(q5, T.fakeQuant(w, e4));
  const gwRef = T.matmul(q5, T.fakeQuant(x, e4), { transA: true });
  assert.deepEqual([...gx.toArray()], [...gxRef.toArray()]);
  assert.deepEqual([...gw.toArray()], [...gwRef.toArray()]);
});

test('linearFp8 roundInput / roundGradient / roundOutput: x and g rounded to the half type before quantization', () => {
  T.setDefaultBackend('js');
  const x = T.requireGrad(random([32, 16], 6, 2));
  const w = T.requireGrad(random([16, 16], 7, 0.1));
  const u = random([32, 16], 8, 1e-3);
  const options = { roundInput: 'bf16', roundGradient: 'bf16', roundOutput: 'bf16' } as const;
  const ours = (a: T.Tensor, b: T.Tensor) => T.linearFp8(a, b, options);
  // The same by roundTo nodes: x's value; the output's gradient (what linearFp8 quantizes); the output's value.
  const byNodes = (a: T.Tensor, b: T.Tensor) => {
    const z = T.linearFp8(T.roundTo(a, 'bf16', { gradient: false }), b);
    return T.roundTo(T.roundTo(z, 'bf16', { value: false }), 'bf16', { gradient: false });
  };
  const loss = (f: typeof ours) => (a: T.Tensor, b: T.Tensor) => T.sum(T.mul(f(a, b), u));
  assert.deepEqual([...ours(x, w).toArray()], [...byNodes(x, w).toArray()]);
  const [gx, gw] = T.grad(loss(ours), [x, w]);
  const [rx, rw] = T.grad(loss(byNodes), [x, w]);
  assert.deepEqual([...gx.toArray()], [...rx.toArray()]);
  assert.deepEqual([...gw.toArray()], [...rw.toArray()]);
  // and the roundings happen: without them the gradient differs
  const [px] = T.grad(
    loss((a, b) => T.linearFp8(a, b)),
    [x, w],
  );
  assert.notDeepEqual([...px.toArray()], [...gx.toArray()]);
});

test('linearFp8 refuses widths that are not multiples of 16, naming them', () => {
  T.setDefaultBackend('js');
  assert.throws(
    () => T.linearFp8(random([8, 32], 1), random([16, 32], 2)),
    /rows 8, out 16, in 32.*multiple of 16/,
  );
});

const fp8Model = (over: Record<string, unknown> = {}) =>
  resolveModelConfig({
    vocabSize: 64,
    dModel: 32,
    dFf: 64,
    nLayers: 1,
    nHeads: 2,
    context: 8,
    precision: { weights: 'fp8_e4m3', activations: 'fp8_e4m3', kv: 'fp32', weightGranularity: 'tensor' },
    ...over,
  });

test('a transformer with fp8Linear gives the logits of fake quantization (the same forward math)', () => {
  T.setDefaultBackend('js');
  const model = fp8Model();
  const params = initParams(model, 7);
  const tokens = T.tensor(
    Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 64),
    [2, 8],
    { dtype: 'i32' },
  );
  const fake = forward(model, params, tokens, { train: false }).toArray();
  const fp8 = forward(model, params, tokens, { train: false, fp8Linear: true }).toArray();
  assert.deepEqual([...fp8], [...fake]);
});

/** The js backend with a stand-in FP8 product: what a run on an FP8-capable GPU sees. */
function withFp8(problem: string | null): Backend {
  const js = T.getBackend('js');
  return { ...js, name: 'gpu-like', matmulFp8: () => {}, fp8Problem: () => problem };
}

test('planLinearCompute: native where the format and the backend allow it', () => {
  const plan = planLinearCompute(fp8Model(), 'auto', withFp8(null), 16);
  assert.equal(plan.path, 'native-fp8');
  assert.equal(plan.format, 'weights fp8_e4m3/tensor, activations fp8_e4m3/tensor');
  assert.equal(planLinearCompute(fp8Model(), 'emulate', withFp8(null), 16).path, 'fake-quant');
});

test("planLinearCompute 'native' on a backend without FP8: an error naming the field, the format and what is allowed", () => {
  for (const backend of [T.getBackend('js'), withFp8('NVIDIA A100 has compute capability 8.0')]) {
    assert.throws(
      () => planLinearCompute(fp8Model(), 'native', backend, 16),
      (e: Error) =>
        e instanceof ConfigError &&
        e.field === 'train.lowPrecisionCompute' &&
        /fp8_e4m3\/tensor/.test(e.message) &&
        /Allowed: 'native' for weights and activations fp8_e4m3/.test(e.message) &&
        /'emulate' or 'auto'/.test(e.message),
    );
  }
  // A format with no FP8 product (per-row weight scales, int4) asked for as native: the same error.
  const perRow = fp8Model({ precision: { weights: 'fp8_e4m3', activations: 'fp8_e4m3', kv: 'fp32' } });
  assert.throws(
    () => planLinearCompute(perRow, 'native', withFp8(null), 16),
    /'native' cannot run weights fp8_e4m3\/row, activations fp8_e4m3\/tensor on the gpu-like backend: no FP8 product/,
  );
});

test("planLinearCompute 'auto' falls back to fake quantization with one warning", () => {
  const warnings: string[] = [];
  const backend = withFp8('NVIDIA T4 has compute capability 7.5; FP8 tensor cores need 8.9 or higher');
  for (let i = 0; i < 3; i++) {
    const plan = planLinearCompute(fp8Model(), 'auto', backend, 16, 'train.lowPrecisionCompute', (m) =>
      warnings.push(m),
    );
    assert.equal(plan.path, 'fake-quant');
    assert.match(plan.reason ?? '', /compute capability 7.5/);
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /'auto'.*fake quantization.*gpu-like/);
  // Formats without an FP8 product are emulated silently; full precision is no quantization at all.
  const int4 = fp8Model({ precision: { weights: 'int4', activations: 'int8', kv: 'fp32' } });
  const quiet: string[] = [];
  assert.equal(planLinearCompute(int4, 'auto', backend, 16, 'f', (m) => quiet.push(m)).path, 'fake-quant');
  assert.equal(quiet.length, 0);
  // FP8 with per-row weight scales (the default granularity) has no FP8 product: said once, with the fix.
  const perRow = fp8Model({ precision: { weights: 'fp8_e4m3', activations: 'fp8_e4m3', kv: 'fp32' } });
  const said: string[] = [];
  for (let i = 0; i < 2; i++)
    assert.equal(
      planLinearCompute(perRow, 'auto', withFp8(null), 16, 'f', (m) => said.push(m)).path,
      'fake-quant',
    );
  assert.equal(said.length, 1);
  assert.match(
    said[0],
    /fp8_e4m3\/row.*no FP8 product.*weightGranularity and activationGranularity 'tensor'/,
  );
  const fp32 = fp8Model({ precision: { weights: 'fp32', activations: 'fp32', kv: 'fp32' } });
  assert.equal(planLinearCompute(fp32, 'native', T.getBackend('js'), 16).path, 'full-precision');
  // Widths an FP8 product cannot take: a reason, not a crash.
  assert.match(planLinearCompute(fp8Model(), 'auto', withFp8(null), 12).reason ?? '', /multiples of 16/);
});

test('train.lowPrecisionCompute: read from the config, unknown values named', () => {
  const base = { model: { dModel: 32, nLayers: 1, nHeads: 2, context: 8 } };
  assert.equal(
    resolveRunConfig({ ...base, train: { lowPrecisionCompute: 'native' } }).train.lowPrecisionCompute,
    'native',
  );
  assert.equal(resolveRunConfig(base).train.lowPrecisionCompute, undefined);
  assert.throws(
    () => resolveRunConfig({ ...base, train: { lowPrecisionCompute: 'fast' } }),
    /train\.lowPrecisionCompute.*fast.*native.*emulate.*auto/s,
  );
});

test('a run records its linear-layer path; native with FP8 products, a clear error without', () => {
  const data = smallData();
  const fp8Precision = {
    weights: 'fp8_e4m3',
    activations: 'fp8_e4m3',
    kv: 'fp32',
    weightGranularity: 'tensor',
  };
  const config = (mode: string) =>
    tinyConfig({
      model: { dFf: 64, precision: fp8Precision },
      train: { tokens: 16 * 32 * 2, evalTokens: 1024, lowPrecisionCompute: mode },
    });
  // A backend with an FP8 product (here the emulation, counted): the run takes the native path.
  let products = 0;
  T.registerBackend('fp8-test', () => {
    const js = T.getBackend('js');
    return {
      ...js,
      name: 'fp8-test',
      fp8Problem: () => null,
      matmulFp8: (a, b, out, args) => {
        products++;
        matmulFp8Into(js, a, b, out, args);
      },
    };
  });
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-fp8-'));
  const summary = train(config('auto'), { outDir: dir, backend: 'fp8-test', data });
  assert.equal(summary.linearCompute?.path, 'native-fp8');
  assert.equal(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).linearCompute.path, 'native-fp8');
  // 7 linears a layer, 2 layers, 3 products each (forward, dx, dW), 2 steps
  assert.equal(products, 7 * 2 * 3 * 2);
  // 'native' where there is none: refused before anything is written.
  const refused = mkdtempSync(join(tmpdir(), 'bitscale-fp8-'));
  assert.throws(
    () => train(config('native'), { outDir: refused, backend: 'js', data }),
    /train\.lowPrecisionCompute: 'native' cannot run .* on the js backend/,
  );
  assert.deepEqual(readdirSync(refused), []);
  const emulated = train(config('emulate'), {
    outDir: mkdtempSync(join(tmpdir(), 'bitscale-fp8-')),
    backend: 'js',
    data,
  });
  assert.equal(emulated.linearCompute?.path, 'fake-quant');
});
