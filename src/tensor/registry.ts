// Which backend tensors are made on. Chosen by API (setDefaultBackend) or by the BITSCALE_BACKEND environment
// variable; a backend that cannot load falls back to `js` with one clear message on stderr.
import type { Backend } from '../backends/backend.ts';
import { createJsBackend } from '../backends/js/js-backend.ts';

export type BackendFactory = () => Backend;

const factories = new Map<string, BackendFactory>([
  ['js', () => createJsBackend()],
  ['js64', () => createJsBackend({ float64: true })],
]);
const loaded = new Map<string, Backend>();
let defaultName: string | undefined;

/** Makes a backend available by name (native backends register themselves from src/backends/index.ts). */
export function registerBackend(name: string, factory: BackendFactory): void {
  factories.set(name, factory);
  loaded.delete(name);
}

export function availableBackends(): string[] {
  return [...factories.keys()];
}

/** The backend of that name, loading it on first use. Throws if it is unknown or fails to load. */
export function getBackend(name: string): Backend {
  const cached = loaded.get(name);
  if (cached) return cached;
  const factory = factories.get(name);
  if (!factory) throw new Error(`unknown backend '${name}'; available: ${availableBackends().join(', ')}`);
  const backend = factory();
  loaded.set(name, backend);
  return backend;
}

/** Loads a backend if it can, else null with the reason. */
export function tryBackend(name: string): { backend: Backend } | { error: string } {
  try {
    return { backend: getBackend(name) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

let warned = false;

/** The backend new tensors go to: the one set by setDefaultBackend, else $BITSCALE_BACKEND, else cpu, else js. */
export function defaultBackend(): Backend {
  const wanted = defaultName ?? process.env.BITSCALE_BACKEND ?? (factories.has('cpu') ? 'cpu' : 'js');
  const result = tryBackend(wanted);
  if ('backend' in result) return result.backend;
  if (!warned) {
    warned = true;
    process.stderr.write(`bitscale: backend '${wanted}' is unavailable (${result.error}); using 'js'\n`);
  }
  defaultName = 'js';
  return getBackend('js');
}

export function setDefaultBackend(name: string): Backend {
  const backend = getBackend(name);
  defaultName = name;
  return backend;
}
