// The largest model that trains on one 80 GB card, bitscale against PyTorch eager: for a fixed width (d_model
// 2048, heads d/128, T 1024, V 32768), the most layers that complete two training steps (bf16 matmuls, fp32 master
// weights, AdamW) under a memory cap. An H200 has ~141 GB, so the 80 GB card is emulated on both sides: bitscale's
// caching allocator is capped (BITSCALE_CUDA_MEMORY_LIMIT / setMemoryLimit), PyTorch's with
// set_per_process_memory_fraction(cap / total) (bench/cuda_train_step_torch.py --memory-limit).
// Batch: 1 sequence of 1024 tokens a step (a larger batch comes through gradient accumulation at no memory cost,
// so the model's own state decides what fits; --batch changes it).
// Each trial is a fresh process (`largest-model.ts trial ...`, bench/largest-model-trial.ts; the python script),
// and the search (bench/largest-model-search.ts) measures the peak at two small layer counts, fits
// peak = a + b·L, predicts L_max and checks that L_max passes and L_max + 1 fails.
// Usage: tsx bench/largest-model.ts [--cap 80GB] [--d 2048] [--batch 1] [--context 1024] [--vocab 32768]
//          [--probes 1,4] [--max-trials 6] [--backend cuda|cpu] [--no-torch]
//        tsx bench/largest-model.ts trial --backend cuda|cpu --d D --layers L --heads H --context T --batch B
//          --vocab V --cap BYTES        (one trial; prints its JSON line)
// The cap: --cap, else $BITSCALE_CUDA_MEMORY_LIMIT, else 80GB (= 80e9 bytes). Writes
// bench/results/largest-model.json (or $BENCH_OUT); ends with one JSON line per figure.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MEMORY_LIMIT_ENV, parseByteSize } from '../src/backends/cuda/memory-limit.ts';
import { writeFileAtomic } from '../src/base/atomic-write.ts';
import { parameterCount, resolveModelConfig } from '../src/nn/config.ts';
import { findLargestModel, type SearchResult, type Trial, type TrialResult } from './largest-model-search.ts';
import { runTrial, type TrialSpec } from './largest-model-trial.ts';
import { type Figure, figure, machineDescription } from './machine.ts';
import { PEER_PYTHON, peerPythonProblem } from './peer-python.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

/** `--name value` from args, or the default. */
function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`--${name} needs a value`);
  return value;
}

