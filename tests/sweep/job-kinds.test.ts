import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { builtinJobKinds } from '../../src/jobs/builtin.ts';
import { RunStore } from '../../src/store/run-store.ts';
import { UnknownJobKindError } from '../../src/sweep/errors.ts';
import { checkJobKinds, loadJobKinds, runnerFor } from '../../src/sweep/job-kind.ts';

const cli = join(import.meta.dirname, '..', '..', 'bin', 'bitscale.mjs');
const synthetic = join(import.meta.dirname, 'fixtures', 'synthetic-kinds.ts');

test('the built-in kinds are one explicit map; an unknown kind is refused naming the known ones', () => {
  assert.deepEqual(Object.keys(builtinJobKinds).sort(), [
    'onebit-distill',
    'onebit-ntk',
    'ptq',
    'quanta-train',
    'train',
  ]);
  assert.throws(
    () =>
      checkJobKinds(
        [
          { id: 'a', kind: 'train' },
          { id: 'b', kind: 'distill' },
        ],
        builtinJobKinds,
      ),
    (e: Error) =>
      e instanceof UnknownJobKindError &&
      /"distill" has no implementation \(known kinds: train, ptq/.test(e.message),
  );
  assert.throws(() => runnerFor({}, 'toString'), UnknownJobKindError);
});

test('--kinds modules add kinds over the built-in ones; a module without a map is refused', async () => {
  const merged = await loadJobKinds([synthetic], { extra: async () => ({ metrics: {}, artifacts: {} }) });
  assert.deepEqual(Object.keys(merged).sort(), ['extra', 'ptq', 'train']);
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-kinds-'));
  const bad = join(dir, 'bad.mjs');
  writeFileSync(bad, 'export const jobKinds = { train: 42 };\n');
  await assert.rejects(loadJobKinds([bad]), /--kinds .*bad\.mjs: the module must export `jobKinds`/);
});

test('`bitscale sweep` runs training and PTQ jobs with the built-in kinds, no --kinds needed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitscale-cli-sweep-'));
  const spec = join(dir, 'one.yaml');
  writeFileSync(
    spec,
    `name: one
train: { corpus: tinystories, vocabSize: 512, batchSize: 8, lr: 0.005, warmupSteps: 2, evalTokens: 1024, checkpointEvery: 0 }
grid: { model: [{ d_model: 16, n_layers: 1, n_heads: 2, context: 32 }], tokens: [4096], precision: [fp32] }
ptq: { precisions: [int4], methods: [rtn], settings: { evalTokens: 1024 } }
`,
  );
  const env = { ...process.env, BITSCALE_THREADS: '1', BITSCALE_CACHE: join(dir, 'cache') };
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [cli, 'sweep', spec, '--dir', join(dir, 'sweep'), '--max-workers', '1'],
    { env },
  );
  assert.match(stdout, /sweep one: 2 done, 0 diverged, 0 failed/);
  const store = RunStore.open(join(dir, 'sweep', 'bitscale.db'));
  const runs = store.list();
  store.close();
  assert.deepEqual(runs.map((r) => r.kind).sort(), ['ptq', 'train']);
  assert.ok(runs.every((r) => r.status === 'done' && typeof r.metrics?.valLoss === 'number'));
});
