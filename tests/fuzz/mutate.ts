// Deterministic mutations for the fuzz tests: a seeded generator and the edits a corrupted or hand-edited
// input shows (bit flips, truncation, spliced bytes, replaced structured values). Same seed, same inputs.

/** mulberry32: a tiny seeded generator; uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;

export const int = (r: Rng, n: number) => Math.floor(r() * n);
export const pick = <T>(r: Rng, list: readonly T[]): T => list[int(r, list.length)];

/** Values that break code expecting something else: wrong types, edge numbers, odd strings, prototypes. */
export const oddValues: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  -2,
  0.5,
  1e308,
  -0,
  2 ** 53,
  2 ** 64,
  '',
  '8',
  'constructor',
  '__proto__',
  'toString',
  'int4',
  'mxfp4',
  'fp32',
  [],
  [1],
  [-2, 0],
  [0, 1e20],
  [[]],
  {},
  { a: 1 },
  JSON.parse('{"__proto__": {"polluted": 1}}'),
];

/** One random edit of a byte string. */
export function mutateBytes(r: Rng, input: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(input);
  switch (int(r, 5)) {
    case 0: {
      // flip 1..8 bits
      const flips = 1 + int(r, 8);
      for (let k = 0; k < flips && bytes.length > 0; k++) bytes[int(r, bytes.length)] ^= 1 << int(r, 8);
      return bytes;
    }
    case 1:
      return bytes.subarray(0, int(r, bytes.length + 1)); // truncate
    case 2: {
      // random bytes appended
      const extra = Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256));
      return Uint8Array.from([...bytes, ...extra]);
    }
    case 3: {
      // a run of bytes overwritten with one value (0x00, 0xff, a quote, a brace...)
      const at = int(r, bytes.length + 1);
      const value = pick(r, [0, 0xff, 0x22, 0x7b, 0x7d, 0x5b, 0x2d, 0x30, 0x39]);
      bytes.fill(value, at, at + 1 + int(r, 8));
      return bytes;
    }
    default: {
      // a slice deleted or duplicated
      const at = int(r, bytes.length + 1);
      const len = int(r, 16);
      return r() < 0.5
        ? Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + len)])
        : Uint8Array.from([...bytes.subarray(0, at + len), ...bytes.subarray(at)]);
    }
  }
}

export function mutateText(r: Rng, text: string): string {
  return new TextDecoder().decode(mutateBytes(r, new TextEncoder().encode(text)));
}

/** Replaces, deletes or adds one value somewhere inside a parsed JSON/YAML document (a deep copy). */
export function mutateValue(r: Rng, value: unknown): unknown {
  const copy = structuredClone(value);
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (Array.isArray(v)) for (const [i, x] of v.entries()) walk(x, [...path, i]);
    else if (typeof v === 'object' && v !== null)
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(copy, []);
  const path = pick(r, paths);
  if (path.length === 0) return pick(r, oddValues);
  const parent = path
    .slice(0, -1)
    .reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], copy) as Record<string | number, unknown>;
  const key = path[path.length - 1];
  const action = int(r, 4);
  if (action === 0 && !Array.isArray(parent)) delete parent[key];
  else if (action === 1 && !Array.isArray(parent))
    Object.defineProperty(parent, pick(r, ['x', 'constructor', '__proto__', 'dModel']), {
      value: pick(r, oddValues),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  else parent[key] = structuredClone(pick(r, oddValues));
  return copy;
}
