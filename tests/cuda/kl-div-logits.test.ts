// The cuda klDivLogits kernels (native/cuda/kl_div.cu) at vocabulary width against the float64 js reference,
// like the cross-entropy case of kernels.test.ts: ordinary, very peaked, very flat and ±80 rows, V not a
// multiple of the block size; then the op through the tensor frontend. Skips cleanly without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { philoxFill } from '../../src/base/philox.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose, cuda, download, js, ref, skip, upload } from './helpers.ts';

/** rows × cols logits, row r of the kind r % 4: normal·3, one logit at 80 over the rest near −40, nearly
 *  flat, uniform over ±80. */
function logits(rows: number, cols: number, seed: number): Float32Array {
  const x = new Float32Array(rows * cols);
  philoxFill(x, rows * cols, 'normal', seed, 0);
  for (let r = 0; r < rows; r++) {
    const hot = (r * 7919 + seed) % cols;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const kind = (r + seed) % 4;
      if (kind === 0) x[i] *= 3;
      else if (kind === 1) x[i] = c === hot ? 80 : 2 * x[i] - 40;
      else if (kind === 2) x[i] = 5 + 1e-4 * x[i];
      else x[i] = Math.max(-80, Math.min(80, 40 * x[i]));
    }
  }
  return x;
}

test('klDivLogits and its gradient at vocabulary width match the reference', { skip }, () => {
  for (const cols of [8200, 5000, 300]) {
    const rows = 37;
    const s = logits(rows, cols, 30);
    const t = logits(rows, cols, 31); // every pairing of kinds across rows
    const loss = { c: cuda.alloc('f32', rows), r: js.alloc('f32', rows) };
    const lseS = { c: cuda.alloc('f32', rows), r: js.alloc('f32', rows) };
    const lseT = { c: cuda.alloc('f32', rows), r: js.alloc('f32', rows) };
    js.klDivLogits(ref(s), ref(t), loss.r, lseS.r, lseT.r, rows, cols);
    const [cs, ct] = [upload(s), upload(t)];
    cuda.klDivLogits(cs, ct, loss.c, lseS.c, lseT.c, rows, cols);
    assertClose(
      `klDivLogits loss V=${cols}`,
      download(loss.c, rows),
      js.read(loss.r, 'f32', rows),
      2e-4,
      1e-5,
    );
    assertClose(
      `klDivLogits lseS V=${cols}`,
      download(lseS.c, rows),
      js.read(lseS.r, 'f32', rows),
      1e-5,
      1e-6,
    );
    assertClose(
      `klDivLogits lseT V=${cols}`,
      download(lseT.c, rows),
      js.read(lseT.r, 'f32', rows),
      1e-5,
      1e-6,
    );
    const gLoss = Array.from({ length: rows }, (_, r) => 0.5 + (r % 5));
    const g = { c: cuda.alloc('f32', rows * cols), r: js.alloc('f32', rows * cols) };
    js.klDivLogitsGrad(ref(s), ref(t), lseS.r, lseT.r, ref(gLoss), g.r, rows, cols);
    cuda.klDivLogitsGrad(cs, ct, lseS.c, lseT.c, upload(gLoss), g.c, rows, cols);
    assertClose(
      `klDivLogitsGrad V=${cols}`,
      download(g.c, rows * cols),
      js.read(g.r, 'f32', rows * cols),
      1e-6,
      1e-4,
    );
    for (const st of [cs, ct, loss.c, lseS.c, lseT.c, g.c]) cuda.free(st);
  }
});

test('T.klDivLogits on cuda equals the generic-op formulation on js64 (sum and gradient)', { skip }, () => {
  const [B, S, V] = [2, 6, 4099];
  const s = logits(B * S, V, 40);
  const t = logits(B * S, V, 41);
  const run = (backend: ReturnType<typeof T.getBackend>, fused: boolean) =>
    T.tidy(() => {
      const st = T.requireGrad(T.tensor(s, [B, S, V], { backend }));
      const tt = T.tensor(t, [B, S, V], { backend });
      const kl = fused
        ? T.klDivLogits(st, tt)
        : T.sum(T.mul(T.exp(T.logSoftmax(tt)), T.sub(T.logSoftmax(tt), T.logSoftmax(st))));
      T.backward(T.affine(kl, 1 / B));
      return { kl: kl.item(), grad: Array.from(st.grad!.toArray()) };
    });
  const want = run(T.getBackend('js64'), false);
  const ours = run(T.getBackend('cuda'), true);
  assert.ok(Math.abs(ours.kl - want.kl) <= 1e-3 + 1e-5 * want.kl, `${ours.kl} vs ${want.kl}`);
  assertClose('gradient', ours.grad, want.grad, 1e-7, 1e-4);
});
