// Benchmark: Epoch's full Chinchilla grid (4,500 starts, 240 points) with our fitter, side by side with
// SciPy's L-BFGS-B on the same grid and data. Run: node --import tsx bench/laws.ts [--epoch]
//   (SciPy gets the exact gradient too; --epoch also runs it Epoch's way, with finite differences, ~150 s.)
// The peer is bench/laws_scipy.py (Epoch's fit in SciPy). Writes bench/results/laws.json; prints one JSON line
// per figure.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import { epochChinchillaDataset } from '../src/laws/epoch.ts';
import { fitLaw } from '../src/laws/fit.ts';
import { chinchillaForm } from '../src/laws/forms/chinchilla.ts';
import { parseCsv } from '../src/laws/table.ts';
import { machineDescription } from './machine.ts';
import { peerPython } from './peer-python.ts';

const DATA = 'data/validation/chinchilla_epoch_svg_extracted.csv';
const PYTHON = peerPython(['scipy']); // exits 1, saying how to install it, when /usr/bin/python3 lacks SciPy

interface PeerResult {
  seconds: number;
  starts: number;
  objective: number;
  params: Record<string, number>;
}

function runScipy(mode: 'exact' | 'epoch'): PeerResult | undefined {
  const r = spawnSync(PYTHON, ['bench/laws_scipy.py', DATA, mode], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(
      `SciPy peer (${mode}) unavailable: ${r.error?.message ?? r.stderr.trim().split('\n').at(-1)}`,
    );
    return undefined;
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as PeerResult;
}

const data = epochChinchillaDataset(parseCsv(readFileSync(DATA, 'utf8')).records);
const start = performance.now();
const fit = fitLaw(chinchillaForm(), data);
const ours = {
  seconds: (performance.now() - start) / 1000,
  starts: fit.starts.total,
  objective: fit.objective,
  params: fit.params,
};

const peers: Record<string, PeerResult | undefined> = { exact: runScipy('exact') };
if (process.argv.includes('--epoch')) peers.epoch = runScipy('epoch');

const where = `${machineDescription()}, Node ${process.version}`;
const lines: Record<string, unknown>[] = [];
for (const [mode, peer] of Object.entries(peers)) {
  const label =
    mode === 'exact' ? 'scipy L-BFGS-B, exact gradient' : 'scipy L-BFGS-B, finite differences (as Epoch)';
  lines.push({
    bench: `laws.epoch-grid-4500.time (peer: ${label})`,
    ours: ours.seconds,
    peer: peer?.seconds ?? null,
    ratio: peer ? ours.seconds / peer.seconds : null,
    unit: 's',
    machine: where,
  });
  lines.push({
    bench: `laws.epoch-grid-4500.objective (peer: ${label})`,
    ours: ours.objective,
    peer: peer?.objective ?? null,
    ratio: peer ? ours.objective / peer.objective : null,
    unit: 'sum of Huber(1e-3) on log-loss',
    machine: where,
  });
}
writeFileAtomic(
  'bench/results/laws.json',
  `${JSON.stringify({ machine: where, ours, peers, figures: lines }, null, 2)}\n`,
);
for (const line of lines) console.log(JSON.stringify(line));
