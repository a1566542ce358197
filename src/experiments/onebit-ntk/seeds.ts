// Independent random streams from one run seed: the data, the teacher and the network init each draw from
// their own Philox stream, so changing the width never changes the data and vice versa.
import * as T from '../../tensor/index.ts';

export const streams = { inputs: 1, teacher: 2, noise: 3, hidden: 4, output: 5 } as const;

export function streamSeed(seed: number, stream: number): number {
  return ((seed + 1) * 1_000_003 + stream * 7_919) % 2 ** 31;
}

/** n standard normal draws from one stream, as doubles. */
export function normals(seed: number, stream: number, n: number): Float64Array {
  return T.tidy(() => Float64Array.from(T.randn([n], { seed: streamSeed(seed, stream) }).toArray()));
}

/** n uniform [0, 1) draws from one stream. */
export function uniforms(seed: number, stream: number, n: number): Float64Array {
  return T.tidy(() => Float64Array.from(T.rand([n], { seed: streamSeed(seed, stream) }).toArray()));
}
