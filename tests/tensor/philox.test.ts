import assert from 'node:assert/strict';
import { test } from 'node:test';
import { philox4x32, philoxFill } from '../../src/base/philox.ts';

test('philox4x32-10 matches the Random123 known-answer vectors', () => {
  const out = new Uint32Array(4);
  philox4x32(0, 0, 0, 0, 0, 0, out);
  assert.deepEqual([...out], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
  assert.deepEqual([...out], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
  philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
  assert.deepEqual([...out], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
});

test('a stream read at an offset equals the same slice of the whole stream', () => {
  const whole = new Float64Array(37);
  philoxFill(whole, 37, 'normal', 1234, 0);
  const part = new Float64Array(20);
  philoxFill(part, 20, 'normal', 1234, 13);
  assert.deepEqual([...part], [...whole.subarray(13, 33)]);
});

test('uniform and normal streams have the right moments', () => {
  const n = 200_000;
  const u = new Float64Array(n);
  philoxFill(u, n, 'uniform', 7, 0);
  const mean = u.reduce((s, x) => s + x, 0) / n;
  assert.ok(Math.abs(mean - 0.5) < 0.005, `uniform mean ${mean}`);
  assert.ok(u.every((x) => x > 0 && x < 1));
  const z = new Float64Array(n);
  philoxFill(z, n, 'normal', 7, 0);
  const zm = z.reduce((s, x) => s + x, 0) / n;
  const zv = z.reduce((s, x) => s + (x - zm) ** 2, 0) / n;
  assert.ok(Math.abs(zm) < 0.01, `normal mean ${zm}`);
  assert.ok(Math.abs(zv - 1) < 0.02, `normal variance ${zv}`);
});
