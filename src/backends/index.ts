// Registers the native backends that can exist on this machine. Importing this module is what makes
// 'cpu' (and later 'cuda') available by name; each loads lazily and falls back with a clear message.
import { registerBackend } from '../tensor/registry.ts';

registerBackend('cpu', () => {
  throw new Error('the native cpu backend is not built yet');
});
