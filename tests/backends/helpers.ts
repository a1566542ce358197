// Shared by the backend tests: seeded inputs, storages from host data, and tolerance checks.
import assert from 'node:assert/strict';
import type { Backend, DType } from '../../src/backends/backend.ts';
import { createCpuBackend } from '../../src/backends/cpu/cpu-backend.ts';
import { loadCpuAddon } from '../../src/backends/cpu/load-addon.ts';
import { createJsBackend } from '../../src/backends/js/js-backend.ts';
import { nativeSkip } from '../native-required.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests drive two backends with different storage types
export type AnyBackend = Backend<any>;

const load = loadCpuAddon();
/** Why the cpu tests are skipped (the addon is not built), or false. */
export const skipCpu: string | false = nativeSkip('error' in load ? load.error : false);
export const cpu = skipCpu ? undefined : createCpuBackend();
export const js: AnyBackend = createJsBackend();

/** Deterministic uniform numbers in [lo, hi) (mulberry32). */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

export function put(b: AnyBackend, dtype: DType, data: ArrayLike<number>) {
  const s = b.alloc(dtype, data.length);
  b.write(s, dtype, data);
  return s;
}

export function get(
  b: AnyBackend,
  s: unknown,
  n: number,
  dtype: DType = 'f32',
): Float32Array | Float64Array | Int32Array {
  return b.read(s, dtype, n);
}

/** |actual - expected| <= abs + rel |expected| everywhere (NaN matches NaN). */
export function close(
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  abs = rel,
) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    assert.ok(Math.abs(a - e) <= abs + rel * Math.abs(e), `${what}[${i}]: cpu ${a} vs js ${e}`);
  }
}

/** Runs the same scenario on js and cpu and compares every array it returns. */
export function agree(
  what: string,
  scenario: (b: AnyBackend) => ArrayLike<number>[],
  rel: number,
  abs = rel,
): void {
  const expected = scenario(js);
  const actual = scenario(cpu!);
  assert.equal(actual.length, expected.length);
  for (const [i, e] of expected.entries()) close(`${what} #${i}`, actual[i], e, rel, abs);
}
