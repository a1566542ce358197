// Bad input is refused with an error naming the row, column, token or option.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeJsonAtomic } from '../../src/base/atomic-write.ts';
import { runFit } from '../../src/cli/commands/fit.ts';
import { zipPoints } from '../../src/cli/commands/predict.ts';
import { datasetFromRows } from '../../src/laws/dataset.ts';
import { LawsInputError, LawsOptionError } from '../../src/laws/errors.ts';
import { fitLaw } from '../../src/laws/fit.ts';
import { chinchillaForm } from '../../src/laws/forms/chinchilla.ts';
import { formByName } from '../../src/laws/forms/registry.ts';
import { readFitFile } from '../../src/laws/io-node.ts';
import { predictLoss } from '../../src/laws/predict.ts';
import { parseCsv, parseJsonl } from '../../src/laws/table.ts';

const rows = [
  { params: '1e8', tokens: '2e9', val_loss: '3.1' },
  { params: '3e8', tokens: '6e9', val_loss: '2.8' },
];

test('missing columns, non-positive and non-finite values name row and column', () => {
  assert.throws(
    () => datasetFromRows(rows, ['N', 'D'], { columns: { N: 'params', D: 'tokens' } }),
    (e: unknown) =>
      e instanceof LawsInputError && e.column === 'loss' && /column 'loss' is missing/.test(e.message),
  );
  const bad = [...rows, { params: '-5', tokens: '1e9', val_loss: '3' }];
  assert.throws(
    () =>
      datasetFromRows(bad, ['N', 'D'], {
        columns: { N: 'params', D: 'tokens', loss: 'val_loss' },
        rowNumbers: [2, 3, 4],
      }),
    (e: unknown) =>
      e instanceof LawsInputError && e.row === 4 && e.column === 'params' && /"-5"/.test(e.message),
  );
  const nan = [{ N: 1e8, D: Number.NaN, loss: 3 }];
  assert.throws(
    () => datasetFromRows(nan, ['N', 'D']),
    /row 1, column 'D': null is not a finite positive number/,
  );
  const inf = [{ N: 1e8, Pw: 'inf', loss: 'Infinity' }];
  assert.throws(() => datasetFromRows(inf, ['N', 'Pw']), /column 'loss'/, 'only precisions may be infinite');
});

test('fewer points than free parameters', () => {
  const data = datasetFromRows(rows, ['N', 'D'], { columns: { N: 'params', D: 'tokens', loss: 'val_loss' } });
  assert.throws(() => fitLaw(chinchillaForm(), data), /2 points to fit 5 free parameters/);
  assert.throws(
    () => fitLaw(chinchillaForm(), data, { delta: -1 }),
    (e: unknown) => e instanceof LawsOptionError && /delta = -1/.test(e.message),
  );
});

test('CSV and JSONL tables', () => {
  const t = parseCsv('a,"b,c"\n1,"x ""q"""\n\n2,3\n');
  assert.deepEqual(t.records, [
    { a: '1', 'b,c': 'x "q"' },
    { a: '2', 'b,c': '3' },
  ]);
  assert.deepEqual(t.lines, [2, 4]);
  assert.throws(() => parseCsv('a,b\n1\n'), /line 2: 1 fields, but the header has 2/);
  const j = parseJsonl('{"N": 1e8, "metrics": {"loss": 3}}\n\n{"N": 2e8, "metrics": {"loss": 2.9}}\n');
  assert.deepEqual(j.records[1], { N: 2e8, 'metrics.loss': 2.9 });
  assert.throws(() => parseJsonl('{"N": 1}\n[1]\n'), /line 2: expected a JSON object/);
});

test('fit command end to end: column mapping, JSON out, predict with interval', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-laws-'));
  const csv = join(dir, 'runs.csv');
  const lines = ['params,tokens,val_loss'];
  for (const N of [5e7, 1e8, 2e8, 4e8, 8e8]) {
    for (const D of [1e9, 3e9, 1e10, 3e10])
      lines.push(`${N},${D},${1.69 + 406.4 / N ** 0.34 + 410.7 / D ** 0.28}`);
  }
  writeFileSync(csv, `${lines.join('\n')}\n`);
  const flags = {
    form: 'E + A/N^alpha + B/D^beta',
    col: ['N=params', 'D=tokens', 'loss=val_loss'],
    bootstrap: '20',
    seed: '1',
    delta: '1e-3',
    tie: [],
    fix: [],
    linear: [],
    start: ['A=400', 'B=400', 'E=1.7', 'alpha=0.3', 'beta=0.3'],
  };
  const fit = runFit(csv, flags);
  assert.ok(
    Math.abs(fit.params.alpha - 0.34) < 1e-3 && Math.abs(fit.params.E - 1.69) < 1e-3,
    JSON.stringify(fit.params),
  );
  const out = join(dir, 'fit.json');
  writeJsonAtomic(out, fit);
  const [p] = predictLoss(readFitFile(out), zipPoints({ N: '1e9', D: '2e10' }));
  const truth = 1.69 + 406.4 / 1e9 ** 0.34 + 410.7 / 2e10 ** 0.28;
  assert.ok(Math.abs(p.loss / truth - 1) < 1e-3);
  assert.ok(p.lower !== undefined && p.upper !== undefined && p.lower <= p.loss && p.loss <= p.upper);
  assert.ok(readFileSync(out, 'utf8').includes('"samples"'));
  assert.throws(
    () => runFit(csv, { ...flags, form: 'E + A/N^' }),
    /expected a number, a name or '\(' but found end of input at position 8/,
  );
  assert.throws(() => runFit(csv, { ...flags, col: ['N=params'] }), /column 'D' is missing/);
  assert.throws(
    () => zipPoints({ N: '1,2', D: '1,2,3' }),
    /--N = "1,2" is not allowed: one value or 3 values/,
  );
});

test('a precision column may name formats; an unknown format name is an error naming row and column', () => {
  const ok = datasetFromRows(
    [
      { N: 1, D: 2, Pw: 'int4', loss: 3 },
      { N: 1, D: 2, Pw: 'bf16', loss: 3 },
      { N: 1, D: 2, Pw: 'fp8', loss: 3 },
      { N: 1, D: 2, Pw: 'inf', loss: 3 },
    ],
    ['N', 'D', 'Pw'],
  );
  assert.deepEqual(Array.from(ok.columns.Pw), [4, 16, 8, Number.POSITIVE_INFINITY]);
  assert.throws(
    () =>
      datasetFromRows(
        [
          { N: 1, D: 2, Pw: 'int4', loss: 3 },
          { N: 1, D: 2, Pw: 'fp5x', loss: 3 },
        ],
        ['N', 'D', 'Pw'],
        { rowNumbers: [2, 3] },
      ),
    (e: unknown) =>
      e instanceof LawsInputError &&
      e.row === 3 &&
      e.column === 'Pw' &&
      /row 3, column 'Pw': "fp5x" is not a known number format/.test(e.message),
  );
});

test('a form referencing a missing column names the column', () => {
  const records = [{ N: 1, D: 2, loss: 3 }];
  assert.throws(
    () => datasetFromRows(records, formByName('E + A/N^alpha + B/Pkv^beta').variables),
    (e: unknown) =>
      e instanceof LawsInputError && e.column === 'Pkv' && /column 'Pkv' is missing/.test(e.message),
  );
});
