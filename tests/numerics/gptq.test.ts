import assert from 'node:assert/strict';
import { test } from 'node:test';
import { philoxFill } from '../../src/base/philox.ts';
import { fakeQuantArray } from '../../src/numerics/fake-quant.ts';
import { gptqQuantize, hessianFromActivations } from '../../src/numerics/gptq.ts';
import { inverseCholeskyUpper } from '../../src/numerics/linalg.ts';
import { packBits, unpackBits } from '../../src/numerics/pack.ts';
import { quantSpec } from '../../src/numerics/spec.ts';

const rows = 48;
const cols = 128;
const tokens = 512;

// Correlated inputs: X = Z A with a random mixing A, so H is far from diagonal and GPTQ has work to do.
function correlatedInputs(): Float32Array {
  const z = new Float32Array(tokens * cols);
  const a = new Float32Array(cols * cols);
  philoxFill(z, z.length, 'normal', 1, 0);
  philoxFill(a, a.length, 'normal', 2, 0);
  const x = new Float32Array(tokens * cols);
  for (let t = 0; t < tokens; t++) {
    for (let k = 0; k < cols; k++) {
      const zk = z[t * cols + k];
      for (let j = 0; j < cols; j++) x[t * cols + j] += zk * (a[k * cols + j] * 0.3 + (j === k ? 1 : 0));
    }
  }
  return x;
}

function outputError(w: Float32Array, wq: Float32Array, x: Float32Array): number {
  let err = 0;
  for (let t = 0; t < tokens; t++) {
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let j = 0; j < cols; j++) d += (w[r * cols + j] - wq[r * cols + j]) * x[t * cols + j];
      err += d * d;
    }
  }
  return err / (tokens * rows);
}

test('U^T U = H^-1 for the inverse Cholesky factor', () => {
  const n = 6;
  const x = new Float32Array(20 * n);
  philoxFill(x, x.length, 'normal', 3, 0);
  const h = hessianFromActivations(x, 20, n);
  for (let i = 0; i < n; i++) h[i * n + i] += 0.1;
  const u = inverseCholeskyUpper(h, n);
  // (U^T U) H = I
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) {
        let inv = 0;
        for (let m = 0; m < n; m++) inv += u[m * n + i] * u[m * n + k];
        s += inv * h[k * n + j];
      }
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-9, `(${i}, ${j}) ${s}`);
      if (j < i) assert.equal(u[i * n + j], 0);
    }
  }
});

test('GPTQ beats RTN on the layer output at 3 and 4 bits with group scales (margin printed)', () => {
  const x = correlatedInputs();
  const w = new Float32Array(rows * cols);
  philoxFill(w, w.length, 'normal', 4, 0);
  const h = hessianFromActivations(x, tokens, cols);
  for (const bits of [3, 4]) {
    for (const actOrder of [false, true]) {
      const rtn = new Float32Array(w.length);
      fakeQuantArray(
        quantSpec(`int${bits}`, { granularity: { kind: 'group', size: 32 } }),
        w,
        rtn,
        rows,
        cols,
        null,
      );
      const g = gptqQuantize(w, rows, cols, h, { bits, groupSize: 32, actOrder });
      const eRtn = outputError(w, rtn, x);
      const eGptq = outputError(w, g.weight, x);
      console.log(
        `int${bits} group 32 actOrder=${actOrder}: output MSE RTN ${eRtn.toFixed(4)} GPTQ ${eGptq.toFixed(4)} (GPTQ/RTN ${(eGptq / eRtn).toFixed(3)})`,
      );
      assert.ok(eGptq < 0.8 * eRtn, `GPTQ ${eGptq} vs RTN ${eRtn}`);
      // Codes and scales reproduce the weight, and pack to bits-per-weight.
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < cols; j++) {
          const p = r * (cols / 32) + Math.floor(j / 32);
          const q = (g.codes[r * cols + j] - 2 ** (bits - 1) - g.zeros[p]) * g.scales[p];
          assert.ok(Math.abs(q - g.weight[r * cols + j]) <= 1e-6 * Math.abs(q) + 1e-7);
        }
      }
      if (bits === 4) assert.deepEqual(unpackBits(packBits(g.codes, 4), 4, g.codes.length), g.codes);
    }
  }
});

test('GPTQ asymmetric and per-row groups also beat RTN; bad options name the argument', () => {
  const x = correlatedInputs();
  const w = new Float32Array(rows * cols);
  philoxFill(w, w.length, 'normal', 5, 0);
  const h = hessianFromActivations(x, tokens, cols);
  const rtn = new Float32Array(w.length);
  fakeQuantArray(
    quantSpec('int3', { symmetric: false, granularity: { kind: 'row' } }),
    w,
    rtn,
    rows,
    cols,
    null,
  );
  const g = gptqQuantize(w, rows, cols, h, { bits: 3, symmetric: false });
  assert.ok(outputError(w, g.weight, x) < outputError(w, rtn, x));
  assert.throws(() => gptqQuantize(w, rows, cols, h, { bits: 9 }), /format.bits = 9/);
  assert.throws(
    () => gptqQuantize(w, rows, cols, h, { bits: 4, groupSize: 100 }),
    /granularity.size = 100.*divisor of cols = 128/,
  );
});
