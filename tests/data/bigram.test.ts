import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bigramCrossEntropy, fitBigram } from '../../src/data/bigram.ts';

/** A seeded uniform in [0, 1) (LCG; enough for a test's synthetic data). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A random V x V transition matrix with uneven rows (some transitions rare, some impossible). */
function randomChain(V: number, rand: () => number): number[][] {
  return Array.from({ length: V }, () => {
    const row = Array.from({ length: V }, () => (rand() < 0.3 ? 0 : rand() ** 3));
    const sum = row.reduce((a, b) => a + b, 0);
    return row.map((p) => p / sum);
  });
}

function sample(P: number[][], n: number, rand: () => number): Uint16Array {
  const out = new Uint16Array(n);
  let state = 0;
  for (let i = 0; i < n; i++) {
    const u = rand();
    let acc = 0;
    let next = P.length - 1;
    for (let j = 0; j < P.length; j++) {
      acc += P[state][j];
      if (u < acc) {
        next = j;
        break;
      }
    }
    out[i] = state = next;
  }
  return out;
}

/** Entropy rate sum_i pi_i H(P_i), with pi the stationary distribution (power iteration). */
function entropyRate(P: number[][]): number {
  const V = P.length;
  let pi = new Array(V).fill(1 / V);
  for (let it = 0; it < 2000; it++) {
    const next = new Array(V).fill(0);
    for (let i = 0; i < V; i++) for (let j = 0; j < V; j++) next[j] += pi[i] * P[i][j];
    pi = next;
  }
  let h = 0;
  for (let i = 0; i < V; i++) for (const p of P[i]) if (p > 0) h -= pi[i] * p * Math.log(p);
  return h;
}

test('on a Markov chain the bigram cross-entropy is close to the true entropy rate', () => {
  const rand = lcg(12345);
  const V = 16;
  const P = randomChain(V, rand);
  const train = sample(P, 200_000, rand);
  const heldOut = sample(P, 100_000, rand);
  const model = fitBigram(train, V);
  const ce = bigramCrossEntropy(model, heldOut);
  let trueCe = 0;
  for (let i = 0; i + 1 < heldOut.length; i++) trueCe -= Math.log(P[heldOut[i]][heldOut[i + 1]]);
  trueCe /= heldOut.length - 1;
  const h = entropyRate(P);
  assert.ok(Math.abs(trueCe - h) < 0.02, `sample noise: true model ${trueCe} vs rate ${h}`);
  assert.ok(ce - trueCe > -0.002 && ce - trueCe < 0.01, `bigram ${ce} vs true model ${trueCe} (rate ${h})`);
  // And far better than ignoring the previous token (the unigram entropy).
  const freq = new Array(V).fill(0);
  for (const t of train) freq[t]++;
  const unigram = -freq.reduce(
    (s, c) => (c > 0 ? s + (c / train.length) * Math.log(c / train.length) : s),
    0,
  );
  assert.ok(ce < unigram - 0.3, `bigram ${ce} vs unigram ${unigram}`);
});

test('smoothing: every next token has probability, and each context sums to one', () => {
  const V = 50;
  const tokens = Uint16Array.from({ length: 5000 }, (_, i) => (i * 7) % 30); // tokens 30..49 never seen
  const model = fitBigram(tokens, V);
  for (const prev of [0, 7, 45]) {
    let total = 0;
    for (let next = 0; next < V; next++) {
      const lp = model.logProb(prev, next);
      assert.ok(Number.isFinite(lp), `log P(${next} | ${prev}) = ${lp}`);
      total += Math.exp(lp);
    }
    assert.ok(Math.abs(total - 1) < 1e-9, `context ${prev} sums to ${total}`);
  }
  assert.ok(Number.isFinite(bigramCrossEntropy(model, [45, 46, 0, 49])));
});

test('bad tokens are named by index', () => {
  assert.throws(
    () =>
      fitBigram(
        Uint16Array.from({ length: 30 }, (_, i) => (i === 17 ? 9 : 1)),
        5,
      ),
    /tokens\[17\] = 9/,
  );
  assert.throws(() => fitBigram([1, 2], 5), /tokens.length = 2/);
});
