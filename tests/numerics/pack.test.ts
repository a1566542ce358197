import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PackBits, packBits, packedBytes, unpackBits } from '../../src/numerics/pack.ts';
import { quantSpec } from '../../src/numerics/spec.ts';
import { storageBits } from '../../src/numerics/storage-bits.ts';

test('pack/unpack round-trips every width, including 3-bit codes that straddle bytes', () => {
  for (const bits of [1, 2, 3, 4, 8] as PackBits[]) {
    for (const n of [0, 1, 7, 8, 9, 1001]) {
      const codes = Uint8Array.from({ length: n }, (_, i) => (i * 2654435761) % 2 ** bits);
      const packed = packBits(codes, bits);
      assert.equal(packed.length, Math.ceil((n * bits) / 8));
      assert.equal(packed.length, packedBytes(n, bits));
      assert.deepEqual(unpackBits(packed, bits, n), codes);
    }
  }
  assert.deepEqual([...packBits([1, 0, 1, 1], 1)], [0b1101]);
  assert.deepEqual([...packBits([5, 3, 7], 3)], [0b11011101, 0b1]); // 101, 011, 111 from the LSB
  assert.throws(() => packBits([4], 2), /codes\[0\] = 4.*\[0, 3\]/);
  assert.throws(() => packBits([1], 5 as PackBits), /bits = 5.*1, 2, 3, 4, 8/);
});

test('bits per parameter count codes, scales and zero points', () => {
  assert.equal(
    storageBits(quantSpec('int4', { granularity: { kind: 'group', size: 128 } }), 4096, 4096)
      .bitsPerParameter,
    4 + 16 / 128,
  );
  assert.equal(
    storageBits(
      quantSpec('int3', { symmetric: false, granularity: { kind: 'group', size: 128 } }),
      4096,
      4096,
    ).bitsPerParameter,
    3 + (16 + 3) / 128,
  );
  assert.equal(storageBits(quantSpec('mxfp4'), 64, 64).bitsPerParameter, 4 + 8 / 32);
  assert.equal(storageBits(quantSpec('nf4'), 64, 64, { scaleBits: 32 }).bitsPerParameter, 4.5);
  assert.equal(storageBits(quantSpec('ternary'), 64, 64).bitsPerParameter, 2 + 16 / 4096);
  assert.equal(storageBits(quantSpec('bf16'), 8, 8).bitsPerParameter, 16);
});
