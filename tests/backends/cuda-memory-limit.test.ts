// BITSCALE_CUDA_MEMORY_LIMIT as TypeScript reads it (no GPU needed): sizes with and without units, and errors
// that name the variable, the value and what is allowed. tests/cuda/memory-limit.test.ts runs the cap on a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ByteSizeError,
  MEMORY_LIMIT_ENV,
  memoryLimitFromEnv,
  parseByteSize,
} from '../../src/backends/cuda/memory-limit.ts';

test('bytes, scientific notation and decimal / binary units', () => {
  assert.equal(parseByteSize('1048576', 'x'), 1048576);
  assert.equal(parseByteSize('80e9', 'x'), 80e9);
  assert.equal(parseByteSize('80GB', 'x'), 80e9);
  assert.equal(parseByteSize('80 gb', 'x'), 80e9);
  assert.equal(parseByteSize('80GiB', 'x'), 80 * 2 ** 30);
  assert.equal(parseByteSize('1.5TB', 'x'), 1.5e12);
  assert.equal(parseByteSize('512KiB', 'x'), 512 * 1024);
  assert.equal(parseByteSize('3MB', 'x'), 3e6);
  assert.equal(parseByteSize('7B', 'x'), 7);
});

test('unset or empty means no limit; set, it is parsed', () => {
  assert.equal(memoryLimitFromEnv({}), null);
  assert.equal(memoryLimitFromEnv({ [MEMORY_LIMIT_ENV]: ' ' }), null);
  assert.equal(memoryLimitFromEnv({ [MEMORY_LIMIT_ENV]: '80GB' }), 80e9);
});

test('a bad value names the variable, the value and what is allowed', () => {
  for (const [value, why] of [
    ['eighty', /not a number/],
    ['80XB', /unknown unit 'XB'/],
    ['0', /above 0/],
    ['0GB', /above 0/],
    ['1.5', /whole number/],
    ['-5GB', /not a number/],
    ['1e30', /whole number/],
  ] as const) {
    assert.throws(
      () => memoryLimitFromEnv({ [MEMORY_LIMIT_ENV]: value }),
      (e: Error) => {
        assert.ok(e instanceof ByteSizeError, `${value}: ${e}`);
        assert.match(e.message, new RegExp(`^${MEMORY_LIMIT_ENV} = '${value.replace('.', '\\.')}'`));
        assert.match(e.message, why);
        assert.match(e.message, /GB, TB \(powers of 1000\) or KiB, MiB, GiB, TiB/);
        return true;
      },
    );
  }
});
