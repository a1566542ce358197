// Loading a Hugging Face checkpoint: bitscale's loader (src/hf/load.ts) against transformers' from_pretrained,
// on the same machine and the same files. The bench writes a Llama-3.2-1B-shaped checkpoint (16 layers,
// d 2048, 32 query / 8 key-value heads, SwiGLU 8192, vocabulary 128,256, tied head, llama3 rope scaling;
// 1.24 B parameters) with random bf16 weights, as one model.safetensors, to a temporary folder; then loads it
// in a fresh process with each loader, into fp32 CPU memory, and reports wall time and peak resident memory.
// The peer is bench/hf_load_transformers.py on $PYTHON (default /usr/bin/python3; it needs torch and
// transformers — on the GPU machine). Prints one JSON line per figure {bench, ours, peer, ratio, unit, machine}
// (ratio = peer / ours: above 1 means bitscale is faster / smaller).
// Usage: node --import tsx bench/hf-load.ts [--small] [--keep <dir>] [--backend cpu|js]
//   --small: a 4-layer d-256 model (seconds, for trying the bench itself)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f32ToBf16Bits } from '../src/base/half.ts';
import { llama } from '../src/hf/llama.ts';
import { readHfConfig } from '../src/hf/load.ts';
import { type SafeTensor, writeSafetensors } from '../src/io/safetensors.ts';
import { figure } from './machine.ts';
import { peerPythonProblem } from './peer-python.ts';

const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);

if (args[0] === '--child') {
  // A fresh process: its peak RSS is the loader's alone.
  const { loadHfModel } = await import('../src/hf/load.ts');
  const start = performance.now();
  const model = loadHfModel(args[1], { backend: args[2] });
  const seconds = (performance.now() - start) / 1000;
  let parameters = 0;
  for (const p of model.params.values()) parameters += p.size;
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ seconds, peak_rss_bytes: peak, parameters }));
  process.exit(0);
}

const small = args.includes('--small');
const backend = flag('--backend') ?? 'cpu';
const config = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: small ? 4096 : 128256,
  hidden_size: small ? 256 : 2048,
  intermediate_size: small ? 1024 : 8192,
  num_hidden_layers: small ? 4 : 16,
  num_attention_heads: small ? 8 : 32,
  num_key_value_heads: small ? 2 : 8,
  head_dim: small ? 32 : 64,
  hidden_act: 'silu',
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: {
    rope_type: 'llama3',
    factor: 32,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
  },
  tie_word_embeddings: true,
  attention_bias: false,
  mlp_bias: false,
  pretraining_tp: 1,
  bos_token_id: 128000,
  eos_token_id: 128001,
  torch_dtype: 'bfloat16',
};

function writeCheckpoint(dir: string): number {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const model = readHfConfig(dir).config;
  const tensors = new Map<string, SafeTensor>();
  let seed = 12345;
  let parameters = 0;
  for (const m of llama.tensors(model, new Set())) {
    const n = m.shape.reduce((a, b) => a * b, 1);
    const data = new Uint16Array(n);
    if (m.hf.endsWith('norm.weight')) data.fill(f32ToBf16Bits(1));
    else {
      // xorshift32 uniform in ±0.02: random, cheap, and the same every run
      for (let i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        data[i] = f32ToBf16Bits(((seed >>> 0) / 2 ** 32 - 0.5) * 0.04);
      }
    }
    tensors.set(m.hf, { dtype: 'BF16', shape: m.shape, data });
    parameters += n;
  }
  // transformers refuses safetensors whose metadata lacks format=pt.
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return parameters;
}

function run(
  command: string,
  argv: string[],
): { seconds: number; peak_rss_bytes: number; parameters: number } | null {
  const r = spawnSync(command, argv, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    console.error(`${command} ${argv.join(' ')} failed:\n${r.stderr.slice(-2000)}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
}

const dir = flag('--keep') ?? join(mkdtempSync(join(tmpdir(), 'bitscale-hf-load-')), 'llama-1b');
try {
  const started = performance.now();
  const parameters = writeCheckpoint(dir);
  console.error(
    `wrote ${parameters.toLocaleString()} parameters to ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const ours = run(process.execPath, [
    '--import',
    'tsx',
    new URL(import.meta.url).pathname,
    '--child',
    dir,
    backend,
  ]);
  if (!ours) process.exit(1);
  if (ours.parameters !== parameters)
    throw new Error(`loaded ${ours.parameters} parameters, wrote ${parameters}`);
  const python = process.env.PYTHON || '/usr/bin/python3';
  const problem = peerPythonProblem(['torch', 'transformers'], python);
  if (problem) console.error(`peer unavailable: ${problem}`);
  const peer = problem
    ? null
    : run(python, [new URL('./hf_load_transformers.py', import.meta.url).pathname, dir]);
  const shape = small ? 'small llama' : 'Llama-3.2-1B-shaped';
  const gib = (b: number) => b / 2 ** 30;
  const lines = [
    figure(
      `hf-load time, ${shape} bf16 safetensors -> fp32 (${backend})`,
      ours.seconds,
      peer?.seconds ?? null,
      's',
      false,
    ),
    figure(
      `hf-load peak RSS, ${shape} bf16 safetensors -> fp32 (${backend})`,
      gib(ours.peak_rss_bytes),
      peer ? gib(peer.peak_rss_bytes) : null,
      'GiB',
      false,
    ),
  ];
  for (const line of lines) console.log(JSON.stringify(line));
} finally {
  if (!flag('--keep')) rmSync(join(dir, '..'), { recursive: true, force: true });
}
