// The cuda backend's kernels at sizes the shared op table does not reach (several tiles, long rows, big
// reductions), its allocator and its errors, each against the js reference. Skips cleanly without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { philoxFill } from '../../src/base/philox.ts';
import {
  assertClose,
  attentionBoth,
  cuda,
  download,
  js,
  normal,
  ref,
  relError,
  skip,
  upload,
} from './helpers.ts';

test('alloc is zero-filled, write/read round-trip every dtype, free feeds the cache', { skip }, () => {
  const n = 1000;
  const fresh = cuda.alloc('f32', n);
  assert.deepEqual([...download(fresh, n)], new Array(n).fill(0));
  const x = normal(n, 1);
  cuda.write(fresh, 'f32', x);
  assert.deepEqual(download(fresh, n), x);
  const ints = upload([3, -7, 2147483647, 0], 'i32');
  assert.deepEqual([...download(ints, 4, 'i32')], [3, -7, 2147483647, 0]);
  const half = cuda.alloc('bf16', 3);
  cuda.write(half, 'bf16', [1, 1.00390625, -2.5]); // 1 + 2^-8 is a tie: rounds to even (1)
  assert.deepEqual([...cuda.read(half, 'bf16', 3)], [1, 1, -2.5]);
  cuda.write(fresh, 'f32', [9, 8], 10);
  const back = download(fresh, 12);
  assert.equal(back[10], 9);
  assert.equal(back[11], 8);

  const before = cuda.memoryStats();
  cuda.free(fresh);
  const freed = cuda.memoryStats();
  assert.ok(freed.cachedBytes > before.cachedBytes, 'free returns the block to the cache');
  const again = cuda.alloc('f32', n);
  const after = cuda.memoryStats();
  assert.equal(after.deviceMallocs, freed.deviceMallocs, 'the same size is served from the cache');
  assert.equal(after.cacheHits, freed.cacheHits + 1);
  assert.deepEqual([...download(again, n)], new Array(n).fill(0), 'a reused block is zeroed again');
  assert.throws(() => cuda.free(fresh), /already freed/);
  for (const s of [again, ints, half]) cuda.free(s);
});

test('deferred zero-fill: fresh storages read as zeros as inputs and past a partial write', { skip }, () => {
  const x = normal(64, 90);
  const zeros = cuda.alloc('f32', 64);
  const sum = cuda.alloc('f32', 64);
  cuda.binary('add', upload(x), [1], zeros, [1], sum, [64]); // a never-written input is zeros
  assert.deepEqual(download(sum, 64), x);
  const partial = cuda.alloc('f32', 16);
  cuda.gather(upload([1, 2, 3, 4, 5, 6, 7, 8]), upload([1], 'i32'), partial, 1, 4); // writes 4 of 16
  assert.deepEqual([...download(partial, 16)], [5, 6, 7, 8, ...new Array(12).fill(0)]);
  const inPlace = cuda.alloc('f32', 8);
  cuda.affine(inPlace, inPlace, 8, 2, 1); // out aliases a fresh input: must see zeros, not stale memory
  assert.deepEqual([...download(inPlace, 8)], new Array(8).fill(1));
  const written = cuda.alloc('f32', 6);
  cuda.write(written, 'f32', [7, 7], 2); // a partial first write keeps the zeros around it
  assert.deepEqual([...download(written, 6)], [0, 0, 7, 7, 0, 0]);
});

