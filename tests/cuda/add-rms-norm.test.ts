// The cuda addRmsNorm kernels (native/cuda/norm.cu: a scalar and a float4 variant) against the float64 js
// reference and against cuda's own add then rmsNorm; widths that take each variant (odd, multiple of 4, wider
// than a block's float4s); then T.addRmsNorm's gradients on cuda against the unfused ops on js64.
// Skips without a GPU.
import { test } from 'node:test';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose, cuda, download, js, normal, ref, skip, upload } from './helpers.ts';

const js64 = js;

test('addRmsNorm matches the float64 reference and cuda add then rmsNorm', { skip }, () => {
  for (const cols of [1, 37, 512, 4100]) {
    const rows = 33;
    const n = rows * cols;
    const x = normal(n, 1, 3);
    const r = normal(n, 2, 1);
    const w = normal(cols, 3, 0.5).map((v) => 1 + v);
    const [cx, cr, cw] = [upload(x), upload(r), upload(w)];
    const [sum, out, rstd] = [cuda.alloc('f32', n), cuda.alloc('f32', n), cuda.alloc('f32', rows)];
    cuda.addRmsNorm(cx, cr, cw, sum, out, rstd, rows, cols, 1e-5);
    const [rSum, rOut, rRstd] = [js64.alloc('f32', n), js64.alloc('f32', n), js64.alloc('f32', rows)];
    js64.addRmsNorm(ref(x), ref(r), ref(w), rSum, rOut, rRstd, rows, cols, 1e-5);
    assertClose(`sum cols=${cols}`, download(sum, n), js64.read(rSum, 'f32', n), 1e-6, 1e-6);
    assertClose(`out cols=${cols}`, download(out, n), js64.read(rOut, 'f32', n), 1e-6, 1e-5);
    assertClose(`rstd cols=${cols}`, download(rstd, rows), js64.read(rRstd, 'f32', rows), 0, 1e-6);

    const [add, out2, rstd2] = [cuda.alloc('f32', n), cuda.alloc('f32', n), cuda.alloc('f32', rows)];
    cuda.binary('add', cx, [1], cr, [1], add, [n]);
    cuda.rmsNorm(add, cw, out2, rstd2, rows, cols, 1e-5);
    assertClose(`sum vs add cols=${cols}`, download(sum, n), download(add, n), 0, 0);
    assertClose(`out vs rmsNorm cols=${cols}`, download(out, n), download(out2, n), 1e-7, 1e-6);
    for (const s of [cx, cr, cw, sum, out, rstd, add, out2, rstd2]) cuda.free(s);
  }
});

test('T.addRmsNorm on cuda: outputs and gradients of x, r, w against add then rmsNorm on js64', {
  skip,
}, () => {
  const shape = [3, 17, 256];
  const n = 3 * 17 * 256;
  const xd = normal(n, 4, 2);
  const rd = normal(n, 5, 1);
  const wd = normal(256, 6, 0.3).map((v) => 1 + v);
  const gs = normal(n, 7, 1);
  const go = normal(n, 8, 1);
  const run = (backend: ReturnType<typeof T.getBackend>, fused: boolean) =>
    T.tidy(() => {
      const x = T.requireGrad(T.tensor(xd, shape, { backend }));
      const r = T.requireGrad(T.tensor(rd, shape, { backend }));
      const w = T.requireGrad(T.tensor(wd, [256], { backend }));
      const { sum, out } = fused
        ? T.addRmsNorm(x, r, w)
        : (() => {
            const s = T.add(x, r);
            return { sum: s, out: T.rmsNorm(s, w) };
          })();
      T.backward(
        T.add(
          T.sum(T.mul(sum, T.tensor(gs, shape, { backend }))),
          T.sum(T.mul(out, T.tensor(go, shape, { backend }))),
        ),
      );
      return [sum, out, x.grad!, r.grad!, w.grad!].map((t) => Array.from(t.toArray()));
    });
  const want = run(T.getBackend('js64'), false);
  const ours = run(T.getBackend('cuda'), true);
  const names = ['sum', 'out', 'gx', 'gr', 'gw'];
  // gw sums 51 rows: a looser absolute floor.
  names.forEach((name, i) => {
    assertClose(name, ours[i], want[i], name === 'gw' ? 1e-4 : 1e-5, 1e-4);
  });
});
