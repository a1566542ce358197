// Every kernel of the Backend interface on `cpu` against the `js` oracle. Tolerances: rel 1e-5 for elementwise
// and data movement (exact where both sides compute the same float ops), 1e-4 for matmul, reductions over long
// rows and attention (float32 accumulation in a different order).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { binaryOps, unaryOps } from '../../src/backends/backend.ts';
import { type AnyBackend, agree, cpu, get, put, rand, skipCpu } from './helpers.ts';

const opts = { skip: skipCpu };

// Dense row-major strides with 0 on size-1 dims (broadcast), as the frontend passes them.
function strides(shape: number[], of: number[] = shape): number[] {
  const out = new Array<number>(shape.length).fill(0);
  let s = 1;
  for (let d = of.length - 1, e = shape.length - 1; d >= 0; d--, e--) {
    out[e] = of[d] === 1 ? 0 : s;
    s *= of[d];
  }
  return out;
}
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

describe('cpu data movement', opts, () => {
  test('fill f32 and i32', () => {
    agree(
      'fill',
      (b) => {
        const f = b.alloc('f32', 70000);
        const i = b.alloc('i32', 9);
        b.fill(f, 69999, 2.5);
        b.fill(i, 9, -3);
        return [get(b, f, 70000), get(b, i, 9, 'i32')];
      },
      0,
    );
  });

  test('strided: transpose, slice with offsets, broadcast, i32, large', () => {
    agree(
      'strided',
      (b) => {
        const x = put(b, 'f32', rand(2 * 3 * 4, 1));
        const t = b.alloc('f32', 24);
        b.strided(x, 0, [12, 1, 4], t, 0, [12, 3, 1], [2, 4, 3]); // (2,3,4) -> (2,4,3)
        const s = b.alloc('f32', 10);
        b.strided(x, 5, [12, 1], s, 1, [4, 2], [2, 3]); // a slice into a strided destination
        const bc = b.alloc('f32', 12);
        b.strided(x, 2, [0, 1], bc, 0, [4, 1], [3, 4]); // row broadcast
        const xi = put(b, 'i32', [1, -2, 3, -4, 5, -6]);
        const ti = b.alloc('i32', 6);
        b.strided(xi, 0, [1, 2], ti, 0, [3, 1], [2, 3]);
        const big = put(b, 'f32', rand(300 * 257, 2));
        const bigT = b.alloc('f32', 300 * 257);
        b.strided(big, 0, [1, 300], bigT, 0, [257, 1], [300, 257]);
        return [get(b, t, 24), get(b, s, 10), get(b, bc, 12), get(b, ti, 6, 'i32'), get(b, bigT, 300 * 257)];
      },
      0,
    );
  });

  test('cast between f32, i32, bf16 and f16 (round to nearest even, subnormals, overflow, NaN)', () => {
    const special = [
      0,
      -0,
      1,
      -1.5,
      Math.PI,
      65504,
      65520,
      1e6,
      6e-8,
      3e-5,
      1e-40,
      Number.NaN,
      2.75,
      -7.9,
      1 / 3,
      3e9, // i32: wraps modulo 2^32 like an Int32Array store
      -3e9,
    ];
    const data = [...special, ...rand(2000, 3, -100, 100)];
    agree(
      'cast',
      (b) => {
        const x = put(b, 'f32', data);
        const outs: ArrayLike<number>[] = [];
        for (const to of ['bf16', 'f16'] as const) {
          const h = b.alloc(to, data.length);
          b.cast(x, 'f32', h, to, data.length);
          outs.push(get(b, h, data.length, to));
          const back = b.alloc('f32', data.length);
          b.cast(h, to, back, 'f32', data.length);
          outs.push(get(b, back, data.length));
        }
        const i = b.alloc('i32', data.length);
        b.cast(x, 'f32', i, 'i32', data.length);
        outs.push(Array.from(get(b, i, data.length, 'i32')).map((v, k) => (Number.isNaN(data[k]) ? 0 : v)));
        const f = b.alloc('f32', data.length);
        b.cast(i, 'i32', f, 'f32', data.length);
        outs.push(Array.from(get(b, f, data.length)).map((v, k) => (Number.isNaN(data[k]) ? 0 : v)));
        return outs;
      },
      0,
    );
  });

  test('roundTo bf16 and f16: the cast there and back, exactly (70000 values: above the parallel grain)', () => {
    const data = [0, -0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 65519, 65520, 3.4e38, 6e-8, 1e-40, Number.NaN];
    const all = [...data, ...rand(70000, 4, -70000, 70000)];
    agree(
      'roundTo',
      (b) => {
        const x = put(b, 'f32', all);
        return (['bf16', 'f16'] as const).map((to) => {
          const out = b.alloc('f32', all.length);
          b.roundTo(x, out, to, all.length);
          return get(b, out, all.length);
        });
      },
      0,
    );
  });

  test('write and read half types round-trip through the same encoding as js', () => {
    agree(
      'half io',
      (b) => {
        const h = put(b, 'bf16', [1.00390625, -2.5, 1e-3]);
        const f = put(b, 'f16', [1.00048828125, -2.5, 1e-3]);
        return [get(b, h, 3, 'bf16'), get(b, f, 3, 'f16')];
      },
      0,
    );
  });
});

