// Every study preset shipped in experiments/ parses and passes the trainer's own checks.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { studyValidator } from '../../src/study/validator.ts';
import { expandSweep } from '../../src/sweep/expand.ts';
import { loadSweepSpec, parseSweepSpec } from '../../src/sweep/spec.ts';

for (const file of readdirSync('experiments').filter((f) => f.endsWith('.yaml'))) {
  if (file === 'tinystories-1m.yaml') continue; // a single training run, not a study
  test(`preset ${file} is a valid study`, () => {
    const spec = loadSweepSpec(`experiments/${file}`, studyValidator);
    const jobs = expandSweep(spec);
    assert.ok(jobs.some((j) => j.kind === 'train'));
  });
}

test('a bad model in a study names the field before any run', () => {
  const text = `name: bad\ngrid:\n  model: [{ d_model: 64, n_layers: 2, n_heads: 4, context: 32, colour: 1 }]\n  tokens: [1000]\n`;
  assert.throws(
    () => parseSweepSpec(text, { validator: studyValidator }),
    /sweep\.grid\.model\[0\]\.colour: unknown key/,
  );
});
