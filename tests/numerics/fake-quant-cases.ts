// The formats and granularities every fake-quant implementation is checked on, bit for bit against the
// reference (native CPU in tests/numerics, CUDA in tests/cuda).
import type { FakeQuantSpec } from '../../src/numerics/spec.ts';

export const formatCases = [
  'int2',
  'int3',
  'int4',
  'int8',
  'fp8_e4m3',
  'fp8_e5m2',
  'fp6_e3m2',
  'fp6_e2m3',
  'fp4_e2m1',
  'nf4',
  'ternary',
  'binary',
  'bf16',
  'fp16',
];
export const granularityCases: FakeQuantSpec['granularity'][] = [
  { kind: 'tensor' },
  { kind: 'row' },
  { kind: 'col' },
  { kind: 'group', size: 32 },
];
