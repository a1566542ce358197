// Packed GEMV on the GPU (native/cuda/onebit.cu), sign1 and ternary2, at 4096x4096 and 8192x8192, side by side:
//   bandwidth: bytes the GEMV reads and writes per second, against a device-to-device memcpy of the packed
//              matrix's bytes (read + write counted) and of 1 GiB (past the L2: HBM);
//   time:      against the bf16 GEMV of the same shape through the addon's matmul (cuBLASLt, m = 1; the
//              weight's bf16 copy is cached, so only the product is timed), whose own bandwidth (2 bytes per
//              weight) is printed too;
//   kernels:   the default (tensor-core) kernel against the simple one (BITSCALE_ONEBIT_KERNEL=simple), at
//              batch 1 and batch 8.
// Each figure is the median over REPEATS of the mean of LAUNCHES back-to-back launches (one sync at the end), so
// a kernel of a few µs is timed by its throughput, not by one launch's latency.
// Needs the CUDA addon and a GPU (the lead runs it on an H100). Writes bench/results/onebit-gemv-cuda.json
// and prints one JSON line per figure.
import { createCudaBackend } from '../src/backends/cuda/cuda-backend.ts';
import { writeJsonAtomic } from '../src/base/atomic-write.ts';
import { cudaPackedGemm, hasCudaPackedKernels, uploadPackedLayer } from '../src/onebit/cuda-gemv.ts';
import { type PackedFormat, packSigns, packTernary, rowBytes } from '../src/onebit/packed.ts';
import { figure } from './machine.ts';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 11);
const LAUNCHES = Number(process.env.BENCH_LAUNCHES ?? 50);
const cuda = createCudaBackend();
const addon = cuda.addon;
if (!hasCudaPackedKernels(cuda) || !addon.copyDevice)
  throw new Error('the CUDA addon lacks packedGemm/copyDevice: rebuild it (bash native/cuda/build.sh)');
const copyDevice = addon.copyDevice.bind(addon);
const info = cuda.device();
const machine = `${info.name}`;

/** fn with the simple kernel chosen (native/cuda/onebit.cu reads the variable at each call). */
function simple(fn: () => void): () => void {
  return () => {
    process.env.BITSCALE_ONEBIT_KERNEL = 'simple';
    try {
      fn();
    } finally {
      delete process.env.BITSCALE_ONEBIT_KERNEL;
    }
  };
}

/** Median seconds per launch of each fn, runs interleaved. */
function time(fns: (() => void)[]): number[] {
  const runs = fns.map(() => [] as number[]);
  for (const fn of fns) fn();
  cuda.synchronize();
  for (let i = 0; i < REPEATS; i++)
    fns.forEach((fn, j) => {
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < LAUNCHES; k++) fn();
      cuda.synchronize();
      runs[j].push(Number(process.hrtime.bigint() - t0) / 1e9 / LAUNCHES);
    });
  return runs.map((r) => r.sort((a, b) => a - b)[Math.floor(r.length / 2)]);
}

function randomF32(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = s / 1073741824 - 1;
  }
  return out;
}

const store = (data: Float32Array) => {
  const s = cuda.alloc('f32', data.length);
  cuda.write(s, 'f32', data);
  return s;
};

const big = 2 ** 28; // 1 GiB of i32
const [bigSrc, bigDst] = [cuda.alloc('i32', big), cuda.alloc('i32', big)];
const [tBig] = time([() => copyDevice(bigSrc, bigDst, big)]);
const hbm = (2 * 4 * big) / tBig / 1e9;
cuda.free(bigSrc);
cuda.free(bigDst);

