// What the op tests share: the backends they run on and a deterministic source of inputs.
import '../../src/backends/index.ts'; // the native backends, where built, before the list below is taken
import * as T from '../../src/tensor/index.ts';

/** Every backend available here except the float64 reference (js64), which the tests compare against. */
export const testedBackends = T.availableBackends().filter(
  (name) => name !== 'js64' && 'backend' in T.tryBackend(name),
);

/** Deterministic uniform numbers in [-1, 1). */
export function uniform(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 4294967296) * 2 - 1;
  });
}
