// Decode speed of a packed OneBit model against the full-precision model of the same shape, same engine
// (src/onebit/decode.ts: the same decoder, the same KV cache, only the linear layers differ), and the size on
// disk of the packed file against the model in fp16.
//   CPU:  packed layers by the int8 table-lookup kernel (the default) and by the exact fp32 kernel, vs the
//         fp32 model's linears by OpenBLAS sgemv;
//   CUDA (when the addon and a GPU are here), two decoders, each packed (native/cuda/onebit.cu) vs the same
//         model's linears in bf16 (cuBLASLt):
//         host:     decode.ts with only its linears on the GPU (each linear uploads x and reads y back);
//         resident: device-decode.ts, the whole step on the GPU (KV cache, attention, norms, head), only the
//                   greedy token id read back per token.
// Weights are random (speed does not depend on their values): signs, g and h drawn directly; the
// full-precision peer is the same model unpacked, W = diag(h) S diag(g). Tokens/s: greedy decoding of TOKENS
// tokens after an 8-token prompt, the median of REPEATS runs.
// Writes bench/results/onebit-decode.json and prints one JSON line per figure.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCpuBackend } from '../src/backends/cpu/cpu-backend.ts';
import { loadCudaAddon } from '../src/backends/cuda/load-addon.ts';
import { writeJsonAtomic } from '../src/base/atomic-write.ts';
import { f32ToF16Bits } from '../src/base/half.ts';
import { type SafeTensor, writeSafetensors } from '../src/io/safetensors.ts';
import { parameterCount, resolveModelConfig } from '../src/nn/config.ts';
import { isLinearWeight, parameterShapes } from '../src/nn/transformer.ts';
import { Decoder, denseDecoderWeights, packedDecoderWeights } from '../src/onebit/decode.ts';
import { packSigns, unpackMatrix } from '../src/onebit/packed.ts';
import { type PackedModel, packedModelBits, writePackedModel } from '../src/onebit/packed-file.ts';
import { figure, machineDescription } from './machine.ts';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 16);
const config = resolveModelConfig({
  vocabSize: Number(process.env.BENCH_VOCAB ?? 8192),
  dModel: Number(process.env.BENCH_DMODEL ?? 1024),
  nLayers: Number(process.env.BENCH_LAYERS ?? 6),
  nHeads: 16,
  context: 128,
});
const cpu = createCpuBackend();

function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const s = cpu.alloc('f32', n) as Float32Array;
  cpu.random(s, n, 'normal', seed, 0);
  if (scale !== 1) for (let i = 0; i < n; i++) s[i] *= scale;
  return s;
}

// The packed model (random signs, positive g and h of a sensible size) and its unpacked fp32 twin.
const packed: PackedModel = { linears: new Map(), dense: new Map() };
const dense = new Map<string, Float32Array>();
parameterShapes(config).forEach(([name, shape], i) => {
  const n = shape.reduce((a, b) => a * b, 1);
  if (isLinearWeight(name)) {
    const [rows, cols] = shape;
    const weight = packSigns(randomF32(n, i), rows, cols);
    const g = randomF32(cols, 1000 + i).map((v) => 0.5 + 0.1 * Math.abs(v));
    const h = randomF32(rows, 2000 + i).map((v) => (0.04 + 0.01 * Math.abs(v)) / Math.sqrt(cols));
    packed.linears.set(name, { weight, g, h });
    const w = unpackMatrix(weight);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w[r * cols + c] *= h[r] * g[c];
    dense.set(name, w);
  } else {
    const data = name.endsWith('norm.weight') ? new Float32Array(n).fill(1) : randomF32(n, i, 0.02);
    dense.set(name, data);
    packed.dense.set(name, { dtype: 'F16', shape, data: Uint16Array.from(data, f32ToF16Bits) });
  }
});

// Size on disk: the packed file (g, h, embeddings, norms in fp16) against every tensor in fp16.
const dir = mkdtempSync(join(tmpdir(), 'onebit-decode-'));
writePackedModel(join(dir, 'packed.safetensors'), packed);
const f16 = new Map<string, SafeTensor>();
for (const [name, shape] of parameterShapes(config))
  f16.set(name, { dtype: 'F16', shape, data: Uint16Array.from(dense.get(name)!, f32ToF16Bits) });
writeSafetensors(join(dir, 'fp16.safetensors'), f16);
const size = (file: string) => statSync(join(dir, file)).size;
const [packedBytes, fp16Bytes] = [size('packed.safetensors'), size('fp16.safetensors')];
rmSync(dir, { recursive: true });

const prompt = [1, 2, 3, 4, 5, 6, 7, 8];

/** A decoder as the bench drives it: the greedy next token after appending tokens. */
interface Greedy {
  reset(): void;
  forward(tokens: number[]): ArrayLike<number>;
  /** Where the decoder finds the argmax itself (device-decode.ts: on the GPU, one number read back). */
  forwardArgmax?(tokens: number[]): number;
}

