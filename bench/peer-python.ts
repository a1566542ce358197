// The benchmarks' Python peers run on Debian's interpreter with Debian's packages (python3-torch, python3-scipy),
// which `bash scripts/setup.sh --bench` installs. Always /usr/bin/python3, never the python3 on PATH: that may be
// a pyenv or virtualenv Python without them, and a peer that silently goes missing leaves `peer: null` behind.
// BITSCALE_PEER_PYTHON names another interpreter on purpose (the CUDA peer needs a torch built with CUDA, which
// Debian's is not).
import { execFileSync, spawnSync } from 'node:child_process';

export const PEER_PYTHON = process.env.BITSCALE_PEER_PYTHON || '/usr/bin/python3';

/** The Debian package that gives /usr/bin/python3 each module a peer imports. */
const debianPackage: Record<string, string> = {
  torch: 'python3-torch',
  scipy: 'python3-scipy',
  numpy: 'python3-numpy',
};

/** Why `python` cannot run a peer that imports `modules` (then `check`, if given, must print ok), or null. */
export function peerPythonProblem(modules: string[], python = PEER_PYTHON, check?: string): string | null {
  const script = `import ${modules.join(', ')}${check ? `\nprint('ok' if (${check}) else 'no')` : ''}`;
  const r = spawnSync(python, ['-c', script], { encoding: 'utf8' });
  const packages = modules.map((m) => debianPackage[m] ?? `the package of ${m}`).join(' ');
  const setup = '`bash scripts/setup.sh --bench`';
  const install = `run ${setup} (installs ${packages} for ${python})`;
  if (r.error) return `${python} cannot run (${r.error.message}); ${install}`;
  if (r.status !== 0) {
    const last = r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`;
    return `${python} cannot import ${modules.join(', ')} (${last}); ${install}`;
  }
  if (check && r.stdout.trim() !== 'ok') return `${python}: ${check} is false`;
  return null;
}

/** The peers' Python once it imports `modules`; otherwise says why and how to fix it, and exits 1. */
export function peerPython(modules: string[], check?: string): string {
  const problem = peerPythonProblem(modules, PEER_PYTHON, check);
  if (problem) {
    console.error(`benchmark peer unavailable: ${problem}`);
    process.exit(1);
  }
  return PEER_PYTHON;
}

/** Runs a peer script that prints one JSON object per line, each with a `shape` key; returns them by shape. */
export function peerRowsByShape<Row extends { shape: string }>(
  python: string,
  script: string,
  args: string[],
): Map<string, Row> {
  const out = execFileSync(python, [script, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const rows = new Map<string, Row>();
  for (const line of out.split('\n').filter((l) => l.trim())) {
    const row = JSON.parse(line) as Row;
    rows.set(row.shape, row);
  }
  return rows;
}