test('binary with a single-value operand on either side, and strided copies, match the reference', {
  skip,
}, () => {
  for (const n of [64, 66]) {
    const x = normal(n, 91);
    const c = upload([2.5]);
    for (const [op, scalarFirst] of [
      ['mul', false],
      ['sub', true],
      ['div', false],
    ] as const) {
      const out = cuda.alloc('f32', n);
      if (scalarFirst) cuda.binary(op, c, [0], upload(x), [1], out, [n]);
      else cuda.binary(op, upload(x), [1], c, [0], out, [n]);
      const f = { mul: (v: number) => v * 2.5, sub: (v: number) => 2.5 - v, div: (v: number) => v / 2.5 }[op];
      assert.deepEqual(
        [...download(out, n)],
        [...x].map((v) => Math.fround(f(v))),
        `${op} n=${n}`,
      );
    }
    // In place, as the fused head scales its saved gradients.
    const inPlace = upload(x);
    cuda.binary('mul', inPlace, [1], c, [0], inPlace, [n]);
    assert.deepEqual(
      [...download(inPlace, n)],
      [...x].map((v) => Math.fround(v * 2.5)),
    );
  }
  // Contiguous on both sides (a copy), a transpose (the kernel), each with offsets; i32 too.
  const x = normal(24, 92);
  const rows = cuda.alloc('f32', 30);
  cuda.strided(upload(x), 4, [6, 1], rows, 3, [6, 1], [2, 6]);
  assert.deepEqual([...download(rows, 30)], [0, 0, 0, ...x.slice(4, 16), ...new Array(15).fill(0)]);
  const t = cuda.alloc('f32', 12);
  cuda.strided(upload(x), 2, [1, 4], t, 0, [3, 1], [4, 3]);
  assert.deepEqual(
    [...download(t, 12)],
    Array.from({ length: 12 }, (_, i) => x[2 + Math.floor(i / 3) + (i % 3) * 4]),
  );
  const ints = cuda.alloc('i32', 5);
  cuda.strided(upload([1, 2, 3, 4, 5, 6], 'i32'), 1, [1], ints, 0, [1], [5]);
  assert.deepEqual([...cuda.read(ints, 'i32', 5)], [2, 3, 4, 5, 6]);
});

test('matmul modes: fp32 tight, tf32 and bf16 within their precision', { skip }, () => {
  const [m, n, k, batch] = [70, 50, 300, 3];
  const a = normal(batch * m * k, 2);
  const b = normal(k * n, 3);
  const expected = js.alloc('f32', batch * m * n);
  const args = {
    batch,
    m,
    n,
    k,
    transA: false,
    transB: false,
    aBatchStride: m * k,
    bBatchStride: 0,
    alpha: 0.5,
    accumulate: false,
  };
  js.matmul(ref(a), ref(b), expected, args);
  const want = js.read(expected, 'f32', batch * m * n);
  const previous = cuda.matmulMode();
  try {
    for (const [mode, tol] of [
      ['fp32', 1e-6],
      ['tf32', 3e-3],
      ['bf16', 1.5e-2],
    ] as const) {
      cuda.setMatmulMode(mode);
      const out = cuda.alloc('f32', batch * m * n);
      cuda.matmul(upload(a), upload(b), out, args);
      const err = relError(download(out, batch * m * n), want);
      assert.ok(err < tol, `${mode}: relative error ${err} >= ${tol}`);
      assert.ok(err > 0 || mode === 'fp32', `${mode} should not be exact`);
    }
    // transposes, real batch strides and accumulate, in fp32
    cuda.setMatmulMode('fp32');
    const at = normal(batch * k * m, 4);
    const bt = normal(batch * n * k, 5);
    const c0 = normal(batch * m * n, 6);
    const g = { ...args, transA: true, transB: true, bBatchStride: n * k, accumulate: true };
    const r = ref(c0);
    js.matmul(ref(at), ref(bt), r, g);
    const out = upload(c0);
    cuda.matmul(upload(at), upload(bt), out, g);
    assertClose(
      'matmul transA transB accumulate',
      download(out, batch * m * n),
      js.read(r, 'f32', batch * m * n),
      1e-4,
      1e-4,
    );
  } finally {
    cuda.setMatmulMode(previous);
  }
});

test('attention forward and backward over several tiles, causal and full, head sizes 64 and 128', {
  skip,
}, () => {
  // fp32 mode: the exact flash-style kernels (bf16/tf32 modes take the tensor-core path, tested below).
  const previous = cuda.setMatmulMode('fp32');
  try {
    for (const [B, T, nh, hs, causal] of [
      [2, 100, 3, 64, true],
      [1, 70, 2, 128, false],
      [1, 33, 1, 24, true],
    ] as const) {
      const { ref: r, ours: c } = attentionBoth([B, T, nh, hs], causal, 10);
      const what = `attention B${B} T${T} nh${nh} hs${hs} ${causal ? 'causal' : 'full'}`;
      for (const key of ['out', 'gq', 'gk', 'gv'] as const)
        assertClose(`${what} ${key}`, c[key], r[key], 2e-4, 1e-3);
      assertClose(`${what} lse`, c.lse, r.lse, 1e-4, 1e-4);
    }
  } finally {
    cuda.setMatmulMode(previous);
  }
});

