import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchSampler, validationBatches } from '../../src/data/sampler.ts';

const tokens = Uint32Array.from({ length: 10_000 }, (_, i) => i); // token value = its position

test('batches are (B, T) windows with targets shifted by one, inside the stream', () => {
  const sampler = new BatchSampler(tokens, 4, 16, 7);
  for (let step = 0; step < 50; step++) {
    const { inputs, targets, rows } = sampler.batch(step);
    assert.equal(rows, 4);
    assert.equal(inputs.length, 64);
    for (let b = 0; b < 4; b++) {
      const start = inputs[b * 16];
      assert.ok(start >= 0 && start + 16 < tokens.length);
      for (let t = 0; t < 16; t++) {
        assert.equal(inputs[b * 16 + t], start + t);
        assert.equal(targets[b * 16 + t], start + t + 1);
      }
    }
  }
});

test('batch k depends only on (seed, k): same seed same batches, resumable, other seeds differ', () => {
  const a = new BatchSampler(tokens, 8, 32, 42);
  const b = new BatchSampler(tokens, 8, 32, 42);
  assert.deepEqual(b.batch(17), a.batch(17)); // b never drew batches 0..16: nothing to replay
  assert.deepEqual(b.batch(3), a.batch(3));
  assert.notDeepEqual(a.batch(3).inputs, a.batch(4).inputs);
  assert.notDeepEqual(new BatchSampler(tokens, 8, 32, 43).batch(3).inputs, a.batch(3).inputs);
});

test('window starts cover the stream evenly', () => {
  const sampler = new BatchSampler(tokens, 16, 8, 1);
  const bins = new Array(10).fill(0);
  for (let step = 0; step < 500; step++) {
    for (let b = 0; b < 16; b++)
      bins[Math.floor((sampler.windowStart(step, b) / (tokens.length - 8)) * 10)]++;
  }
  for (const count of bins) assert.ok(count > 650 && count < 950, `bins ${bins}`); // 800 expected each
});

test('validation batches predict every token after the first exactly once, in order', () => {
  const val = Uint16Array.from({ length: 1000 }, (_, i) => i % 500);
  const targets: number[] = [];
  let batches = 0;
  for (const batch of validationBatches(val, 3, 64)) {
    batches++;
    for (let r = 0; r < batch.rows; r++) {
      for (let t = 0; t < 64; t++) assert.equal(batch.inputs[r * 64 + t], val[targets.length + t]);
      targets.push(...batch.targets.subarray(r * 64, r * 64 + 64));
    }
  }
  const windows = Math.floor(999 / 64); // 15 windows; the last 39 tokens are too few for a full one
  assert.equal(batches, Math.ceil(windows / 3));
  assert.deepEqual(targets, Array.from(val.subarray(1, 1 + windows * 64)));
});

test('shapes the stream cannot fill are refused, naming the argument', () => {
  assert.throws(
    () => new BatchSampler(tokens.subarray(0, 10), 2, 10, 0),
    /context = 10 is not allowed: at most 9/,
  );
  assert.throws(() => new BatchSampler(tokens, 0, 10, 0), /batchSize = 0/);
  assert.throws(() => new BatchSampler(tokens, 2, 10, -1), /seed = -1/);
});