describe('cpu elementwise', opts, () => {
  const positive = new Set(['log', 'sqrt', 'rsqrt']);
  for (const op of unaryOps) {
    test(`unary ${op} and its gradient`, () => {
      const n = 40000; // above the parallel grain
      const x = positive.has(op) ? rand(n, 7, 0.05, 5) : rand(n, 7, -6, 6);
      x[0] = 2.5; // round half to even
      x[1] = -0.5;
      const gy = rand(n, 8);
      agree(
        op,
        (b) => {
          const xs = put(b, 'f32', x);
          const out = b.alloc('f32', n);
          b.unary(op, xs, out, n);
          const gx = b.alloc('f32', n);
          b.unaryGrad(op, xs, put(b, 'f32', gy), gx, n);
          return [get(b, out, n), get(b, gx, n)];
        },
        1e-5,
        1e-6,
      );
    });
  }

  test('unary in place (out aliases x)', () => {
    agree(
      'in place',
      (b) => {
        const xs = put(b, 'f32', rand(100, 9));
        b.unary('tanh', xs, xs, 100);
        return [get(b, xs, 100)];
      },
      1e-5,
      1e-6,
    );
  });

  // [shape, a's dims, b's dims, a transposed?]
  const cases: [string, number[], number[], number[]][] = [
    ['dense same shape', [3, 5], [3, 5], [3, 5]],
    ['scalar b', [4, 6], [4, 6], [1, 1]],
    ['scalar a', [4, 6], [1], [4, 6]],
    ['row broadcast', [7, 9], [7, 9], [1, 9]],
    ['column broadcast', [7, 9], [7, 1], [7, 9]],
    ['both broadcast', [2, 3, 4], [2, 1, 4], [1, 3, 1]],
    ['large row broadcast', [400, 130], [400, 130], [130]],
    ['large column broadcast', [400, 130], [400, 1], [400, 130]],
  ];
  for (const op of binaryOps) {
    test(`binary ${op} with broadcasting`, () => {
      for (const [name, shape, aDims, bDims] of cases) {
        const an = size(aDims);
        const bn = size(bDims);
        let av = rand(an, 11, 0.1, 3);
        let bv = rand(bn, 12, 0.1, 3);
        if (op !== 'pow') {
          av = rand(an, 11, -3, 3);
          bv = rand(bn, 12, -3, 3);
          for (let i = 0; i < Math.min(an, bn); i += 5) bv[i] = av[i]; // ties for comparisons, max and min
        }
        agree(
          `${op} ${name}`,
          (b) => {
            const out = b.alloc('f32', size(shape));
            b.binary(
              op,
              put(b, 'f32', av),
              strides(
                aDims.length < shape.length
                  ? [...Array(shape.length - aDims.length).fill(1), ...aDims]
                  : aDims,
              ),
              put(b, 'f32', bv),
              strides(
                bDims.length < shape.length
                  ? [...Array(shape.length - bDims.length).fill(1), ...bDims]
                  : bDims,
              ),
              out,
              shape,
            );
            return [get(b, out, size(shape))];
          },
          1e-5,
          1e-6,
        );
      }
    });
  }

  test('binary on a transposed operand and in place', () => {
    agree(
      'transposed',
      (b) => {
        const a = put(b, 'f32', rand(12, 13));
        const c = put(b, 'f32', rand(12, 14));
        const out = b.alloc('f32', 12);
        b.binary('sub', a, [1, 3], c, [4, 1], out, [3, 4]); // a is (4,3) read transposed
        b.binary('mul', c, [4, 1], c, [4, 1], c, [3, 4]); // out aliases dense operands
        return [get(b, out, 12), get(b, c, 12)];
      },
      1e-6,
    );
  });

  test('where with broadcasting', () => {
    agree(
      'where',
      (b) => {
        const cond = put(b, 'f32', [1, 0, 0, 1, 1]);
        const a = put(b, 'f32', rand(4 * 5, 15));
        const c = put(b, 'f32', [7]);
        const out = b.alloc('f32', 20);
        b.where(cond, [0, 1], a, [5, 1], c, [0, 0], out, [4, 5]);
        const big = 300 * 200;
        const cb = put(
          b,
          'f32',
          Array.from(rand(big, 16), (v) => (v > 0 ? 1 : 0)),
        );
        const ob = b.alloc('f32', big);
        b.where(
          cb,
          [200, 1],
          put(b, 'f32', rand(big, 17)),
          [200, 1],
          put(b, 'f32', rand(200, 18)),
          [0, 1],
          ob,
          [300, 200],
        );
        return [get(b, out, 20), get(b, ob, big)];
      },
      0,
    );
  });

  test('swiglu and swigluGrad (70000 values: above the parallel grain)', () => {
    agree(
      'swiglu',
      (b) => {
        const n = 70000;
        const gate = put(b, 'f32', rand(n, 20, -12, 12));
        const up = put(b, 'f32', rand(n, 21, -3, 3));
        const out = b.alloc('f32', n);
        b.swiglu(gate, up, out, n);
        const [gGate, gUp] = [b.alloc('f32', n), b.alloc('f32', n)];
        b.swigluGrad(gate, up, put(b, 'f32', rand(n, 22)), gGate, gUp, n);
        return [get(b, out, n), get(b, gGate, n), get(b, gUp, n)];
      },
      1e-5,
      1e-6,
    );
  });

  test('affine', () => {
    agree(
      'affine',
      (b) => {
        const x = put(b, 'f32', rand(50000, 19));
        const out = b.alloc('f32', 50000);
        b.affine(x, out, 50000, -1.5, 0.25);
        return [get(b, out, 50000)];
      },
      1e-6,
    );
  });
});

