// Registers the native backends that can exist on this machine. Importing this module is what makes
// 'cpu' and 'cuda' available by name; each loads lazily, and a missing one falls back to 'js' with a clear
// message (see tensor/registry.ts).
import { registerBackend } from '../tensor/registry.ts';
import { createCpuBackend } from './cpu/cpu-backend.ts';
import { registerCudaBackend } from './cuda/register.ts';

registerBackend('cpu', () => createCpuBackend());
registerCudaBackend();
