import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExpressionError } from '../../src/laws/errors.ts';
import { parseExpression } from '../../src/laws/expr/parse.ts';
import { Tape } from '../../src/laws/expr/tape.ts';
import { expressionForm } from '../../src/laws/forms/expression.ts';
import { formByName } from '../../src/laws/forms/registry.ts';

const value = (source: string, vars: Record<string, number> = {}) => {
  const names = Object.keys(vars);
  const tape = new Tape(parseExpression(source), names, [], source);
  return tape.evaluate(new Float64Array(0), Float64Array.from(names.map((n) => vars[n])));
};

test('precedence and associativity', () => {
  assert.equal(value('1 + 2 * 3'), 7);
  assert.equal(value('2 ^ 3 ^ 2'), 512);
  assert.equal(value('-2 ^ 2'), -4);
  assert.equal(value('2 ** 3'), 8);
  assert.equal(value('(1 + 2) * 3 - 4 / 2'), 7);
  assert.equal(value('8 / 4 / 2'), 1);
  assert.ok(Math.abs(value('exp(log(N)) + sqrt(16)', { N: 5 }) - 9) < 1e-12);
  assert.equal(value('1.5e3 + .5'), 1500.5);
});

test('errors point at the offending token', () => {
  const cases: [string, number, RegExp][] = [
    ['E + A/N^', 8, /expected a number/],
    ['E + A $ N', 6, /unexpected character '\$'/],
    ['(E + A', 6, /expected '\)'/],
    ['E + foo(N)', 4, /unknown function 'foo'/],
    ['E A', 2, /unexpected 'A'/],
  ];
  for (const [source, position, message] of cases) {
    assert.throws(
      () => parseExpression(source),
      (err: unknown) =>
        err instanceof ExpressionError && err.position === position && message.test(err.message),
      source,
    );
  }
});

test('reverse-mode gradients match central differences', () => {
  const source = 'E + A/N^alpha + B*exp(-D/tau) + sqrt(c*N) - log(k + D)';
  const form = expressionForm(source, { variables: ['N', 'D'], linear: ['E'] });
  const n = 4;
  const N = Float64Array.of(1e6, 3e7, 2e8, 5e9);
  const D = Float64Array.of(1, 2.5, 4, 9);
  const bound = form.bind([N, D], n);
  const p = form.params.length;
  const theta = Float64Array.from({ length: p }, (_, j) => 0.3 + 0.1 * j);
  const out = new Float64Array(n);
  const jac = new Float64Array(n * p);
  bound.logPredict(theta, out, jac);
  for (let j = 0; j < p; j++) {
    const h = 1e-6;
    const plus = new Float64Array(n);
    const minus = new Float64Array(n);
    theta[j] += h;
    bound.logPredict(theta, plus);
    theta[j] -= 2 * h;
    bound.logPredict(theta, minus);
    theta[j] += h;
    for (let i = 0; i < n; i++) {
      const fd = (plus[i] - minus[i]) / (2 * h);
      assert.ok(
        Math.abs(fd - jac[i * p + j]) < 1e-6 * (1 + Math.abs(fd)),
        `${form.params[j].name} at ${i}: ${fd} vs ${jac[i * p + j]}`,
      );
    }
  }
});

test('names that are columns are variables, the rest are parameters', () => {
  const form = formByName('E + A/N^alpha + B/D^beta');
  assert.deepEqual(form.variables, ['N', 'D']);
  assert.deepEqual(
    form.params.map((q) => q.name),
    ['E', 'A', 'alpha', 'B', 'beta'],
  );
  assert.throws(() => formByName('chinchila'), /one of chinchilla/);
  assert.throws(() => formByName('E + A'), /uses none of the data columns/);
});
