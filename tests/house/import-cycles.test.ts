// Arrows point one way: no module of src/ reaches itself through its imports (type-only imports included,
// since they too say which module knows about which). Reads the import and export-from lines of every file.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const src = resolve(import.meta.dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|mts)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** The relative modules a file imports or re-exports, as absolute paths. */
export function importsOf(file: string, text = readFileSync(file, 'utf8')): string[] {
  const found = text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/gms);
  return [...found].map((m) => resolve(dirname(file), m[1]));
}

/** One cycle of the graph, as a list of modules that ends where it starts; null when there is none. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

test('the cycle finder finds a cycle of three and none in a chain', () => {
  assert.deepEqual(
    findCycle(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
      ]),
    ),
    ['a', 'b', 'c', 'a'],
  );
  assert.equal(
    findCycle(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', []],
      ]),
    ),
    null,
  );
  assert.deepEqual(importsOf('/x/y/f.ts', "import type { T } from '../z.ts';\nexport { a } from './a.ts';"), [
    '/x/z.ts',
    '/x/y/a.ts',
  ]);
});

test('no import cycles in src/', () => {
  const files = sources(src);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const cycle = findCycle(graph);
  assert.equal(cycle && cycle.map((f) => relative(src, f)).join(' -> '), null);
});
