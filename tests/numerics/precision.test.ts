// One list of precision names: every name has a complete spec and one bit count; nothing else is a name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NumericsError } from '../../src/numerics/errors.ts';
import { parsePrecision, precisionNames } from '../../src/numerics/precision.ts';
import { formatName, parseFormat, quantSpec } from '../../src/numerics/spec.ts';

test('every precision name parses, round-trips and has bits in (0, 32]', () => {
  for (const name of precisionNames) {
    const p = parsePrecision(name);
    assert.ok(p.bits > 0 && p.bits <= 32, name);
    if (name === 'fp32') assert.equal(p.format, null);
    else {
      assert.equal(formatName(p.format as never), name);
      assert.doesNotThrow(() => quantSpec(name), name);
    }
  }
  const bits = Object.fromEntries(precisionNames.map((n) => [n, parsePrecision(n).bits]));
  assert.deepEqual(
    [bits.fp32, bits.bf16, bits.int3, bits.fp6_e2m3, bits.nf4, bits.binary, bits.mxfp4, bits.mxint8],
    [32, 16, 3, 6, 4, 1, 4, 8],
  );
});

test('names that only exist on Object.prototype are not formats', () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    assert.throws(() => parseFormat(name), NumericsError, name);
    assert.throws(() => parsePrecision(name), NumericsError, name);
  }
  assert.throws(() => parseFormat(4 as never), NumericsError);
});