test("flash attention's kept bf16 copies of q, k, v and gOut follow their storages: a write drops them", {
  skip,
}, () => {
  // The forward keeps each input's bf16 copy on its storage and the backward reads it; a host write or a kernel
  // writing the storage must drop the copy, or the next call would compute on the old values.
  const [B, T, nh, hs] = [1, 100, 2, 64];
  const n = B * T * nh * hs;
  const stats = B * nh * T;
  const scale = 1 / Math.sqrt(hs);
  const reference = (q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array) => {
    const [out, lse, gq, gk, gv] = [n, stats, n, n, n].map((size) => js.alloc('f32', size));
    js.attention(ref(q), ref(k), ref(v), out, lse, B, T, nh, hs, scale, true);
    js.attentionGrad(ref(q), ref(k), ref(v), out, lse, ref(g), gq, gk, gv, B, T, nh, hs, scale, true);
    return [out, gq, gk, gv].map((x) => js.read(x, 'f32', n) as Float32Array);
  };
  const previous = cuda.setMatmulMode('bf16');
  try {
    const [q1, q2, k, v, g1, g2] = [1, 2, 3, 4, 5, 6].map((seed) => normal(n, seed));
    const [q, kc, vc, g] = [upload(q1), upload(k), upload(v), upload(g1)];
    const [out, gq, gk, gv] = [0, 1, 2, 3].map(() => cuda.alloc('f32', n));
    const lse = cuda.alloc('f32', stats);
    const ours = () => {
      cuda.attention(q, kc, vc, out, lse, B, T, nh, hs, scale, true);
      cuda.attentionGrad(q, kc, vc, out, lse, g, gq, gk, gv, B, T, nh, hs, scale, true);
      return [out, gq, gk, gv].map((x) => download(x, n) as Float32Array);
    };
    const check = (what: string, got: Float32Array[], want: Float32Array[]) =>
      ['out', 'gq', 'gk', 'gv'].forEach((key, i) => {
        const err = relError(got[i], want[i]);
        assert.ok(err < 1.5e-2, `${what} ${key}: relative error ${err}`);
      });
    check('first call', ours(), reference(q1, k, v, g1));
    cuda.write(q, 'f32', q2); // host write
    cuda.write(g, 'f32', g2);
    check('after writing q and gOut from the host', ours(), reference(q2, k, v, g2));
    const negated = Float32Array.from(q2, (x) => -x);
    cuda.affine(q, q, n, -1, 0); // a kernel writing q in place
    check('after a kernel wrote q', ours(), reference(negated, k, v, g2));
  } finally {
    cuda.setMatmulMode(previous);
  }
});

test('attention on the tensor cores (bf16 matmul mode) stays within bf16 precision of the reference', {
  skip,
}, () => {
  // hs 32/64/128 take the flash kernels (T 200: partial and several 64-row tiles); hs 24 the cuBLASLt path.
  const previous = cuda.setMatmulMode('bf16');
  try {
    for (const [B, T, nh, hs] of [
      [2, 100, 3, 64],
      [1, 200, 2, 32],
      [1, 200, 2, 64],
      [1, 130, 2, 128],
      [2, 100, 3, 24],
    ]) {
      for (const causal of [true, false]) {
        const { ref: r, ours: c } = attentionBoth([B, T, nh, hs], causal, 14);
        const what = `bf16 attention B${B} T${T} nh${nh} hs${hs} ${causal ? 'causal' : 'full'}`;
        for (const key of ['out', 'lse', 'gq', 'gk', 'gv'] as const) {
          const err = relError(c[key], r[key]);
          assert.ok(err < 1.5e-2, `${what} ${key}: relative error ${err}`);
          if (key !== 'lse') {
            assert.ok(
              err > 1e-6,
              `${what} ${key} should show bf16 rounding (is the tensor-core path running?)`,
            );
          }
        }
      }
    }
  } finally {
    cuda.setMatmulMode(previous);
  }
});