function wholeOption(args: string[], name: string, fallback: number): number {
  const text = option(args, name, String(fallback));
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${text}: expected a whole number >= 1`);
  return n;
}

/** The settings of a search (or of one trial), read from the command line. */
export interface Settings {
  backend: 'cuda' | 'cpu';
  d: number;
  heads: number;
  context: number;
  batch: number;
  vocab: number;
  capBytes: number;
}

export function readSettings(args: string[], env: NodeJS.ProcessEnv = process.env): Settings {
  const backend = option(args, 'backend', 'cuda');
  if (backend !== 'cuda' && backend !== 'cpu') throw new Error(`--backend ${backend}: expected cuda or cpu`);
  const d = wholeOption(args, 'd', 2048);
  const capText = option(args, 'cap', env[MEMORY_LIMIT_ENV] || '80GB');
  return {
    backend,
    d,
    heads: wholeOption(args, 'heads', Math.max(1, Math.round(d / 128))),
    context: wholeOption(args, 'context', 1024),
    batch: wholeOption(args, 'batch', 1),
    vocab: wholeOption(args, 'vocab', 32768),
    capBytes: parseByteSize(capText, args.includes('--cap') ? '--cap' : MEMORY_LIMIT_ENV),
  };
}

/** Runs a command whose last stdout line is JSON (stderr passes through); rejects on a non-zero exit. */
function runJson(command: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{'))
        return reject(
          new Error(`${command} ${args.join(' ')} exited ${signal ?? code}: ${last || 'no output'}`),
        );
      resolve(JSON.parse(last));
    });
  });
}

/** bitscale trials: a fresh node per trial. */
export function bitscaleTrial(s: Settings): Trial {
  return async (layers) => {
    const args = ['--import', 'tsx', `${here}largest-model.ts`, 'trial', '--backend', s.backend];
    for (const [k, v] of Object.entries({
      d: s.d,
      layers,
      heads: s.heads,
      context: s.context,
      batch: s.batch,
      vocab: s.vocab,
      cap: s.capBytes,
    }))
      args.push(`--${k}`, String(v));
    return (await runJson(process.execPath, args)) as unknown as TrialResult;
  };
}

/** PyTorch eager trials: bench/cuda_train_step_torch.py with the cap, one warm-up step and one timed step. */
export function torchTrial(s: Settings, python: string): Trial {
  return async (layers) => {
    const r = await runJson(python, [
      `${here}cuda_train_step_torch.py`,
      ...[s.d, layers, s.heads, s.context, s.batch, s.vocab, 1, 0].map(String),
      'eager',
      '--memory-limit',
      String(s.capBytes),
      '--warmup',
      '1',
    ]);
    if (r.oom) return { ok: false, layers, oom: true, message: String(r.message) };
    // The cap is on the bytes torch reserves (allocated + what fragmentation strands), so the fit follows those.
    return {
      ok: true,
      layers,
      peakBytes: Number(r.max_memory_allocated),
      heldBytes: Number(r.max_memory_reserved),
      tokensPerSecond: Number(r.tokens_per_second),
    };
  };
}

const GB = (bytes: number) =>
  bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(bytes >= 1e7 ? 1 : 3)} MB`;

function progress(who: string) {
  let last = performance.now();
  return (r: TrialResult, note: string) => {
    const now = performance.now();
    const took = `${((now - last) / 1000).toFixed(1)} s`;
    last = now;
    console.error(
      r.ok
        ? `[${who}] L=${r.layers} (${note}): ok, peak ${GB(r.peakBytes)}${r.heldBytes ? ` (reserved ${GB(r.heldBytes)})` : ''}, ${r.tokensPerSecond.toFixed(0)} tokens/s (${took})`
        : `[${who}] L=${r.layers} (${note}): out of memory (${took})`,
    );
  };
}

/** What one side reached: layers, parameters, peak and tokens/s at L_max, and how the search went. */
function summary(s: Settings, r: SearchResult) {
  const params = parameterCount(
    resolveModelConfig({
      vocabSize: s.vocab,
      dModel: s.d,
      nLayers: Math.max(1, r.layers),
      nHeads: s.heads,
      context: s.context,
    }),
  );
  return {
    layers: r.layers,
    exact: r.exact,
    failedAt: r.failedAt,
    parameters: r.layers > 0 ? params : null,
    peakBytes: r.best?.peakBytes ?? null,
    heldBytes: r.best?.heldBytes ?? null,
    tokensPerSecond: r.best?.tokensPerSecond ?? null,
    fit: r.fit && { bytesFixed: r.fit.a, bytesPerLayer: r.fit.b, predictedLayers: r.fit.predicted },
    trials: r.trials.length,
    problem: r.problem,
  };
}

function driverAndGpu(): string {
  const r = spawnSync(
    'nvidia-smi',
    ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'],
    {
      encoding: 'utf8',
    },
  );
  const line = r.status === 0 ? r.stdout.trim().split('\n')[0] : null; // one line per GPU; the first runs the trials
  if (!line) return 'GPU unknown (nvidia-smi failed)';
  const [name, driver, memory] = line.split(',').map((x) => x.trim());
  return `${name} (${memory}, driver ${driver})`;
}

async function search(args: string[]) {
  const s = readSettings(args);
  const probes = option(args, 'probes', '1,4').split(',').map(Number) as [number, number];
  const maxTrials = wholeOption(args, 'max-trials', 6);
  const withTorch = s.backend === 'cuda' && !args.includes('--no-torch');
  let python = '';
  if (withTorch) {
    const problem = peerPythonProblem(['torch'], PEER_PYTHON, 'torch.cuda.is_available()');
    if (problem) {
      console.error(`benchmark peer unavailable: ${problem} (or pass --no-torch)`);
      process.exit(1);
    }
    python = PEER_PYTHON;
  }
  const shape = `d${s.d} H${s.heads} T${s.context} B${s.batch} V${s.vocab}`;
  const cap = `${GB(s.capBytes)} cap`;
  console.error(`largest model ${shape} under ${cap} (${s.backend}), probes L=${probes.join(', ')}`);
  const options = { capBytes: s.capBytes, probes, maxTrials };
  const ours = await findLargestModel(bitscaleTrial(s), { ...options, onTrial: progress('bitscale') });
  const peer = withTorch
    ? await findLargestModel(torchTrial(s, python), { ...options, onTrial: progress('torch eager') })
    : null;

  const machine =
    s.backend === 'cuda' ? `${driverAndGpu()}; host ${machineDescription()}` : machineDescription();
  const bitscale = summary(s, ours);
  const torch = peer && summary(s, peer);
  for (const [who, r] of [
    ['bitscale', bitscale],
    ['torch eager', torch],
  ] as const) {
    if (!r) continue;
    console.error(
      `${who}: L_max ${r.layers}${r.exact ? '' : ' (not bracketed)'}, N ${r.parameters?.nonEmbedding ?? 0} (total ${r.parameters?.total ?? 0}), ` +
        `peak ${r.peakBytes === null ? '-' : GB(r.peakBytes)}, ${r.tokensPerSecond?.toFixed(0) ?? '-'} tokens/s, ${r.trials} trials` +
        (r.problem ? `; ${r.problem}` : ''),
    );
  }
  const ratio =
    torch?.parameters && bitscale.parameters ? bitscale.parameters.total / torch.parameters.total : null;
  if (ratio !== null) console.error(`parameters bitscale / torch eager: ${ratio.toFixed(3)}`);

  const name = `largest model ${shape} under ${cap}`;
  const figures: Figure[] = [
    figure(`${name}: layers vs torch eager`, bitscale.layers, torch?.layers ?? null, 'layers'),
    figure(
      `${name}: non-embedding parameters N vs torch eager`,
      bitscale.parameters?.nonEmbedding ?? 0,
      torch ? (torch.parameters?.nonEmbedding ?? 0) : null,
      'parameters',
    ),
    figure(
      `${name}: total parameters vs torch eager`,
      bitscale.parameters?.total ?? 0,
      torch ? (torch.parameters?.total ?? 0) : null,
      'parameters',
    ),
    figure(
      `${name}: peak memory in use at L_max vs torch eager`,
      bitscale.peakBytes ?? 0,
      torch?.peakBytes ?? null,
      'bytes',
      false,
    ),
    figure(
      `${name}: training tokens/s at L_max vs torch eager (each at its own L_max)`,
      bitscale.tokensPerSecond ?? 0,
      torch?.tokensPerSecond ?? null,
      'tokens/s',
    ),
  ];
  for (const f of figures) f.machine = machine;
  const out = process.env.BENCH_OUT ?? 'bench/results/largest-model.json';
  const settings = {
    ...s,
    probes,
    maxTrials,
    dtype: 'bf16 matmuls, fp32 master weights and activations, AdamW',
    steps: 2,
  };
  writeFileAtomic(
    out,
    `${JSON.stringify({ machine, date: new Date().toISOString(), settings, bitscale, torchEager: torch, parametersRatio: ratio, trials: { bitscale: ours.trials, torchEager: peer?.trials ?? null }, figures }, null, 2)}\n`,
  );
  for (const f of figures) console.log(JSON.stringify(f));
  if (ours.layers === 0 || (peer && peer.layers === 0)) process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === 'trial') {
    if (!args.includes('--layers')) throw new Error('largest-model trial: --layers is required');
    const spec: TrialSpec = { ...readSettings(args), layers: wholeOption(args, 'layers', 1) };
    console.log(JSON.stringify(runTrial(spec)));
  } else {
    await search(args);
  }
}