const results: Record<string, unknown>[] = [];
const lines: ReturnType<typeof figure>[] = [];
for (const format of ['sign1', 'ternary2'] as PackedFormat[])
  for (const n of [4096, 8192]) {
    const w = randomF32(n * n, n);
    const weight =
      format === 'sign1'
        ? packSigns(w, n, n)
        : packTernary(
            Array.from(w, (v) => (v > 0.5 ? 1 : v < -0.5 ? -1 : 0)),
            n,
            n,
          );
    const layer = uploadPackedLayer(cuda, { weight, g: randomF32(n, 2), h: randomF32(n, 3) });
    const [x, y, dw] = [store(randomF32(n, 4)), cuda.alloc('f32', n), store(w)];
    const [x8, y8] = [store(randomF32(8 * n, 5)), cuda.alloc('f32', 8 * n)];
    const codeBytes = n * rowBytes(n, format);
    const [src, dst] = [cuda.alloc('i32', codeBytes / 4), cuda.alloc('i32', codeBytes / 4)];
    const previous = cuda.setMatmulMode('bf16');
    const packed = () => cudaPackedGemm(cuda, layer, x, 1, y);
    const packed8 = () => cudaPackedGemm(cuda, layer, x8, 8, y8);
    const [tPacked, tCopy, tBf16, tSimple, tPacked8, tSimple8] = time([
      packed,
      () => copyDevice(src, dst, codeBytes / 4),
      () => addon.matmul(x, dw, y, 1, 1, n, n, false, true, 0, 0, 1, false),
      simple(packed),
      packed8,
      simple(packed8),
    ]);
    cuda.setMatmulMode(previous);
    const bytes = codeBytes + 4 * (4 * n);
    const gbs = (b: number, t: number) => b / t / 1e9;
    const memcpy = gbs(2 * codeBytes, tCopy);
    const shape = `${n}x${n}${format === 'ternary2' ? '-ternary' : ''}`;
    results.push({
      shape: `${n}x${n}`,
      format,
      packed_us: tPacked * 1e6,
      bf16_gemv_us: tBf16 * 1e6,
      memcpy_us: tCopy * 1e6,
      simple_us: tSimple * 1e6,
      packed_batch8_us: tPacked8 * 1e6,
      simple_batch8_us: tSimple8 * 1e6,
      packed_GBps: gbs(bytes, tPacked),
      memcpy_GBps: memcpy,
      memcpy_1GiB_GBps: hbm,
      bf16_GBps: gbs(2 * n * n, tBf16),
      packed_fraction_of_memcpy: gbs(bytes, tPacked) / memcpy,
      packed_fraction_of_hbm_memcpy: gbs(bytes, tPacked) / hbm,
      speedup_over_bf16: tBf16 / tPacked,
    });
    lines.push(figure(`onebit-gemv-cuda-${shape}-bandwidth`, gbs(bytes, tPacked), memcpy, 'GB/s'));
    lines.push(figure(`onebit-gemv-cuda-${shape}-time`, tPacked * 1e6, tBf16 * 1e6, 'us', false));
    lines.push(figure(`onebit-gemv-cuda-${shape}-bf16-bandwidth`, gbs(2 * n * n, tBf16), memcpy, 'GB/s'));
    lines.push(figure(`onebit-gemv-cuda-${shape}-vs-simple`, tPacked * 1e6, tSimple * 1e6, 'us', false));
    lines.push(
      figure(`onebit-gemv-cuda-${shape}-batch8-vs-simple`, tPacked8 * 1e6, tSimple8 * 1e6, 'us', false),
    );
    for (const s of [x, y, dw, x8, y8, src, dst, layer.codes, layer.g, layer.h]) cuda.free(s);
  }
for (const line of lines) line.machine = machine;

writeJsonAtomic('bench/results/onebit-gemv-cuda.json', {
  bench: 'onebit-gemv-cuda',
  description:
    'packed sign1/ternary2 GEMV (native/cuda/onebit.cu) vs device memcpy of the packed bytes (read + write counted) and cuBLASLt bf16 GEMV of the same shape; the default (tensor-core) kernel vs the simple one at batch 1 and 8; medians of the mean of back-to-back launches',
  machine,
  device: info,
  repeats: REPEATS,
  launches: LAUNCHES,
  date: new Date().toISOString(),
  results,
  memcpy_1GiB_GBps: hbm,
});
for (const line of lines) console.log(JSON.stringify(line));