test('cross-entropy at each row width its kernels take: in registers (up to 32768 classes), else two passes', {
  skip,
}, () => {
  const rows = 9;
  for (const cols of [12, 5000, 32768, 5001, 40000]) {
    const x = normal(rows * cols, 30, 3);
    const targets = Array.from({ length: rows }, (_, r) => (r % 4 === 0 ? -1 : (r * 7919) % cols));
    const loss = { c: cuda.alloc('f32', rows), r: js.alloc('f32', rows) };
    const lse = { c: cuda.alloc('f32', rows), r: js.alloc('f32', rows) };
    js.crossEntropy(ref(x), ref(targets, 'i32'), loss.r, lse.r, rows, cols);
    cuda.crossEntropy(upload(x), upload(targets, 'i32'), loss.c, lse.c, rows, cols);
    assertClose(
      `crossEntropy loss ${cols}`,
      download(loss.c, rows),
      js.read(loss.r, 'f32', rows),
      1e-4,
      1e-5,
    );
    assertClose(`crossEntropy lse ${cols}`, download(lse.c, rows), js.read(lse.r, 'f32', rows), 1e-4, 1e-5);
  }
});

test('row kernels at vocabulary width: softmax, cross-entropy (with ignored rows), RMSNorm', { skip }, () => {
  const rows = 37;
  const cols = 5000;
  const x = normal(rows * cols, 20, 3);
  const targets = Array.from({ length: rows }, (_, r) => (r % 6 === 0 ? -1 : (r * 131) % cols));
  const loss = { c: cuda.alloc('f32', rows), r: js.alloc('f32', rows) };
  const lse = { c: cuda.alloc('f32', rows), r: js.alloc('f32', rows) };
  js.crossEntropy(ref(x), ref(targets, 'i32'), loss.r, lse.r, rows, cols);
  const cx = upload(x);
  const ct = upload(targets, 'i32');
  cuda.crossEntropy(cx, ct, loss.c, lse.c, rows, cols);
  assertClose('crossEntropy loss', download(loss.c, rows), js.read(loss.r, 'f32', rows), 1e-4, 1e-5);
  const gLoss = normal(rows, 21);
  const gl = { c: cuda.alloc('f32', rows * cols), r: js.alloc('f32', rows * cols) };
  js.crossEntropyGrad(ref(x), ref(targets, 'i32'), lse.r, ref(gLoss), gl.r, rows, cols);
  cuda.crossEntropyGrad(cx, ct, lse.c, upload(gLoss), gl.c, rows, cols);
  assertClose('crossEntropyGrad', download(gl.c, rows * cols), js.read(gl.r, 'f32', rows * cols), 1e-6, 1e-4);
  const sm = { c: cuda.alloc('f32', rows * cols), r: js.alloc('f32', rows * cols) };
  js.softmax(ref(x), sm.r, rows, cols);
  cuda.softmax(cx, sm.c, rows, cols);
  assertClose('softmax', download(sm.c, rows * cols), js.read(sm.r, 'f32', rows * cols), 1e-7, 1e-4);

  // Shapes for each rmsNormGrad path: float4 rows of one, two and four float4s a thread, rows past a block's
  // share, and the scalar kernel (cols % 4 != 0, or too wide); gx overwritten and accumulated into.
  for (const [nr, nc] of [
    [600, 512],
    [37, 1024],
    [300, 2056],
    [129, 4096],
    [50, 1030],
    [20, 6000],
  ]) {
    const xn = normal(nr * nc, 22);
    const w = normal(nc, 23);
    const gy = normal(nr * nc, 24);
    const gw0 = normal(nc, 25);
    const gx0 = normal(nr * nc, 27);
    for (const accumulate of [false, true]) {
      const jr = {
        out: js.alloc('f32', nr * nc),
        rstd: js.alloc('f32', nr),
        gx: accumulate ? ref(gx0) : js.alloc('f32', nr * nc),
        gw: ref(gw0),
      };
      js.rmsNorm(ref(xn), ref(w), jr.out, jr.rstd, nr, nc, 1e-5);
      js.rmsNormGrad(ref(xn), ref(w), jr.rstd, ref(gy), jr.gx, jr.gw, nr, nc, accumulate);
      const cr = {
        out: cuda.alloc('f32', nr * nc),
        rstd: cuda.alloc('f32', nr),
        gx: accumulate ? upload(gx0) : cuda.alloc('f32', nr * nc),
        gw: upload(gw0),
      };
      const cw = upload(w);
      const cxn = upload(xn);
      cuda.rmsNorm(cxn, cw, cr.out, cr.rstd, nr, nc, 1e-5);
      cuda.rmsNormGrad(cxn, cw, cr.rstd, upload(gy), cr.gx, cr.gw, nr, nc, accumulate);
      const at = `${nr}x${nc}${accumulate ? ' accumulate' : ''}`;
      assertClose(`rmsNorm ${at}`, download(cr.out, nr * nc), js.read(jr.out, 'f32', nr * nc), 1e-5, 1e-4);
      assertClose(
        `rmsNormGrad gx ${at}`,
        download(cr.gx, nr * nc),
        js.read(jr.gx, 'f32', nr * nc),
        1e-4,
        1e-4,
      );
      assertClose(
        `rmsNormGrad gw (accumulated) ${at}`,
        download(cr.gw, nc),
        js.read(jr.gw, 'f32', nc),
        1e-3,
        1e-4,
      );
    }
  }
});

