import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { canonicalJson, contentId } from '../../src/sweep/canonical.ts';
import { JobFileError } from '../../src/sweep/errors.ts';
import { expandSweep } from '../../src/sweep/expand.ts';
import { readJobFile, writeJobFile } from '../../src/sweep/job.ts';
import { parseSweepSpec } from '../../src/sweep/spec.ts';

const spec = parseSweepSpec(`
name: s
seeds: [0, 1]
grid:
  model: [{ d_model: 64, n_layers: 2, n_heads: 4 }, { d_model: 32, n_layers: 2, n_heads: 2 }]
  tokens: [1000, 2000, 4000]
  precision: [fp32, int4]
ptq: { precisions: [int8, int4, int3], methods: [rtn, gptq] }
`);

test('canonical JSON sorts keys at every depth, so key order does not change the id', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } }),
    '{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}',
  );
  assert.equal(contentId({ x: 1, y: [1, 2] }), contentId({ y: [1, 2], x: 1 }));
  assert.notEqual(contentId({ x: 1 }), contentId({ x: 2 }));
  assert.match(contentId({}), /^[0-9a-f]{16}$/);
  assert.throws(() => canonicalJson({ lr: Number.NaN }), /config\.lr: NaN is not a finite number/);
});

test('expansion: one training job per grid point and seed, one PTQ job per (P_post, method) on each', () => {
  const jobs = expandSweep(spec);
  const train = jobs.filter((j) => j.kind === 'train');
  const ptq = jobs.filter((j) => j.kind === 'ptq');
  assert.equal(train.length, 2 * 3 * 2 * 2);
  assert.equal(ptq.length, train.length * 3 * 2);
  assert.equal(new Set(jobs.map((j) => j.id)).size, jobs.length, 'ids are unique');
  const trainIds = new Set(train.map((j) => j.id));
  for (const p of ptq) {
    assert.equal(p.deps.length, 1);
    assert.ok(trainIds.has(p.deps[0]));
    assert.equal(p.config.source, p.deps[0]);
  }
  // Every job comes after the jobs it depends on.
  const seen = new Set<string>();
  for (const j of jobs) {
    assert.ok(j.deps.every((d) => seen.has(d)));
    seen.add(j.id);
  }
  assert.deepEqual(expandSweep(spec), jobs, 'expansion is deterministic');
});

test('job files round-trip, are rewritten only when changed, and tampering is detected', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-jobs-'));
  const job = expandSweep(spec)[1];
  const path = writeJobFile(dir, job);
  assert.equal(path, join(dir, `${job.id}.json`));
  assert.deepEqual(readJobFile(path), job);
  const text = readFileSync(path, 'utf8');
  writeFileSync(path, text.replace('"int8"', '"int2"'));
  assert.throws(
    () => readJobFile(path),
    (e: unknown) => e instanceof JobFileError && /does not match its content/.test(e.message),
  );
  writeFileSync(path, '{"version":1,');
  assert.throws(() => readJobFile(path), JobFileError);
});
