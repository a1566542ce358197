// RoPE frequency rescaling as transformers computes it (nn/arch.ts ropeInvFreq).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ropeInvFreq } from '../../src/nn/arch.ts';

test('linear divides every frequency; dynamic NTK changes nothing within the trained context', () => {
  const plain = ropeInvFreq(10000, 16, null, 64);
  assert.equal(plain[0], 1);
  assert.ok(Math.abs(plain[1] - 10000 ** (-2 / 16)) < 1e-7);
  const linear = ropeInvFreq(10000, 16, { type: 'linear', factor: 4 }, 64);
  for (const [j, f] of plain.entries()) assert.equal(linear[j], Math.fround(f / 4));
  const dynamic = { type: 'dynamic' as const, factor: 2, maxPositions: 128 };
  assert.deepEqual(ropeInvFreq(10000, 16, dynamic, 100), plain);
  // Past the context the base grows: base * (2 * 256/128 - 1)^(16/14), so every frequency but the first falls.
  const longer = ropeInvFreq(10000, 16, dynamic, 256);
  const base = 10000 * 3 ** (16 / 14);
  assert.ok(Math.abs(longer[1] - base ** (-2 / 16)) < 1e-7);
  assert.equal(longer[0], 1);
});

test('llama3 keeps high frequencies, divides low ones by the factor and blends between', () => {
  const scaling = {
    type: 'llama3' as const,
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositions: 32,
  };
  const plain = ropeInvFreq(10000, 16, null, 64);
  const scaled = ropeInvFreq(10000, 16, scaling, 64);
  plain.forEach((f, j) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < 32 / 4)
      assert.equal(scaled[j], f); // high frequency: unchanged
    else if (wavelen > 32)
      assert.equal(scaled[j], Math.fround(f / 8)); // low frequency: divided
    else assert.ok(scaled[j] < f && scaled[j] > f / 8); // between: smoothed
  });
});
