import assert from 'node:assert/strict';
import { test } from 'node:test';
import { philoxFill } from '../../src/base/philox.ts';
import { unpackBits } from '../../src/numerics/pack.ts';
import { signValueBits } from '../../src/numerics/storage-bits.ts';
import { svid } from '../../src/numerics/svid.ts';

test('SVID (power and NMF) beats sign x mean|W| on a matrix with row and column scales', () => {
  const rows = 64;
  const cols = 96;
  const w = new Float32Array(rows * cols);
  philoxFill(w, w.length, 'normal', 1, 0);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) w[r * cols + c] *= (1 + r / 16) * (0.5 + (c % 7) / 3);
  const mean = w.reduce((s, v) => s + Math.abs(v), 0) / w.length;
  let err = 0;
  let norm = 0;
  for (const v of w) {
    err += (v - Math.sign(v) * mean) ** 2;
    norm += v * v;
  }
  const baseline = Math.sqrt(err / norm);
  for (const method of ['power', 'nmf'] as const) {
    const s = svid(w, rows, cols, { method });
    console.log(
      `SVID ${method}: relative error ${s.relativeError.toFixed(4)} vs sign x mean|W| ${baseline.toFixed(4)}`,
    );
    assert.ok(s.relativeError < baseline, `${method} ${s.relativeError} vs ${baseline}`);
    assert.ok(s.a.every((v) => v >= 0) && s.b.every((v) => v >= 0));
    const signs = unpackBits(s.signs, 1, rows * cols);
    for (let i = 0; i < w.length; i++) assert.equal(signs[i], w[i] >= 0 ? 1 : 0);
  }
  const p = svid(w, rows, cols, { method: 'power' }).relativeError;
  const n = svid(w, rows, cols, { method: 'nmf' }).relativeError;
  assert.ok(Math.abs(p - n) < 0.02, `power ${p} and NMF ${n} find the same rank-1 factor`);
  assert.ok(Math.abs(signValueBits(4096, 4096).bitsPerParameter - (1 + (2 * 4096 * 16) / 4096 ** 2)) < 1e-12);
  assert.throws(() => svid(w, rows, cols, { method: 'svd' as 'power' }), /method = "svd"/);
});