test('rope keeps its precision far into the sequence, both directions', { skip }, () => {
  const [B, T, nh, hs] = [2, 64, 3, 32];
  const n = B * T * nh * hs;
  const x = normal(n, 26);
  for (const direction of [1, -1] as const) {
    const r = js.alloc('f32', n);
    js.rope(ref(x), r, B, T, nh, hs, 10000, 50000, direction);
    const c = cuda.alloc('f32', n);
    cuda.rope(upload(x), c, B, T, nh, hs, 10000, 50000, direction);
    assertClose(`rope direction ${direction}`, download(c, n), js.read(r, 'f32', n), 2e-6, 2e-6);
  }
});

test('reductions split over blocks: sum and max of every axis, sumSquares', { skip }, () => {
  const [outer, mid, inner] = [3, 20000, 5];
  const x = normal(outer * mid * inner, 30);
  const cx = upload(x);
  for (const op of ['sum', 'max'] as const) {
    for (const [o, m, i] of [
      [outer, mid, inner],
      [1, outer * mid * inner, 1],
      [outer * mid, inner, 1],
      [1, outer * mid, inner],
    ]) {
      const r = js.alloc('f32', o * i);
      js.reduce(op, ref(x), r, o, m, i);
      const c = cuda.alloc('f32', o * i);
      cuda.reduce(op, cx, c, o, m, i);
      assertClose(
        `reduce ${op} (${o}, ${m}, ${i})`,
        download(c, o * i),
        js.read(r, 'f32', o * i),
        2e-3,
        1e-4,
      );
    }
  }
  const s = cuda.sumSquares(cx, x.length);
  const want = js.sumSquares(ref(x), x.length);
  assert.ok(Math.abs(s - want) <= 1e-9 * want, `sumSquares ${s} vs ${want}`);
});

test("sumSquaresMany: the sum of every tensor's sumSquares, with one synchronization", { skip }, () => {
  const sizes = [0, 1, 37, 1000, 300_000, 4097];
  const host = sizes.map((n, i) => normal(n, 100 + i, 1 + i));
  const dev = host.map((x) => upload(x));
  let perTensor = 0;
  for (const [i, x] of dev.entries()) perTensor += cuda.sumSquares(x, sizes[i]);
  const many = cuda.sumSquaresMany(dev, sizes);
  assert.ok(Math.abs(many - perTensor) <= 1e-12 * perTensor, `sumSquaresMany ${many} vs ${perTensor}`);
  const refs = host.map((x) => ref(x));
  const want = js.sumSquaresMany!(refs, sizes);
  assert.ok(Math.abs(many - want) <= 1e-9 * want, `sumSquaresMany ${many} vs reference ${want}`);
  assert.equal(cuda.sumSquaresMany(dev, sizes), many, 'deterministic');
  const prefix = cuda.sumSquaresMany(dev.slice(2, 3), [10]); // the first n elements only
  assert.ok(Math.abs(prefix - js.sumSquares(refs[2], 10)) <= 1e-12 * prefix, `prefix ${prefix}`);
  assert.equal(cuda.sumSquaresMany([], []), 0);
  assert.throws(() => cuda.sumSquaresMany(dev.slice(0, 2), sizes), /xs.*array of 6 storages/);
});

