// T.linearCrossEntropy on cuda (the LM head fused with its cross-entropy in chunks of rows; it adds no kernel,
// it runs crossEntropyGrad in place and strided / matmul on row ranges): against the unfused head on the
// float64 js reference in fp32 matmul mode, against the unfused head on cuda in the default bf16 mode, and at
// a GPT-2-sized vocabulary where no storage as large as the full logits may be allocated. Skips without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/index.ts';
import { createJsBackend } from '../../src/backends/js/js-backend.ts';
import type { JsStorage } from '../../src/backends/js/storage.ts';
import { philoxFill } from '../../src/base/philox.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose, cuda, download, inMode, normal, relError, skip, upload } from './helpers.ts';

const js = createJsBackend({ float64: true });

/** Targets in [0, V), every 9th ignored (-1). */
function targetsOf(rows: number, V: number, seed: number): Int32Array {
  const u = new Float32Array(rows);
  philoxFill(u, rows, 'uniform', seed, 0);
  return Int32Array.from(u, (v, r) => (r % 9 === 4 ? -1 : Math.min(V - 1, Math.floor(v * V))));
}

type Backend = ReturnType<typeof T.getBackend>;
interface Case {
  B: number;
  S: number;
  C: number;
  V: number;
}

/** Loss × 1.7 and its gradients for x and w, by the fused op (chunkRows, or the default) or the unfused head. */
function run(backend: Backend, c: Case, fused: number | 'default' | false) {
  const { B, S, C, V } = c;
  return T.tidy(() => {
    const x = T.requireGrad(T.tensor(normal(B * S * C, 1, 2), [B, S, C], { backend }));
    const w = T.requireGrad(T.tensor(normal(V * C, 2, 0.3), [V, C], { backend }));
    const t = T.tensor(targetsOf(B * S, V, 3), [B, S], { dtype: 'i32', backend });
    const loss =
      fused === false
        ? T.crossEntropy(T.matmul(x, w, { transB: true }), t)
        : T.linearCrossEntropy(x, w, t, fused === 'default' ? {} : { chunkRows: fused });
    T.backward(T.affine(loss, 1.7));
    return { loss: loss.item(), dx: Array.from(x.grad!.toArray()), dw: Array.from(w.grad!.toArray()) };
  });
}

const maxAbs = (xs: number[]) => xs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('crossEntropyGrad may write over its logits (the fused head does): same as the reference', {
  skip,
}, () => {
  const [rows, cols] = [37, 5003];
  const x = normal(rows * cols, 7, 3);
  const targets = targetsOf(rows, cols, 8);
  const gLoss = Array.from({ length: rows }, (_, r) => 0.25 + (r % 3));
  const lse = { c: cuda.alloc('f32', rows), r: js.alloc('f32', rows) };
  const loss = { c: cuda.alloc('f32', rows), r: js.alloc('f32', rows) };
  const rx: JsStorage = js.alloc('f32', rows * cols);
  js.write(rx, 'f32', x);
  const rt = js.alloc('i32', rows);
  js.write(rt, 'i32', targets);
  const rg = js.alloc('f32', rows);
  js.write(rg, 'f32', gLoss);
  js.crossEntropy(rx, rt, loss.r, lse.r, rows, cols);
  js.crossEntropyGrad(rx, rt, lse.r, rg, rx, rows, cols);
  const [cx, ct, cg] = [upload(x), upload(targets, 'i32'), upload(gLoss)];
  cuda.crossEntropy(cx, ct, loss.c, lse.c, rows, cols);
  cuda.crossEntropyGrad(cx, ct, lse.c, cg, cx, rows, cols); // in place
  assertClose(
    'in-place crossEntropyGrad',
    download(cx, rows * cols),
    js.read(rx, 'f32', rows * cols),
    1e-6,
    1e-4,
  );
  for (const s of [cx, ct, cg, lse.c, loss.c]) cuda.free(s);
});

test('fp32 mode: T.linearCrossEntropy on cuda equals the unfused head on js64 at every chunk size', {
  skip,
}, () => {
  const c = { B: 3, S: 37, C: 64, V: 5003 }; // 111 rows, V prime
  const want = run(T.getBackend('js64'), c, false);
  inMode('fp32', () => {
    for (const chunk of [16, 37, 100, 111, 'default'] as const) {
      const ours = run(T.getBackend('cuda'), c, chunk);
      assert.ok(
        Math.abs(ours.loss - want.loss) <= 1e-5 * want.loss,
        `chunk ${chunk}: ${ours.loss} vs ${want.loss}`,
      );
      assertClose(`dx chunk ${chunk}`, ours.dx, want.dx, 1e-4 * maxAbs(want.dx), 0);
      assertClose(`dw chunk ${chunk}`, ours.dw, want.dw, 1e-4 * maxAbs(want.dw), 0);
    }
  });
});

