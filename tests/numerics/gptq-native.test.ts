// GPTQ on the CPU addon's kernels (native/cpu/gptq.cc) against the TypeScript reference: bit-exact codes
// (gptq-kernel-cases.ts), and registration as gptqQuantize's default. Skips (saying why) while the addon is not built.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nativeGptqKernels, registerNativeGptq } from '../../src/backends/cpu/gptq-kernels.ts';
import { loadCpuAddon } from '../../src/backends/cpu/load-addon.ts';
import { philoxFill } from '../../src/base/philox.ts';
import { gptqQuantize, hessianFromActivations } from '../../src/numerics/gptq.ts';
import { type GptqKernels, gptqKernels, setGptqKernels } from '../../src/numerics/gptq-kernels.ts';
import { nativeSkip } from '../native-required.ts';
import { gptqKernelCases } from './gptq-kernel-cases.ts';

const loaded = loadCpuAddon();
const native = 'error' in loaded ? null : nativeGptqKernels(loaded.addon);
const skip = nativeSkip(
  'error' in loaded ? loaded.error : native ? false : `${loaded.path} has no GPTQ kernels: rebuild it`,
);

gptqKernelCases('native', native, skip, { factor: 1e-9, weight: 1e-5, codes: 0 });

test('registered kernels become the default of gptqQuantize and hessianFromActivations', { skip }, () => {
  const before = gptqKernels();
  try {
    assert.equal(registerNativeGptq(), true);
    assert.notEqual(gptqKernels(), null);
    const calls: string[] = [];
    const k = native!;
    const spy: GptqKernels = {
      hessian(...a) {
        calls.push('hessian');
        k.hessian(...a);
      },
      inverseCholeskyUpper(...a) {
        calls.push('inverseCholeskyUpper');
        k.inverseCholeskyUpper(...a);
      },
      quantizeBlock(...a) {
        calls.push('quantizeBlock');
        k.quantizeBlock(...a);
      },
      lazyUpdate(...a) {
        calls.push('lazyUpdate');
        k.lazyUpdate(...a);
      },
    };
    setGptqKernels(spy);
    const x = new Float32Array(32 * 64);
    philoxFill(x, x.length, 'normal', 3, 0);
    const h = hessianFromActivations(x, 32, 64);
    gptqQuantize(new Float32Array(8 * 64).fill(0.5), 8, 64, h, { bits: 4, blockSize: 32 });
    assert.deepEqual(
      new Set(calls),
      new Set(['hessian', 'inverseCholeskyUpper', 'quantizeBlock', 'lazyUpdate']),
    );
    assert.equal(calls.filter((c) => c === 'quantizeBlock').length, 2, 'one call per block of 32 columns');
    assert.equal(calls.filter((c) => c === 'lazyUpdate').length, 3, 'one per block, one per span');
  } finally {
    setGptqKernels(before);
  }
});