describe('cpu reductions', opts, () => {
  for (const [outer, mid, inner] of [
    [3, 5, 1],
    [1, 20000, 1],
    [4, 300, 70],
    [1, 7, 100000],
    [2, 1, 3],
  ]) {
    test(`reduce sum and max over (${outer}, ${mid}, ${inner})`, () => {
      agree(
        'reduce',
        (b) => {
          const x = put(b, 'f32', rand(outer * mid * inner, outer + mid + inner));
          const s = b.alloc('f32', outer * inner);
          const m = b.alloc('f32', outer * inner);
          b.reduce('sum', x, s, outer, mid, inner);
          b.reduce('max', x, m, outer, mid, inner);
          return [get(b, s, outer * inner), get(b, m, outer * inner)];
        },
        1e-5,
        1e-5,
      );
    });
  }

  test('sumSquares', () => {
    agree('sumSquares', (b) => [[b.sumSquares(put(b, 'f32', rand(100001, 20)), 100001)]], 1e-6);
  });
});

describe('cpu matmul', opts, () => {
  const shapes = [
    { batch: 1, m: 5, n: 7, k: 3 },
    { batch: 3, m: 17, n: 9, k: 33 },
    { batch: 2, m: 130, n: 65, k: 70 }, // large enough to be split across threads by rows of C
    { batch: 1, m: 40, n: 300, k: 50 }, // ... and by columns
  ];
  for (const s of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        test(`matmul ${JSON.stringify(s)} transA=${transA} transB=${transB}, alpha and accumulate`, () => {
          agree(
            'matmul',
            (b) => {
              const a = put(b, 'f32', rand(s.batch * s.m * s.k, 21));
              const w = put(b, 'f32', rand(s.batch * s.k * s.n, 22));
              const out = put(b, 'f32', rand(s.batch * s.m * s.n, 23));
              const args = { ...s, transA, transB, aBatchStride: s.m * s.k, bBatchStride: s.k * s.n };
              b.matmul(a, w, out, { ...args, alpha: 0.5, accumulate: true });
              const fresh = b.alloc('f32', s.batch * s.m * s.n);
              b.matmul(a, w, fresh, { ...args, alpha: 1, accumulate: false });
              return [get(b, out, s.batch * s.m * s.n), get(b, fresh, s.batch * s.m * s.n)];
            },
            1e-4,
            1e-5,
          );
        });
      }
    }
  }

  test('matmul with batch stride 0 on either operand (shared weight, shared input)', () => {
    for (const transA of [false, true]) {
      agree(
        'batch stride 0',
        (b) => {
          const [batch, m, n, k] = [6, 8, 5, 4];
          const a = put(b, 'f32', rand(batch * m * k, 24));
          const w = put(b, 'f32', rand(k * n, 25));
          const o1 = b.alloc('f32', batch * m * n);
          b.matmul(a, w, o1, {
            batch,
            m,
            n,
            k,
            transA,
            transB: false,
            aBatchStride: m * k,
            bBatchStride: 0,
            alpha: 1,
            accumulate: false,
          });
          const wb = put(b, 'f32', rand(batch * k * n, 26));
          const o2 = b.alloc('f32', batch * m * n);
          b.matmul(a, wb, o2, {
            batch,
            m,
            n,
            k,
            transA,
            transB: true,
            aBatchStride: 0,
            bBatchStride: k * n,
            alpha: 2,
            accumulate: false,
          });
          return [get(b, o1, batch * m * n), get(b, o2, batch * m * n)];
        },
        1e-4,
        1e-5,
      );
    }
  });

  test('many small batched products run in parallel and match', () => {
    agree(
      'small batched',
      (b) => {
        const [batch, m, n, k] = [64, 16, 16, 16];
        const a = put(b, 'f32', rand(batch * m * k, 27));
        const w = put(b, 'f32', rand(batch * k * n, 28));
        const out = b.alloc('f32', batch * m * n);
        b.matmul(a, w, out, {
          batch,
          m,
          n,
          k,
          transA: false,
          transB: true,
          aBatchStride: m * k,
          bBatchStride: k * n,
          alpha: 1,
          accumulate: false,
        });
        return [get(b, out, batch * m * n)];
      },
      1e-4,
      1e-5,
    );
  });
});

