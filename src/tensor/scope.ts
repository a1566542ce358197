// Explicit lifetimes for tensor memory. tidy(fn) disposes every tensor made inside fn except those it returns
// and those marked kept, so a training loop body wrapped in tidy leaks nothing, whatever the backend.

/** What a scope tracks: anything it can dispose (tensors; kept as an interface so tensor.ts imports this file, not the reverse). */
interface Scoped {
  kept: boolean;
  dispose(): void;
}

const scopes: Scoped[][] = [];

export function trackInScope(t: Scoped): void {
  const top = scopes[scopes.length - 1];
  if (top) top.push(t);
}

function collectTensors(value: unknown, into: Set<Scoped>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ('shape' in value && 'dispose' in value && 'backend' in value) {
    into.add(value as unknown as Scoped);
    return;
  }
  const items = Array.isArray(value)
    ? value
    : value instanceof Map
      ? [...value.values()]
      : Object.values(value);
  for (const item of items) collectTensors(item, into, seen);
}

/** Ends the innermost scope: tensors in `result` move to the parent scope, the rest not kept are disposed. */
function closeScope(result: unknown): void {
  const made = scopes.pop()!;
  const returned = new Set<Scoped>();
  collectTensors(result, returned);
  const parent = scopes[scopes.length - 1];
  for (const t of made) {
    if (returned.has(t)) parent?.push(t);
    else if (!t.kept) t.dispose();
  }
}

export function tidy<T>(fn: () => T): T {
  scopes.push([]);
  let result: T | undefined;
  try {
    result = fn();
    return result;
  } finally {
    closeScope(result);
  }
}

/** The async twin of tidy, for loops that await between steps. Do not interleave two of them. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  scopes.push([]);
  let result: T | undefined;
  try {
    result = await fn();
    return result;
  } finally {
    closeScope(result);
  }
}

export function keep<T extends Scoped>(t: T): T {
  t.kept = true;
  return t;
}
