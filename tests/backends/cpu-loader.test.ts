// Loading the addon: the message when it is missing, the choice of build, the OpenMP wait policy.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { test } from 'node:test';
import { addonPath, chooseOmpWaitPolicy, cpuHasAvx2Fma } from '../../src/backends/cpu/load-addon.ts';

test('without the addon, creating the backend says how to build it', () => {
  const script = `
    import { createCpuBackend } from './src/backends/cpu/cpu-backend.ts';
    try { createCpuBackend(); } catch (e) { console.log(e.name + ': ' + e.message); }`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, BITSCALE_CPU_ADDON: '/nonexistent/bitscale_cpu.node' },
    encoding: 'utf8',
  });
  assert.match(r.stdout, /CpuBackendError: the native CPU addon is not built .*npm run setup/);
});

test('the AVX2 build is chosen only where the CPU has AVX2 and FMA, and can be overridden', () => {
  if (!cpuHasAvx2Fma()) assert.match(addonPath(), /bitscale_cpu\.node$/);
  const saved = process.env.BITSCALE_CPU_ISA;
  process.env.BITSCALE_CPU_ISA = 'generic';
  try {
    assert.match(addonPath(), /bitscale_cpu\.node$/);
  } finally {
    if (saved === undefined) delete process.env.BITSCALE_CPU_ISA;
    else process.env.BITSCALE_CPU_ISA = saved;
  }
});

test('OMP_WAIT_POLICY: a user setting wins; otherwise passive only on a machine busier than its cores', () => {
  assert.equal(chooseOmpWaitPolicy({ OMP_WAIT_POLICY: 'active' }), 'active');
  const env: NodeJS.ProcessEnv = {};
  const busy = loadavg()[0] > availableParallelism();
  assert.equal(chooseOmpWaitPolicy(env), busy ? 'passive' : undefined);
  assert.equal(env.OMP_WAIT_POLICY, busy ? 'passive' : undefined);
});
