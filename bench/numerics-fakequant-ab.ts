// A/B timing of fakeQuant across addon builds (e.g. the installed one against a variant built in /tmp), for
// work on native/cpu/fake_quant*.  Every contender runs once per round, memcpy included, and the best round
// of each is kept, so a busy machine slows all of them alike. Prints GB/s of float32 input and % of memcpy.
// Usage: node --import tsx bench/numerics-fakequant-ab.ts [--rounds 15] ADDON.node [ADDON2.node ...]
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { philoxFill } from '../src/base/philox.ts';
import { encodeFakeQuantSpec, quantSpec } from '../src/numerics/spec.ts';

type FakeQuant = (
  spec: Float64Array,
  x: Float32Array,
  out: Float32Array,
  rows: number,
  cols: number,
  mask: Float32Array | null,
) => void;

const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 15;
if (args.length === 0 || !(rounds >= 1)) {
  console.error('usage: bench/numerics-fakequant-ab.ts [--rounds N] ADDON.node [ADDON2.node ...]');
  process.exit(2);
}

const rows = 4096;
const cols = 4096;
const x = new Float32Array(rows * cols);
philoxFill(x, x.length, 'normal', 1, 0);
const out = new Float32Array(x.length);
const mask = new Float32Array(x.length);
const src = Buffer.from(x.buffer);
const dst = Buffer.from(out.buffer);
const specs = [
  ['int4 g128', quantSpec('int4', { granularity: { kind: 'group', size: 128 } })],
  ['fp8_e4m3 tensor', quantSpec('fp8_e4m3')],
  ['ternary tensor', quantSpec('ternary')],
] as const;

const contenders: [string, () => void][] = [['memcpy', () => src.copy(dst)]];
for (const path of args) {
  const fakeQuant = (createRequire(import.meta.url)(resolve(path)) as { fakeQuant: FakeQuant }).fakeQuant;
  for (const [name, spec] of specs) {
    const encoded = encodeFakeQuantSpec(spec);
    contenders.push([`${path} ${name}`, () => fakeQuant(encoded, x, out, rows, cols, null)]);
    contenders.push([`${path} ${name} +mask`, () => fakeQuant(encoded, x, out, rows, cols, mask)]);
  }
}
const best = new Map<string, number>();
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of contenders) {
    const start = performance.now();
    fn();
    best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, performance.now() - start));
  }
}
const gbs = (name: string) => x.byteLength / (best.get(name) ?? Number.POSITIVE_INFINITY) / 1e6;
for (const [name] of contenders) {
  console.log(
    `${name.padEnd(70)} ${gbs(name).toFixed(2)} GB/s  ${((100 * gbs(name)) / gbs('memcpy')).toFixed(1)}%`,
  );
}