function nextToken(decoder: Greedy, tokens: number[]): number {
  if (decoder.forwardArgmax) return decoder.forwardArgmax(tokens);
  const logits = decoder.forward(tokens);
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  return best;
}

/** Median tokens/s of greedy decoding after the prompt (the prompt's prefill not counted). */
function tokensPerSecond(decoder: Greedy): number {
  const runs: number[] = [];
  for (let r = 0; r <= REPEATS; r++) {
    decoder.reset();
    let next = nextToken(decoder, prompt);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < TOKENS; i++) next = nextToken(decoder, [next]);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r > 0) runs.push(TOKENS / s); // the first run warms up (and builds the LUT kernel's tiled codes)
  }
  return runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)];
}

const machine = machineDescription();
const load = loadavg()[0];
const lines: ReturnType<typeof figure>[] = [];
const fp32 = tokensPerSecond(new Decoder(denseDecoderWeights(config, dense)));
const lut = tokensPerSecond(new Decoder(packedDecoderWeights(config, packed, 'lut')));
const exact = tokensPerSecond(new Decoder(packedDecoderWeights(config, packed, 'exact')));
lines.push(figure('onebit-decode-cpu-lut-tokens-per-s', lut, fp32, 'tokens/s'));
lines.push(figure('onebit-decode-cpu-exact-tokens-per-s', exact, fp32, 'tokens/s'));
lines.push(figure('onebit-model-size-on-disk', packedBytes, fp16Bytes, 'bytes', false));

let cudaResult: Record<string, unknown> | string = 'not run: no CUDA addon here';
const loaded = loadCudaAddon();
if (!('error' in loaded)) {
  const { createCudaBackend } = await import('../src/backends/cuda/cuda-backend.ts');
  const { cudaLinears, hasCudaPackedKernels } = await import('../src/onebit/cuda-gemv.ts');
  const { denseDeviceDecoder, packedDeviceDecoder } = await import('../src/onebit/device-decode.ts');
  const cuda = createCudaBackend();
  if (hasCudaPackedKernels(cuda)) {
    cuda.setMatmulMode('bf16');
    const bf16 = tokensPerSecond(new Decoder(denseDecoderWeights(config, dense, cudaLinears(cuda))));
    const onGpu = tokensPerSecond(new Decoder(packedDecoderWeights(config, packed, cudaLinears(cuda))));
    const device = cuda.device().name;
    lines.push({ ...figure('onebit-decode-cuda-tokens-per-s', onGpu, bf16, 'tokens/s'), machine: device });
    const resident = (decoder: ReturnType<typeof packedDeviceDecoder>) => {
      const tps = tokensPerSecond(decoder);
      decoder.dispose();
      cuda.trimCache();
      return tps;
    };
    const residentBf16 = resident(denseDeviceDecoder(config, dense, cuda));
    const residentPacked = resident(packedDeviceDecoder(config, packed, cuda));
    lines.push({
      ...figure('onebit-decode-cuda-resident-tokens-per-s', residentPacked, residentBf16, 'tokens/s'),
      machine: device,
    });
    // What keeping the step on the GPU buys the packed model: against its host decoder with GPU linears.
    lines.push({
      ...figure('onebit-decode-cuda-resident-vs-host-tokens-per-s', residentPacked, onGpu, 'tokens/s'),
      machine: device,
    });
    cudaResult = {
      device: cuda.device(),
      packed_tokens_per_s: onGpu,
      bf16_tokens_per_s: bf16,
      resident: { packed_tokens_per_s: residentPacked, bf16_tokens_per_s: residentBf16 },
    };
  } else cudaResult = 'not run: the CUDA addon lacks packedGemm';
}

const counts = parameterCount(config);
writeJsonAtomic('bench/results/onebit-decode.json', {
  bench: 'onebit-decode',
  description:
    'greedy decode tokens/s of a packed OneBit model (LUT and exact kernels) vs its full-precision twin (fp32, OpenBLAS) through the same decoder and KV cache; on CUDA packed vs bf16 linears, on the host decoder (linears on the GPU) and on the GPU-resident decoder (cuda.resident: the whole step on the GPU); size on disk of the packed file vs fp16',
  machine,
  threads: cpu.threads(),
  loadAverage1m: { before: load, after: loadavg()[0] },
  config,
  parameters: counts,
  tokens: TOKENS,
  prompt: prompt.length,
  repeats: REPEATS,
  date: new Date().toISOString(),
  cpu: { fp32_tokens_per_s: fp32, packed_lut_tokens_per_s: lut, packed_exact_tokens_per_s: exact },
  cuda: cudaResult,
  size: {
    packed_bytes: packedBytes,
    fp16_bytes: fp16Bytes,
    packed_bits_per_parameter: packedModelBits(packed).bitsPerParameter,
  },
});
for (const line of lines) console.log(JSON.stringify(line));
