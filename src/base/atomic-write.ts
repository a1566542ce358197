// Nothing half-written on disk: write to a temporary name in the same folder, fsync, rename over the target
// (atomic within one file system), then fsync the folder so the rename survives a power cut. A reader sees
// the old file or the new one, never a part; a failed write leaves no temporary file behind.

import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Atomically writes `parts` (concatenated) to `path`, creating the parent folder if needed. */
export function writeFileAtomic(path: string, parts: Uint8Array | string | (Uint8Array | string)[]): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (const part of Array.isArray(parts) ? parts : [parts]) {
        const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
        let written = 0;
        while (written < bytes.byteLength) written += writeSync(fd, bytes, written);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some file systems refuse fsync on folders; the rename is still atomic there.
  }
}

/** Atomically writes `value` as indented JSON with a final newline. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
