// Benchmark: time per form, ours next to SciPy's L-BFGS-B on the same objective, data and starts:
//  - Epoch's full Chinchilla grid (4,500 starts, 240 points); peer bench/laws_scipy.py (Epoch's fit in SciPy);
//  - a 500-run precision grid (5 N x 5 D x 20 weight precisions, drawn from Kumar et al.'s law with noise):
//    the 'precision' form (peer bench/laws_precision_scipy.py, same 32 starts) and the per-format
//    'efficiency' form (no SciPy peer: ours only).
// Run: npm run bench:laws [-- --epoch]  (SciPy gets the exact gradient; --epoch also runs Epoch's way, with
// finite differences, ~150 s). Exits 1 with the reason when /usr/bin/python3 lacks scipy (the peer is not
// optional). Writes bench/results/laws.json; prints one JSON line per figure.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import { epochChinchillaDataset } from '../src/laws/epoch.ts';
import { fitLaw } from '../src/laws/fit.ts';
import type { Form } from '../src/laws/form.ts';
import { chinchillaForm } from '../src/laws/forms/chinchilla.ts';
import { efficiencyForm } from '../src/laws/forms/efficiency.ts';
import { kumarForm } from '../src/laws/forms/kumar.ts';
import { seededRng } from '../src/laws/rng.ts';
import { parseCsv } from '../src/laws/table.ts';
import { machineDescription } from './machine.ts';
import { peerPython } from './peer-python.ts';

const DATA = 'data/validation/chinchilla_epoch_svg_extracted.csv';
const PYTHON = peerPython(['scipy', 'numpy']); // exits 1, saying how to install them, when /usr/bin/python3 lacks them

interface PeerResult {
  seconds: number;
  starts: number;
  objective: number;
  params: Record<string, number>;
}

function runScipy(mode: 'exact' | 'epoch'): PeerResult | undefined {
  return runPeer(['bench/laws_scipy.py', DATA, mode], mode);
}

function runPeer(args: string[], mode: string): PeerResult | undefined {
  const r = spawnSync(PYTHON, args, { encoding: 'utf8' });
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

// The 500-run precision grid, written as CSV for the peer.
const gridForm = kumarForm('precision');
const truth = { A: 4299, B: 18060, E: 2.7648, alpha: 0.4965, beta: 0.4965, gamma_w: 2.6745 };
const grid = precisionGrid(gridForm, truth);
const csvPath = join(mkdtempSync(join(tmpdir(), 'bitscale-bench-laws-')), 'grid500.csv');
writeFileSync(
  csvPath,
  ['N,D,Pw,loss', ...Array.from(grid.loss, (l, i) => `${grid.N[i]},${grid.D[i]},${grid.Pw[i]},${l}`)].join(
    '\n',
  ),
);
const gridData = {
  n: grid.loss.length,
  columns: { N: grid.N, D: grid.D, Pw: grid.Pw },
  loss: grid.loss,
  rows: Array.from(grid.loss, (_, i) => i + 1),
};
const gridPeer = runPeer(['bench/laws_precision_scipy.py', csvPath], 'precision grid');
const forms: [string, Form, PeerResult | undefined][] = [
  ['precision', gridForm, gridPeer],
  ['efficiency', efficiencyForm([...new Set(grid.Pw)]), undefined],
];
const perForm: Record<string, unknown> = {};
for (const [name, form, peer] of forms) {
  const t0 = performance.now();
  const r = fitLaw(form, gridData);
  const seconds = (performance.now() - t0) / 1000;
  perForm[name] = { seconds, starts: r.starts.total, objective: r.objective, params: r.params, peer };
  lines.push({
    bench: `laws.grid-500.${name}.time (${r.starts.total} starts; peer: ${peer ? 'scipy L-BFGS-B, exact gradient, same starts' : 'none'})`,
    ours: seconds,
    peer: peer?.seconds ?? null,
    ratio: peer ? seconds / peer.seconds : null,
    unit: 's',
    machine: where,
  });
  if (peer) {
    lines.push({
      bench: `laws.grid-500.${name}.objective (peer: scipy L-BFGS-B, exact gradient)`,
      ours: r.objective,
      peer: peer.objective,
      ratio: r.objective / peer.objective,
      unit: 'sum of Huber(1e-3) on log-loss',
      machine: where,
    });
  }
}

writeFileAtomic(
  'bench/results/laws.json',
  `${JSON.stringify({ machine: where, ours, peers, grid500: perForm, figures: lines }, null, 2)}\n`,
);
for (const line of lines) console.log(JSON.stringify(line));

/** 5 N x 5 D x 20 weight precisions from the law at `truth`, log-normal noise sigma 0.005, seeded. */
function precisionGrid(form: Form, truth: Record<string, number>) {
  const rng = seededRng(15);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const Ns = [3e7, 6e7, 1.1e8, 2.2e8, 5e8];
  const Ds = [1.5e9, 4e9, 1e10, 2.6e10, 6e10];
  const Ps = Array.from({ length: 20 }, (_, i) => i + 2);
  const points = Ns.flatMap((N) => Ds.flatMap((D) => Ps.map((P) => [N, D, P])));
  const N = Float64Array.from(points, (p) => p[0]);
  const D = Float64Array.from(points, (p) => p[1]);
  const Pw = Float64Array.from(points, (p) => p[2]);
  const theta = Float64Array.from(form.params, (q) =>
    q.space === 'log' ? Math.log(truth[q.name]) : truth[q.name],
  );
  const logLoss = new Float64Array(points.length);
  form.bind([N, D, Pw], points.length).logPredict(theta, logLoss);
  return { N, D, Pw, loss: logLoss.map((l) => Math.exp(l + 0.005 * gauss())) };
}
