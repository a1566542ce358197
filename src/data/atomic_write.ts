// Nothing half-written on disk: write to a temporary name in the same folder, fsync, then rename over the
// target (rename is atomic within one file system), so a reader sees the old file or the new one, never a part.

import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Atomically writes `parts` (concatenated) to `path`, creating the parent folder if needed. */
export function writeFileAtomic(path: string, parts: Uint8Array | string | (Uint8Array | string)[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    for (const part of Array.isArray(parts) ? parts : [parts]) {
      const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
      let written = 0;
      while (written < bytes.byteLength) written += writeSync(fd, bytes, written);
    }
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
