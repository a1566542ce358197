// bench/largest-model.ts without a GPU: the search (prediction from two probes, verification of L_max and
// L_max + 1, steps down and up when the fit is off, a cap too small for one layer) on fake trials whose memory
// is known, the settings it reads, and the whole bench on the cpu backend with a tiny model.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSettings } from '../../bench/largest-model.ts';
import {
  findLargestModel,
  fitPeak,
  predictLayers,
  type Trial,
  type TrialResult,
} from '../../bench/largest-model-search.ts';
import { CappedOutOfMemory, cappedBackend } from '../../bench/largest-model-trial.ts';
import '../../src/backends/index.ts';
import * as T from '../../src/tensor/index.ts';

/** A trial whose true peak is peak(L), reported as `reported(L)`, failing past the cap; records what it ran. */
function fakeTrial(
  cap: number,
  peak: (layers: number) => number,
  reported: (layers: number) => number = peak,
): Trial & { ran: number[] } {
  const ran: number[] = [];
  const trial = async (layers: number): Promise<TrialResult> => {
    ran.push(layers);
    if (peak(layers) > cap) return { ok: false, layers, oom: true, message: 'out of memory' };
    return { ok: true, layers, peakBytes: reported(layers), tokensPerSecond: 1000 / layers };
  };
  return Object.assign(trial, { ran });
}

const line = (a: number, b: number) => (layers: number) => a + b * layers;

test('a line through the probes: the fit, the prediction', () => {
  const fit = fitPeak([
    { layers: 1, peakBytes: 3e9 },
    { layers: 4, peakBytes: 6e9 },
  ]);
  assert.deepEqual(fit, { a: 2e9, b: 1e9 });
  assert.equal(predictLayers(fit!, 80e9), 78);
  assert.equal(predictLayers(fit!, 80.99e9), 78);
  assert.equal(predictLayers({ a: 1, b: 0 }, 10), Number.POSITIVE_INFINITY);
  assert.equal(fitPeak([{ layers: 2, peakBytes: 1 }]), null);
  // heldBytes, where given, is what the cap limits: the fit follows it.
  assert.deepEqual(
    fitPeak([
      { layers: 1, peakBytes: 1, heldBytes: 3e9 },
      { layers: 4, peakBytes: 2, heldBytes: 6e9 },
    ]),
    { a: 2e9, b: 1e9 },
  );
});

test('an exact linear peak: probes, the prediction passes, one more layer fails (4 trials)', async () => {
  const trial = fakeTrial(80e9, line(2e9, 1e9));
  const notes: string[] = [];
  const r = await findLargestModel(trial, { capBytes: 80e9, onTrial: (_, note) => notes.push(note) });
  assert.deepEqual(trial.ran, [1, 4, 78, 79]);
  assert.deepEqual(notes, ['probe', 'probe', 'predicted', 'one above a pass']);
  assert.equal(r.layers, 78);
  assert.equal(r.failedAt, 79);
  assert.equal(r.exact, true);
  assert.equal(r.problem, null);
  assert.equal(r.fit?.predicted, 78);
  assert.equal(r.best?.peakBytes, 80e9);
});

test('an optimistic fit (memory the probes cannot see grows later): steps down by 1, 2, 4 layers, then the refit closes in', async () => {
  // The peak bends upwards past 20 layers: the true L_max is 71, the probes predict 78.
  const peak = (L: number) => 2e9 + 1e9 * L + (L > 20 ? 0.12e9 * (L - 20) : 0);
  const truth = Math.max(...Array.from({ length: 100 }, (_, L) => L).filter((L) => peak(L) <= 80e9));
  const trial = fakeTrial(80e9, peak);
  const r = await findLargestModel(trial, { capBytes: 80e9 });
  assert.equal(truth, 71); // 2 + 71 + 0.12 * 51 = 79.12 GB; 72 layers: 80.24 GB
  assert.equal(r.layers, truth);
  assert.equal(r.exact, true);
  assert.deepEqual(trial.ran, [1, 4, 78, 77, 75, 71, 72]);
});

test('a pessimistic fit (the probes overstate the slope): the refit climbs to the true L_max', async () => {
  // The probes see 1.5 GB a layer, the large trials 1 GB: L_max is 78, the first prediction ~52.
  const peak = line(2e9, 1e9);
  const reported = (L: number) => (L <= 4 ? 2e9 + 1.5e9 * L - 0.5e9 : peak(L));
  const trial = fakeTrial(80e9, peak, reported);
  const r = await findLargestModel(trial, { capBytes: 80e9 });
  assert.equal(r.layers, 78);
  assert.equal(r.exact, true);
  assert.deepEqual(trial.ran, [1, 4, 52, 78, 79]); // 52 passes at 54 GB: the line through 4 and 52 finds 78
});

test('a fit off by one either way costs one trial', async () => {
  // Reported peaks a little high: the prediction is one short, then L_max + 1 passes and L_max + 2 fails.
  const high = fakeTrial(80e9, line(2e9, 1e9), (L) => 2.9e9 + 1e9 * L);
  assert.equal((await findLargestModel(high, { capBytes: 80e9 })).layers, 78);
  assert.deepEqual(high.ran, [1, 4, 77, 78, 79]);
  // A little low: the prediction is one too many, then it steps down.
  const low = fakeTrial(80e9, line(2e9, 1e9), (L) => 0.9e9 + 1e9 * L);
  assert.equal((await findLargestModel(low, { capBytes: 80e9 })).layers, 78);
  assert.deepEqual(low.ran, [1, 4, 79, 78]);
});

