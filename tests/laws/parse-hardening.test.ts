// The parse entry points of runs tables and law expressions refuse what they cannot represent faithfully.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datasetFromRows } from '../../src/laws/dataset.ts';
import { ExpressionError, LawsInputError } from '../../src/laws/errors.ts';
import { MAX_DEPTH, parseExpression } from '../../src/laws/expr/parse.ts';
import { parseCsv, parseJsonl } from '../../src/laws/table.ts';

test('a column named __proto__ is an ordinary column, not a prototype', () => {
  const csv = parseCsv('__proto__,N,D,loss\n3,1e6,1e8,3.5\n');
  assert.equal(Object.getPrototypeOf(csv.records[0]), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(csv.records[0], '__proto__')?.value, '3');
  const data = datasetFromRows(csv.records, ['N', 'D'], { columns: { loss: '__proto__' } });
  assert.equal(data.loss[0], 3);
  const jsonl = parseJsonl('{"__proto__": [1, 2], "N": 1}\n');
  assert.deepEqual(Object.keys(jsonl.records[0]), ['__proto__', 'N']);
  assert.equal((jsonl.records[0] as { length?: number }).length, undefined);
});

test('a header naming a column twice is refused, naming the line and the column', () => {
  assert.throws(
    () => parseCsv('N,loss,N\n1,2,3\n'),
    (e: unknown) =>
      e instanceof LawsInputError && e.row === 1 && e.column === 'N' && /appears twice/.test(e.message),
  );
});

test('expressions: nesting is bounded, literals must be finite', () => {
  const nested = (n: number) => `${'('.repeat(n)}x${')'.repeat(n)}`;
  assert.deepEqual(parseExpression(nested(MAX_DEPTH - 1)), { kind: 'name', name: 'x', pos: MAX_DEPTH - 1 });
  assert.throws(
    () => parseExpression(nested(MAX_DEPTH + 1)),
    (e: unknown) => e instanceof ExpressionError && /nests deeper than 200/.test(e.message),
  );
  assert.throws(() => parseExpression(`${'-'.repeat(10_000)}x`), ExpressionError);
  assert.throws(
    () => parseExpression('A * 1e999'),
    (e: unknown) =>
      e instanceof ExpressionError && e.position === 4 && /1e999 is out of range/.test(e.message),
  );
});
