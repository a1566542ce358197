import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../../src/backends/index.ts';
import { nonEmbedding, perTokenGradients } from '../../../src/experiments/quanta/qdg/gradients.ts';
import { resolveModelConfig } from '../../../src/nn/config.ts';
import { initParams, lossOf } from '../../../src/nn/transformer.ts';
import * as T from '../../../src/tensor/index.ts';

const model = resolveModelConfig({ vocabSize: 40, dModel: 16, nLayers: 1, nHeads: 2, context: 8 });

test('per-token gradients (one shared forward, one-hot backward) equal single-token loss gradients', () => {
  const params = initParams(model, 3);
  const seq = Int32Array.from({ length: 9 }, (_, i) => (i * 7 + 3) % 40);
  const positions = [2, 5, 7];
  const grads = perTokenGradients(model, params, [seq], [positions]);
  assert.equal(grads.length, 3);
  const chosen = [...params.entries()].filter(([name]) => nonEmbedding(name));
  const dim = chosen.reduce((s, [, p]) => s + p.size, 0);
  for (const [i, position] of positions.entries()) {
    const g = grads[i];
    assert.equal(g.gradient.length, dim);
    assert.equal(g.position, position);
    // Reference: the mean loss with every other target ignored (-1) is this one token's loss.
    const targets = Int32Array.from(seq.subarray(1), (t, j) => (j === position ? t : -1));
    const loss = T.tidy(() => {
      const l = lossOf(
        model,
        params,
        T.tensor(seq.subarray(0, 8), [1, 8], { dtype: 'i32' }),
        T.tensor(targets, [1, 8], { dtype: 'i32' }),
        { train: false },
      );
      T.backward(l);
      return l.item();
    });
    assert.ok(Math.abs(loss - g.loss) < 1e-5, `loss ${loss} vs ${g.loss}`);
    let offset = 0;
    let maxDiff = 0;
    let maxAbs = 0;
    for (const [, p] of chosen) {
      const ref = p.grad!.toArray();
      for (let k = 0; k < ref.length; k++) {
        maxDiff = Math.max(maxDiff, Math.abs(ref[k] - g.gradient[offset + k]));
        maxAbs = Math.max(maxAbs, Math.abs(ref[k]));
      }
      offset += p.size;
    }
    for (const p of params.values()) {
      p.grad?.dispose();
      p.grad = null;
    }
    assert.ok(maxAbs > 0 && maxDiff <= 1e-5 * Math.max(1, maxAbs), `max diff ${maxDiff} (max ${maxAbs})`);
  }
  // Different tokens have different gradients.
  assert.notDeepEqual(grads[0].gradient, grads[1].gradient);
  // Parameters keep their requiresGrad flags and hold no stray gradients.
  for (const p of params.values()) {
    assert.equal(p.requiresGrad, true);
    assert.equal(p.grad, null);
  }
});

test('per-token gradients: maxLoss filters, limit stops, bad positions name the field', () => {
  const params = initParams(model, 4);
  const seqs = [0, 1, 2].map((s) => Int32Array.from({ length: 9 }, (_, i) => (i * 5 + s) % 40));
  const all = perTokenGradients(model, params, seqs, [[1, 2], [3], [4, 6]]);
  assert.deepEqual(
    all.map((g) => [g.sequence, g.position]),
    [
      [0, 1],
      [0, 2],
      [1, 3],
      [2, 4],
      [2, 6],
    ],
  );
  const limited = perTokenGradients(model, params, seqs, [[1, 2], [3], [4, 6]], { limit: 2 });
  assert.equal(limited.length, 2);
  const threshold = [...all.map((g) => g.loss)].sort((a, b) => a - b)[2];
  const easy = perTokenGradients(model, params, seqs, [[1, 2], [3], [4, 6]], { maxLoss: threshold });
  assert.equal(easy.length, 2);
  assert.ok(easy.every((g) => g.loss < threshold));
  assert.throws(() => perTokenGradients(model, params, seqs, [[8], [], []]), /positions\[0\] = 8/);
  assert.throws(
    () => perTokenGradients(model, params, [seqs[0].subarray(0, 5)], [[1]]),
    /sequences\[0\]\.length = 5/,
  );
});
