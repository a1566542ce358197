// A checkpoint or result file is trusted only if its size and sha256 match what was recorded when the
// run finished. Anything else (missing, truncated, altered) means the run must be redone.

import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export interface Artifact {
  /** A name within the run ('checkpoint', 'metrics', ...). */
  name: string;
  path: string;
  sha256: string;
  size: number;
}

/** sha256 and size of a file, read in 1 MiB chunks so large checkpoints do not fill memory. */
export function hashFile(path: string): { sha256: string; size: number } {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  let size = 0;
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      hash.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: hash.digest('hex'), size };
}

export function describeArtifact(name: string, path: string): Artifact {
  return { name, path, ...hashFile(path) };
}

/**
 * Null when every artifact is intact; otherwise what is wrong with the first bad one. With `missingOk`, only
 * the files that are there are checked (a result whose files were left on another machine still stands).
 */
export function artifactProblem(artifacts: Artifact[], options: { missingOk?: boolean } = {}): string | null {
  for (const a of artifacts) {
    let size: number;
    try {
      size = statSync(a.path).size;
    } catch {
      if (options.missingOk) continue;
      return `artifact ${a.name} (${a.path}) is missing`;
    }
    // Size first: a truncated file is caught without reading it.
    if (size !== a.size) return `artifact ${a.name} (${a.path}) has ${size} bytes, recorded ${a.size}`;
    const { sha256 } = hashFile(a.path);
    if (sha256 !== a.sha256)
      return `artifact ${a.name} (${a.path}) has sha256 ${sha256.slice(0, 12)}…, recorded ${a.sha256.slice(0, 12)}…`;
  }
  return null;
}
