// BITSCALE_CUDA_MEMORY_LIMIT: a cap on the device memory the cuda backend's caching allocator holds (in use +
// cached), to emulate a smaller card on a larger one. Sizes are bytes, or a number with a unit: kB, MB, GB, TB
// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 80GB = 80e9 bytes, 80GiB = 80 * 2^30.
import { CudaBackendError } from './errors.ts';

export const MEMORY_LIMIT_ENV = 'BITSCALE_CUDA_MEMORY_LIMIT';

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** A byte size that cannot be read; the message names where it came from, the value and what is allowed. */
export class ByteSizeError extends CudaBackendError {
  constructor(
    readonly source: string,
    readonly value: string,
    why: string,
  ) {
    super(
      `${source} = '${value}': ${why}; expected a whole number of bytes > 0, or a number with a unit ` +
        'kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 80GB or 80GiB',
    );
    this.name = 'ByteSizeError';
  }
}

/** Bytes in `text` ("85899345920", "80e9", "80GB", "80 GiB", "1.5TB"); `source` names it in errors. */
export function parseByteSize(text: string, source: string): number {
  const match = /^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) throw new ByteSizeError(source, text, 'not a number with an optional unit');
  const unit = UNITS[match[2].toLowerCase() || 'b'];
  if (unit === undefined) throw new ByteSizeError(source, text, `unknown unit '${match[2]}'`);
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw new ByteSizeError(source, text, 'not a whole number of bytes');
  if (bytes <= 0) throw new ByteSizeError(source, text, 'the limit must be above 0');
  return bytes;
}

/** The limit the environment asks for, in bytes, or null when BITSCALE_CUDA_MEMORY_LIMIT is unset or empty. */
export function memoryLimitFromEnv(env: NodeJS.ProcessEnv = process.env): number | null {
  const value = env[MEMORY_LIMIT_ENV];
  if (value === undefined || value.trim() === '') return null;
  return parseByteSize(value, MEMORY_LIMIT_ENV);
}
