// The addon is built twice (portable and AVX2 + FMA). On an AVX2 machine the kernel tests exercise the AVX2
// build; this runs them again on the portable one, which machines without AVX2 load.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { addonPath, cpuHasAvx2Fma } from '../../src/backends/cpu/load-addon.ts';
import { nativeSkip } from '../native-required.ts';

const generic = fileURLToPath(new URL('../../native/cpu/build/Release/bitscale_cpu.node', import.meta.url));
const skip = !existsSync(generic)
  ? nativeSkip('the portable addon is not built')
  : !cpuHasAvx2Fma() || addonPath() === generic
    ? 'the kernel tests already run on the portable build'
    : false;

test('every kernel test passes on the portable (non-AVX2) build', { skip }, () => {
  const kernels = fileURLToPath(new URL('./cpu-kernels.test.ts', import.meta.url));
  // A fresh test run (not a child of this one: NODE_TEST_CONTEXT would make it report to us instead).
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', kernels], {
    env: { ...env, BITSCALE_CPU_ISA: 'generic' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `kernel tests failed on the portable build:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /# pass [1-9]\d*\n# fail 0/, 'the kernel tests ran and passed');
});