// bf16 products round their operands: the fused head rounds dlogits before the upstream scale (it makes them in
// the forward), the unfused one after, so the two differ by bf16 rounding. Each is held to the float64 reference
// at the house's bf16 tolerance (relative error of the whole tensor < 1.5e-2), and the fused one may not be
// markedly worse than the unfused.
function assertBf16Close(what: string, fused: number[], unfused: number[], want: number[]) {
  const [ef, eu] = [relError(fused, want), relError(unfused, want)];
  assert.ok(ef < 1.5e-2, `${what}: fused relative error ${ef}`);
  assert.ok(ef <= Math.max(1.5 * eu, 1e-3), `${what}: fused ${ef} against unfused ${eu}`);
}

test('bf16 mode (the default): fused and unfused head on cuda are equally close to the reference', {
  skip,
}, () => {
  const c = { B: 4, S: 100, C: 128, V: 8191 };
  const cudaBackend = T.getBackend('cuda');
  const want = run(T.getBackend('js64'), c, false);
  inMode('bf16', () => {
    const unfused = run(cudaBackend, c, false);
    for (const chunk of [64, 150, 'default'] as const) {
      const ours = run(cudaBackend, c, chunk);
      assert.ok(
        Math.abs(ours.loss - want.loss) <= 2e-3 * want.loss,
        `chunk ${chunk}: ${ours.loss} vs ${want.loss}`,
      );
      assertBf16Close(`dx chunk ${chunk}`, ours.dx, unfused.dx, want.dx);
      assertBf16Close(`dw chunk ${chunk}`, ours.dw, unfused.dw, want.dw);
    }
  });
});

test('at V = 50257 the default chunks keep every storage far below the full logits', { skip }, () => {
  const c = { B: 4, S: 1024, C: 256, V: 50257 }; // full fp32 logits: 823 MB
  const cudaBackend = T.getBackend('cuda');
  let largest = 0;
  const watched = {
    ...cudaBackend,
    alloc: (dtype: Parameters<typeof cudaBackend.alloc>[0], size: number) => {
      largest = Math.max(largest, size);
      return cudaBackend.alloc(dtype, size);
    },
  };
  const ours = inMode('fp32', () => run(watched, c, 'default'));
  assert.ok(largest * 4 <= T.LINEAR_CROSS_ENTROPY_CHUNK_BYTES, `largest storage ${largest} elements`);
  const want = inMode('fp32', () => run(cudaBackend, c, false));
  assert.ok(Math.abs(ours.loss - want.loss) <= 1e-5 * want.loss, `${ours.loss} vs ${want.loss}`);
  assertClose('dx', ours.dx, want.dx, 1e-4 * maxAbs(want.dx), 0);
  assertClose('dw', ours.dw, want.dw, 1e-4 * maxAbs(want.dw), 0);
});

test('bf16 mode, productsRound: logits and their gradient kept as bf16 copies alone, bit for bit the rounding head', {
  skip,
}, () => {
  // V 8192: the products keep bf16 logits alone and the row kernel reads them; 33280 (past the row kernel's
  // 32768): the two-pass kernel widens the copy into its scratch; 8190 (rows not 16-byte aligned in bf16): the
  // products write f32 and round, nothing held by a copy alone. Chunks of 64 rows (the last one partial, so in f32)
  // and the default (one chunk).
  for (const V of [8192, 33280, 8190]) {
    const c = { B: 4, S: 100, C: 128, V };
    const backend = T.getBackend('cuda');
    const head = (chunk: number | 'default', productsRound: boolean) =>
      T.tidy(() => {
        const x = T.requireGrad(T.tensor(normal(c.B * c.S * c.C, 1, 2), [c.B, c.S, c.C], { backend }));
        const w = T.requireGrad(T.tensor(normal(V * c.C, 2, 0.3), [V, c.C], { backend }));
        const t = T.tensor(targetsOf(c.B * c.S, V, 3), [c.B, c.S], { dtype: 'i32', backend });
        const chunkRows = chunk === 'default' ? {} : { chunkRows: chunk };
        const loss = T.linearCrossEntropy(x, w, t, { ...chunkRows, round: 'bf16', productsRound });
        T.backward(loss);
        return { loss: loss.item(), dx: Array.from(x.grad!.toArray()), dw: Array.from(w.grad!.toArray()) };
      });
    inMode('bf16', () => {
      for (const chunk of [64, 'default'] as const) {
        const [kept] = cuda.addon.halfOnlyCounts!();
        const ours = head(chunk, true);
        // (the gradient, rounded over the logits' copy or into its own, is kept as a copy at every V)
        assert.ok(cuda.addon.halfOnlyCounts!()[0] > kept, `V ${V} chunk ${chunk}: copies kept`);
        const want = head(chunk, false);
        assert.equal(ours.loss, want.loss, `V ${V} chunk ${chunk}: loss`);
        assert.deepEqual(ours.dx, want.dx, `V ${V} chunk ${chunk}: dx`);
        assert.deepEqual(ours.dw, want.dw, `V ${V} chunk ${chunk}: dw`);
      }
    });
  }
});