describe('cpu indexing', opts, () => {
  test('gather and scatterAdd with repeated indices', () => {
    agree(
      'gather/scatter',
      (b) => {
        const rows = 50;
        const row = 130;
        const idxData = Array.from({ length: 400 }, (_, i) => (i * 7) % rows);
        const table = put(b, 'f32', rand(rows * row, 29));
        const idx = put(b, 'i32', idxData);
        const out = b.alloc('f32', idxData.length * row);
        b.gather(table, idx, out, idxData.length, row);
        const grad = put(b, 'f32', rand(rows * row, 30));
        b.scatterAdd(put(b, 'f32', rand(idxData.length * row, 31)), idx, grad, idxData.length, row);
        return [get(b, out, idxData.length * row), get(b, grad, rows * row)];
      },
      1e-5,
      1e-6,
    );
  });

  test('out-of-range indices throw, naming the kernel and the index', () => {
    const b = cpu as AnyBackend;
    const table = put(b, 'f32', rand(12, 1));
    const out = b.alloc('f32', 8);
    assert.throws(
      () => b.gather(table, put(b, 'i32', [0, 3]), out, 2, 4),
      /cpu kernel gather: idx\[1\] = 3 is outside table rows \[0, 3\)/,
    );
    assert.throws(
      () => b.scatterAdd(out, put(b, 'i32', [-1, 0]), table, 2, 4),
      /cpu kernel scatterAdd: idx\[0\] = -1/,
    );
  });
});