test('random and dropout draw the Philox stream exactly', { skip }, () => {
  const n = 4099;
  for (const dist of ['uniform', 'normal'] as const) {
    const c = cuda.alloc('f32', n);
    cuda.random(c, n, dist, 1234567, 3);
    const want = new Float32Array(n);
    philoxFill(want, n, dist, 1234567, 3);
    assertClose(`random ${dist}`, download(c, n), want, 1e-6, 1e-6);
  }
  const x = normal(n, 31);
  const r = js.alloc('f32', n);
  js.dropout(ref(x), r, n, 0.25, 77, 10);
  const c = cuda.alloc('f32', n);
  cuda.dropout(upload(x), c, n, 0.25, 77, 10);
  assertClose('dropout', download(c, n), js.read(r, 'f32', n), 0, 1e-6);
});

test('adamw and adamwMulti follow the reference update', { skip }, () => {
  const sizes = [1000, 37, 4096];
  const args = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3, gradScale: 0.5 };
  const host = sizes.map((n, i) => ({
    p: normal(n, 40 + i),
    g: normal(n, 50 + i),
    m: normal(n, 60 + i, 0.1),
    v: normal(n, 70 + i, 0.01).map(Math.abs),
  }));
  const dev = host.map((h) => ({ p: upload(h.p), g: upload(h.g), m: upload(h.m), v: upload(h.v) }));
  cuda.adamw(dev[0].p, dev[0].g, dev[0].m, dev[0].v, sizes[0], args);
  cuda.adamwMulti(
    dev.slice(1).map((d) => d.p),
    dev.slice(1).map((d) => d.g),
    dev.slice(1).map((d) => d.m),
    dev.slice(1).map((d) => d.v),
    sizes.slice(1),
    args,
  );
  host.forEach((h, i) => {
    const r = { p: ref(h.p), m: ref(h.m), v: ref(h.v) };
    js.adamw(r.p, ref(h.g), r.m, r.v, sizes[i], args);
    assertClose(
      `adamw tensor ${i} param`,
      download(dev[i].p, sizes[i]),
      js.read(r.p, 'f32', sizes[i]),
      1e-6,
      1e-5,
    );
    assertClose(
      `adamw tensor ${i} m`,
      download(dev[i].m, sizes[i]),
      js.read(r.m, 'f32', sizes[i]),
      1e-7,
      1e-5,
    );
  });
});

test('adamwMulti over 150 tensors (several launches) matches adamw per tensor exactly', { skip }, () => {
  const sizes = Array.from({ length: 150 }, (_, i) => (i * 37) % 500);
  const args = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, step: 2, gradScale: 0.8 };
  const make = () =>
    sizes.map((n, i) => ({
      p: upload(normal(n, 200 + i)),
      g: upload(normal(n, 400 + i)),
      m: upload(normal(n, 600 + i, 0.1)),
      v: upload(normal(n, 800 + i, 0.01).map(Math.abs)),
    }));
  const single = make();
  for (const [i, t] of single.entries()) cuda.adamw(t.p, t.g, t.m, t.v, sizes[i], args);
  const multi = make();
  const field = (k: 'p' | 'g' | 'm' | 'v') => multi.map((t) => t[k]);
  cuda.adamwMulti(field('p'), field('g'), field('m'), field('v'), sizes, args);
  sizes.forEach((n, i) => {
    for (const k of ['p', 'm', 'v'] as const) {
      assert.deepEqual(download(multi[i][k], n), download(single[i][k], n), `tensor ${i} ${k}`);
    }
  });
});

test('errors name the kernel and the argument; index errors surface at the next read', { skip }, () => {
  const table = upload(normal(12, 80));
  const out = cuda.alloc('f32', 8);
  assert.throws(
    () => cuda.gather(table, upload([0, 1], 'i32'), out, 3, 4),
    /cuda kernel gather.*idx.*holds 2 elements/,
  );
  cuda.gather(table, upload([0, 5], 'i32'), out, 2, 4);
  assert.throws(() => cuda.read(out, 'f32', 8), /gather.*index 5 at position 1/);
  assert.deepEqual(download(out, 4).length, 4, 'the error is raised once, then the backend carries on');
  assert.throws(() => cuda.attention(table, table, table, out, out, 1, 1, 1, 130, 1, true), /hs = 130/);
});
