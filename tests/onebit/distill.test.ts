import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distillLoss, onebitDistillDefaults } from '../../src/onebit/distill.ts';
import * as T from '../../src/tensor/index.ts';

const js64 = T.getBackend('js64');

function rand(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 1073741824 - 1) * 2;
  });
}
const t = (data: number[], shape: number[]) => T.tensor(data, shape, { backend: js64 });

// (batch 2, tokens 3, vocab 5), two layers of width 4.
const [B, S, V, D] = [2, 3, 5, 4];

/** The objective written out with loops, independently of the engine. */
function reference(
  sl: number[],
  tl: number[],
  sh: number[][],
  th: number[][],
): { kl: number; hidden: number } {
  let kl = 0;
  for (let r = 0; r < B * S; r++) {
    const lse = (x: number[]) => Math.log(x.reduce((a, v) => a + Math.exp(v), 0));
    const s = sl.slice(r * V, (r + 1) * V);
    const q = tl.slice(r * V, (r + 1) * V);
    const [ls, lt] = [lse(s), lse(q)];
    for (let v = 0; v < V; v++) kl += Math.exp(q[v] - lt) * (q[v] - lt - (s[v] - ls));
  }
  let hidden = 0;
  sh.forEach((h, layer) => {
    for (let r = 0; r < B * S; r++) {
      const a = h.slice(r * D, (r + 1) * D);
      const b = th[layer].slice(r * D, (r + 1) * D);
      const [na, nb] = [Math.hypot(...a), Math.hypot(...b)];
      hidden += a.reduce((acc, x, i) => acc + (x / na - b[i] / nb) ** 2, 0) / (B * S);
    }
  });
  return { kl: kl / B, hidden };
}

test('distillation loss: KL (batchmean) and normalized hidden MSE match a loop reference, with the paper defaults', () => {
  assert.deepEqual(onebitDistillDefaults, { alpha: 1, logitScale: 0.01, beta: 1 });
  const [sl, tl] = [rand(B * S * V, 1), rand(B * S * V, 2)];
  const sh = [rand(B * S * D, 3), rand(B * S * D, 4)];
  const th = [rand(B * S * D, 5), rand(B * S * D, 6)];
  T.tidy(() => {
    const student = { logits: t(sl, [B, S, V]), hidden: sh.map((h) => t(h, [B, S, D])) };
    const teacher = { logits: t(tl, [B, S, V]), hidden: th.map((h) => t(h, [B, S, D])) };
    const out = distillLoss(student, teacher);
    const want = reference(sl, tl, sh, th);
    assert.ok(Math.abs(out.kl.item() - want.kl) < 1e-9, `kl ${out.kl.item()} vs ${want.kl}`);
    assert.ok(
      Math.abs(out.hidden.item() - want.hidden) < 1e-9,
      `hidden ${out.hidden.item()} vs ${want.hidden}`,
    );
    assert.ok(Math.abs(out.loss.item() - (0.01 * want.kl + want.hidden)) < 1e-9);
    assert.equal(out.crossEntropy, null);
    // The same outputs as teacher: nothing to distill. A scaled hidden state is the same direction.
    const self = distillLoss(teacher, {
      logits: teacher.logits,
      hidden: th.map((h) =>
        t(
          h.map((x) => 3 * x),
          [B, S, D],
        ),
      ),
    });
    assert.ok(Math.abs(self.loss.item()) < 1e-12, `self loss ${self.loss.item()}`);
    // alpha < 1 mixes in cross-entropy with the data, and needs targets.
    const targets = T.tensor([0, 1, 2, 3, 4, 0], [B, S], { backend: js64, dtype: 'i32' });
    const mixed = distillLoss(student, teacher, targets, { alpha: 0.5 });
    const ce = T.crossEntropy(student.logits, targets).item();
    assert.ok(Math.abs(mixed.loss.item() - (0.5 * 0.01 * want.kl + 0.5 * ce + want.hidden)) < 1e-9);
    assert.throws(() => distillLoss(student, teacher, null, { alpha: 0.5 }), /targets/);
    assert.throws(
      () => distillLoss(student, { logits: teacher.logits, hidden: [] }),
      /hidden: 2 student layers vs 0/,
    );
  });
});

test('distillation loss: student gradients match finite differences', () => {
  T.tidy(() => {
    const logits = T.requireGrad(t(rand(B * S * V, 7), [B, S, V]));
    const hidden = T.requireGrad(t(rand(B * S * D, 8), [B, S, D]));
    const teacher = { logits: t(rand(B * S * V, 9), [B, S, V]), hidden: [t(rand(B * S * D, 10), [B, S, D])] };
    const f = () => distillLoss({ logits, hidden: [hidden] }, teacher, null, { logitScale: 0.3 }).loss;
    T.backward(f());
    for (const x of [logits, hidden]) {
      const analytic = Array.from(x.grad!.toArray());
      const values = Array.from(x.toArray());
      values.forEach((v, j) => {
        const at = (u: number) => {
          values[j] = u;
          js64.write(x.handle, 'f32', values);
          return T.noGrad(() => f().item());
        };
        const numeric = (at(v + 1e-6) - at(v - 1e-6)) / 2e-6;
        values[j] = v;
        js64.write(x.handle, 'f32', values);
        assert.ok(
          Math.abs(analytic[j] - numeric) < 1e-6 + 1e-5 * Math.abs(numeric),
          `${j}: ${analytic[j]} vs ${numeric}`,
        );
      });
    }
  });
});