describe('cpu fused nn kernels', opts, () => {
  const rows = 70;
  const cols = 513;
  test('softmax, log-softmax and their gradients', () => {
    agree(
      'softmax',
      (b) => {
        const x = put(b, 'f32', rand(rows * cols, 32, -8, 8));
        const gy = put(b, 'f32', rand(rows * cols, 33));
        const y = b.alloc('f32', rows * cols);
        const ly = b.alloc('f32', rows * cols);
        const gx = b.alloc('f32', rows * cols);
        const lgx = b.alloc('f32', rows * cols);
        b.softmax(x, y, rows, cols);
        b.softmaxGrad(y, gy, gx, rows, cols);
        b.logSoftmax(x, ly, rows, cols);
        b.logSoftmaxGrad(ly, gy, lgx, rows, cols);
        return [y, gx, ly, lgx].map((s) => get(b, s, rows * cols));
      },
      1e-5,
      1e-6,
    );
  });

  test('cross-entropy and its gradient, with ignored targets', () => {
    const targets = Array.from({ length: rows }, (_, r) => (r % 9 === 0 ? -1 : (r * 37) % cols));
    agree(
      'crossEntropy',
      (b) => {
        const logits = put(b, 'f32', rand(rows * cols, 34, -10, 10));
        const t = put(b, 'i32', targets);
        const loss = b.alloc('f32', rows);
        const lse = b.alloc('f32', rows);
        b.crossEntropy(logits, t, loss, lse, rows, cols);
        const g = b.alloc('f32', rows * cols);
        b.crossEntropyGrad(logits, t, lse, put(b, 'f32', rand(rows, 35, 0.5, 1.5)), g, rows, cols);
        return [get(b, loss, rows), get(b, lse, rows), get(b, g, rows * cols)];
      },
      1e-5,
      1e-6,
    );
    const b = cpu as AnyBackend;
    assert.throws(
      () =>
        b.crossEntropy(put(b, 'f32', [1, 2]), put(b, 'i32', [2]), b.alloc('f32', 1), b.alloc('f32', 1), 1, 2),
      /cpu kernel crossEntropy: targets\[0\] = 2 is not a class in \[0, 2\)/,
    );
  });

  test('rmsNorm and its gradient (gw accumulates; gx overwritten or accumulated into)', () => {
    for (const accumulate of [false, true])
      agree(
        `rmsNorm${accumulate ? ' accumulate' : ''}`,
        (b) => {
          const x = put(b, 'f32', rand(rows * cols, 36, -3, 3));
          const w = put(b, 'f32', rand(cols, 37, 0.5, 1.5));
          const out = b.alloc('f32', rows * cols);
          const rstd = b.alloc('f32', rows);
          b.rmsNorm(x, w, out, rstd, rows, cols, 1e-5);
          const gx = accumulate ? put(b, 'f32', rand(rows * cols, 40)) : b.alloc('f32', rows * cols);
          const gw = put(b, 'f32', rand(cols, 38));
          b.rmsNormGrad(x, w, rstd, put(b, 'f32', rand(rows * cols, 39)), gx, gw, rows, cols, accumulate);
          return [get(b, out, rows * cols), get(b, rstd, rows), get(b, gx, rows * cols), get(b, gw, cols)];
        },
        1e-4,
        1e-5,
      );
  });

  test('addRmsNorm: the sum and its RMSNorm', () => {
    agree(
      'addRmsNorm',
      (b) => {
        const x = put(b, 'f32', rand(rows * cols, 40, -3, 3));
        const r = put(b, 'f32', rand(rows * cols, 41, -1, 1));
        const w = put(b, 'f32', rand(cols, 42, 0.5, 1.5));
        const [sum, out, rstd] = [
          b.alloc('f32', rows * cols),
          b.alloc('f32', rows * cols),
          b.alloc('f32', rows),
        ];
        b.addRmsNorm(x, r, w, sum, out, rstd, rows, cols, 1e-5);
        return [get(b, sum, rows * cols), get(b, out, rows * cols), get(b, rstd, rows)];
      },
      1e-5,
      1e-6,
    );
  });

  test('layerNorm with and without affine, and its gradient', () => {
    for (const affine of [true, false]) {
      agree(
        `layerNorm affine=${affine}`,
        (b) => {
          const x = put(b, 'f32', rand(rows * cols, 40, -3, 3));
          const w = affine ? put(b, 'f32', rand(cols, 41, 0.5, 1.5)) : null;
          const bias = affine ? put(b, 'f32', rand(cols, 42)) : null;
          const out = b.alloc('f32', rows * cols);
          const mean = b.alloc('f32', rows);
          const rstd = b.alloc('f32', rows);
          b.layerNorm(x, w, bias, out, mean, rstd, rows, cols, 1e-5);
          const gx = b.alloc('f32', rows * cols);
          const gw = affine ? put(b, 'f32', rand(cols, 43)) : null;
          const gb = affine ? put(b, 'f32', rand(cols, 44)) : null;
          b.layerNormGrad(x, w, mean, rstd, put(b, 'f32', rand(rows * cols, 45)), gx, gw, gb, rows, cols);
          const outs = [
            get(b, out, rows * cols),
            get(b, mean, rows),
            get(b, rstd, rows),
            get(b, gx, rows * cols),
          ];
          if (gw && gb) outs.push(get(b, gw, cols), get(b, gb, cols));
          return outs;
        },
        1e-4,
        1e-5,
      );
    }
  });

  test('rope forwards, backwards (inverse) and with a position offset', () => {
    const [B, T, nh, hs] = [2, 33, 3, 16];
    const n = B * T * nh * hs;
    agree(
      'rope',
      (b) => {
        const x = put(b, 'f32', rand(n, 46));
        const y = b.alloc('f32', n);
        b.rope(x, y, B, T, nh, hs, 10000, 5, 1);
        const back = b.alloc('f32', n);
        b.rope(y, back, B, T, nh, hs, 10000, 5, -1);
        b.rope(x, x, B, T, nh, hs, 500, 0, 1); // in place
        return [get(b, y, n), get(b, back, n), get(b, x, n)];
      },
      1e-5,
      1e-6,
    );
  });

  for (const causal of [true, false]) {
    for (const [B, T, nh, hs] of [
      [2, 100, 3, 16],
      [1, 9, 1, 4],
    ]) {
      test(`attention forward and backward (causal=${causal}, B=${B} T=${T} nh=${nh} hs=${hs})`, () => {
        const n = B * T * nh * hs;
        const scale = 1 / Math.sqrt(hs);
        agree(
          'attention',
          (b) => {
            const q = put(b, 'f32', rand(n, 47, -2, 2));
            const k = put(b, 'f32', rand(n, 48, -2, 2));
            const v = put(b, 'f32', rand(n, 49));
            const out = b.alloc('f32', n);
            const lse = b.alloc('f32', B * nh * T);
            b.attention(q, k, v, out, lse, B, T, nh, hs, scale, causal);
            const [gq, gk, gv] = [b.alloc('f32', n), b.alloc('f32', n), b.alloc('f32', n)];
            b.attentionGrad(
              q,
              k,
              v,
              out,
              lse,
              put(b, 'f32', rand(n, 50)),
              gq,
              gk,
              gv,
              B,
              T,
              nh,
              hs,
              scale,
              causal,
            );
            return [get(b, out, n), get(b, lse, B * nh * T), ...[gq, gk, gv].map((s) => get(b, s, n))];
          },
          1e-4,
          1e-5,
        );
      });
    }
  }
});

