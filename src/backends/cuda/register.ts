// Makes 'cuda' available by name. Loading stays lazy: on a machine without the built addon or a GPU, asking
// for 'cuda' fails with the reason and how to build it, and the default backend never picks it unasked.
// Called from src/backends/index.ts.
import { registerBackend } from '../../tensor/registry.ts';
import { createCudaBackend } from './cuda-backend.ts';

export function registerCudaBackend(): void {
  registerBackend('cuda', () => createCudaBackend());
}
