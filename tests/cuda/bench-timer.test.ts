// The bench helpers of native/cuda/bench_timer.cu: the device timer's hold keeps the GPU busy and stays out of the
// time it reports, and the read-only kernel reads every element (its per-block XORs combine to the XOR of the
// input), tail included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cuda, download, skip, upload } from './helpers.ts';

const addon = cuda?.addon;
const helperSkip =
  skip || (addon?.timerStart && addon.readDevice ? false : 'the CUDA addon lacks the bench helpers');

test('timerStart holds the GPU while the host queues, and the timer counts from the end of the hold', {
  skip: helperSkip,
}, () => {
  addon.timerStart?.(0); // the first launch of a process loads the module: not what is measured
  addon.timerStop?.();
  const t0 = performance.now();
  addon.timerStart?.(20_000);
  const queued = performance.now() - t0;
  const timed = addon.timerStop?.() ?? Number.NaN;
  const waited = performance.now() - t0;
  assert.ok(queued < 15, `timerStart returned after ${queued} ms: it should only queue`);
  assert.ok(waited >= 19.9, `timerStop returned after ${waited} ms: the 20 ms hold did not hold`);
  assert.ok(timed >= 0 && timed < 1, `${timed} ms between the marks, with nothing queued between them`);
});

test('readDevice reads every element, the tail past the last 16 bytes too', { skip: helperSkip }, () => {
  const blocks = 4 * cuda.device().multiprocessors;
  for (const n of [1, 7, 4096, 100003]) {
    const data = Int32Array.from({ length: n }, (_, i) => (i * 2654435761) | 0);
    const src = upload(data, 'i32');
    const dst = upload(new Int32Array(blocks), 'i32');
    addon.readDevice?.(src, dst, n);
    let want = 0;
    for (const v of data) want ^= v;
    let got = 0;
    for (const v of download(dst, blocks, 'i32')) got ^= v;
    assert.equal(got, want, `n = ${n}`);
    cuda.free(src);
    cuda.free(dst);
  }
});