describe('cpu randomness and optimizer', opts, () => {
  test('Philox uniform stream is bit-identical to js (odd offsets, 64-bit seeds and counters)', () => {
    for (const [seed, offset, n] of [
      [0, 0, 10],
      [42, 3, 70001],
      [2 ** 40 + 7, 2 ** 35 + 1, 1001],
    ]) {
      agree(
        `uniform ${seed} ${offset}`,
        (b) => {
          const out = b.alloc('f32', n);
          b.random(out, n, 'uniform', seed, offset);
          return [get(b, out, n)];
        },
        0,
        0,
      );
    }
  });

  test('Philox normal stream matches js (double Box-Muller, rounded to f32)', () => {
    agree(
      'normal',
      (b) => {
        const out = b.alloc('f32', 50001);
        b.random(out, 50001, 'normal', 7, 2);
        return [get(b, out, 50001)];
      },
      1e-6,
      1e-7,
    );
  });

  test('dropout', () => {
    agree(
      'dropout',
      (b) => {
        const x = put(b, 'f32', rand(40000, 51));
        const out = b.alloc('f32', 40000);
        b.dropout(x, out, 40000, 0.3, 9, 17);
        return [get(b, out, 40000)];
      },
      1e-6,
      0,
    );
  });

  test('adamw over several steps', () => {
    agree(
      'adamw',
      (b) => {
        const n = 50000;
        const p = put(b, 'f32', rand(n, 52));
        const m = b.alloc('f32', n);
        const v = b.alloc('f32', n);
        for (let step = 1; step <= 3; step++) {
          const g = put(b, 'f32', rand(n, 52 + step));
          b.adamw(p, g, m, v, n, {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weightDecay: 0.1,
            step,
            gradScale: 0.5,
          });
        }
        return [get(b, p, n), get(b, m, n), get(b, v, n)];
      },
      1e-5,
      1e-6,
    );
  });
});