test('a cap too small for one layer says so and reports no model', async () => {
  const trial = fakeTrial(1e9, line(2e9, 1e9));
  const r = await findLargestModel(trial, { capBytes: 1e9 });
  assert.deepEqual(trial.ran, [1]);
  assert.equal(r.layers, 0);
  assert.equal(r.best, null);
  assert.equal(r.exact, false);
  assert.match(r.problem ?? '', /cap of 1000000000 bytes is too small for 1 layer/);
});

test('a cap between the probes walks down from the second', async () => {
  const trial = fakeTrial(5.5e9, line(2e9, 1e9)); // L_max 3
  const r = await findLargestModel(trial, { capBytes: 5.5e9 });
  assert.deepEqual(trial.ran, [1, 4, 3]);
  assert.equal(r.layers, 3);
  assert.equal(r.exact, true);
});

test('when the trials run out before L and L + 1 are bracketed, the result says so', async () => {
  const peak = (L: number) => 2e9 + 1e9 * L + (L > 20 ? 0.5e9 * (L - 20) : 0); // true L_max 45, predicted 78
  const r = await findLargestModel(fakeTrial(80e9, peak), { capBytes: 80e9, maxTrials: 2 });
  assert.equal(r.exact, false);
  assert.equal(r.layers, 4);
  assert.equal(r.failedAt, 77);
  assert.match(r.problem ?? '', /trials exhausted/);
});

test('bad probes are refused', async () => {
  await assert.rejects(
    findLargestModel(fakeTrial(1, line(0, 1)), { capBytes: 1, probes: [4, 2] }),
    /probes = \[4, 2\]/,
  );
});

test('settings: the defaults, the cap from the environment or --cap, and a bad cap named', () => {
  const s = readSettings([], {});
  assert.deepEqual(s, {
    backend: 'cuda',
    d: 2048,
    heads: 16,
    context: 1024,
    batch: 1,
    vocab: 32768,
    capBytes: 80e9,
  });
  assert.equal(readSettings([], { BITSCALE_CUDA_MEMORY_LIMIT: '40GiB' }).capBytes, 40 * 2 ** 30);
  assert.equal(readSettings(['--cap', '2GB', '--d', '1024'], {}).capBytes, 2e9);
  assert.equal(readSettings(['--d', '1024'], {}).heads, 8);
  assert.throws(
    () => readSettings(['--cap', 'lots'], {}),
    /--cap = 'lots'.*expected a whole number of bytes/,
  );
  assert.throws(
    () => readSettings([], { BITSCALE_CUDA_MEMORY_LIMIT: '5 parsecs' }),
    /BITSCALE_CUDA_MEMORY_LIMIT = '5 parsecs'/,
  );
  assert.throws(() => readSettings(['--backend', 'tpu'], {}), /--backend tpu: expected cuda or cpu/);
  assert.throws(() => readSettings(['--batch', '0'], {}), /--batch 0: expected a whole number >= 1/);
});

test('the cpu stand-in counts live bytes, keeps the peak and fails past its cap', () => {
  const capped = cappedBackend(T.getBackend('js'), 1000);
  const a = capped.alloc('f32', 100); // 400 bytes
  const b = capped.alloc('bf16', 200); // 400 bytes
  capped.free(a);
  const c = capped.alloc('f32', 50); // 200 bytes: 600 live
  assert.equal(capped.peak(), 800);
  assert.throws(
    () => capped.alloc('f32', 101),
    (e: Error) =>
      e instanceof CappedOutOfMemory && /out of memory under the cap of 1000 bytes/.test(e.message),
  );
  capped.free(b);
  capped.free(c);
});

const bench = (args: string[], out: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'bench/largest-model.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, BENCH_OUT: out, BITSCALE_THREADS: '1' },
  });
const tiny = ['--backend', 'cpu', '--d', '32', '--heads', '2', '--context', '8', '--vocab', '32'];

test('the bench on cpu: a tiny model under a small cap, bracketed, written with its figures', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'largest-')), 'largest-model.json');
  const r = bench([...tiny, '--cap', '2MB'], out);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(result.bitscale.exact, true);
  const L = result.bitscale.layers;
  assert.ok(L > 4, `L_max ${L}`);
  const trials = result.trials.bitscale as TrialResult[];
  assert.ok(trials.some((t) => t.layers === L && t.ok) && trials.some((t) => t.layers === L + 1 && !t.ok));
  assert.ok(result.bitscale.peakBytes <= 2e6);
  assert.equal(result.torchEager, null);
  assert.match(r.stderr, /\[bitscale\] L=1 \(probe\): ok, peak/);
  const figures = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(figures.length, 5);
  assert.equal(figures[0].ours, L);
  assert.equal(figures[2].ours, result.bitscale.parameters.total);
});

test('the bench on cpu with a cap too small for one layer reports it and exits 1', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'largest-')), 'largest-model.json');
  const r = bench([...tiny, '--cap', '20kB'], out);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /L=1 \(probe\): out of memory/);
  assert.match(r.stderr, /L_max 0 .*cap of 20000 bytes is too small for 1 layer/);
});
