// Packed GEMV on the GPU (native/cuda/onebit.cu), sign1 and ternary2, at 4096x4096, 8192x8192 and 16384x16384
// (BENCH_SIZES=4096,8192 for fewer), side by side:
//   bandwidth, hot:  bytes the GEMV reads and writes per second, the same codes every launch (they stay in the
//                    L2), against a device-to-device memcpy of the packed matrix's bytes (read + write counted);
//   bandwidth, cold: the GEMV over a pool of copies of the matrix larger than the L2, one after another, so each
//                    launch reads its codes from HBM as decoding a model larger than the L2 does, against a
//                    memcpy of 1 GiB (HBM, read + write counted);
//   ceiling:         against a kernel that only reads the same codes (readDevice: 16-byte loads on every SM,
//                    nothing computed), hot and cold: what any kernel that must read these bytes takes here;
//   time:            against the bf16 GEMV of the same shape through the addon's matmul (cuBLASLt, m = 1; the
//                    weight's bf16 copy is cached, so only the product is timed), whose own bandwidth (2 bytes per
//                    weight) is printed too;
//   kernels:         the default (tensor-core) kernel against the simple one (BITSCALE_ONEBIT_KERNEL=simple), at
//                    batch 1 and batch 8.
// Timing is on the device: a burst of LAUNCHES launches queued behind a kernel that holds the GPU (timerStart), so
// they run back to back and the events measure the GPU's time per launch, kernel gaps included, not the host's cost
// of a launch (about 7 µs through N-API, more than these kernels take). Each figure is the median over REPEATS
// bursts, kernels interleaved.
// Needs the CUDA addon and a GPU. Writes bench/results/onebit-gemv-cuda.json and prints one JSON line per figure.
import { createCudaBackend } from '../src/backends/cuda/cuda-backend.ts';
import { writeJsonAtomic } from '../src/base/atomic-write.ts';
import { cudaPackedGemm, hasCudaPackedKernels, uploadPackedLayer } from '../src/onebit/cuda-gemv.ts';
import { type PackedFormat, packSigns, packTernary, rowBytes } from '../src/onebit/packed.ts';
import { figure } from './machine.ts';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 11);
const LAUNCHES = Number(process.env.BENCH_LAUNCHES ?? 100);
const HOLD_US = 20 * LAUNCHES + 2000; // well past the host's time to queue a burst
const SIZES = (process.env.BENCH_SIZES ?? '4096,8192,16384').split(',').map(Number);
const POOL_BYTES = 512 * 2 ** 20; // cold: copies of the matrix past the H200's 50 MB L2 many times over
const cuda = createCudaBackend();
const addon = cuda.addon;
const { copyDevice, readDevice, timerStart, timerStop } = addon;
if (!hasCudaPackedKernels(cuda) || !copyDevice || !readDevice || !timerStart || !timerStop)
  throw new Error(
    'the CUDA addon lacks packedGemm/copyDevice/readDevice/timerStart: rebuild it (bash native/cuda/build.sh)',
  );
const info = cuda.device();
const machine = `${info.name}`;

/** fn with the simple kernel chosen (native/cuda/onebit.cu reads the variable at each call). */
function simple(fn: (i: number) => void): (i: number) => void {
  return (i) => {
    process.env.BITSCALE_ONEBIT_KERNEL = 'simple';
    try {
      fn(i);
    } finally {
      delete process.env.BITSCALE_ONEBIT_KERNEL;
    }
  };
}

/** Median device seconds per launch of each fn (called with the launch's index), bursts interleaved. */
function time(fns: ((i: number) => void)[]): number[] {
  const runs = fns.map(() => [] as number[]);
  for (const fn of fns) fn(0);
  cuda.synchronize();
  for (let r = 0; r < REPEATS; r++)
    fns.forEach((fn, j) => {
      timerStart?.call(addon, HOLD_US);
      for (let i = 0; i < LAUNCHES; i++) fn(i);
      runs[j].push((timerStop?.call(addon) ?? 0) / 1e3 / LAUNCHES);
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
type Storage = ReturnType<typeof cuda.alloc>;
const copy = (src: Storage, dst: Storage, n: number) => copyDevice.call(addon, src, dst, n);
const sink = cuda.alloc('i32', 4 * info.multiprocessors);
const read = (src: Storage, n: number) => readDevice.call(addon, src, sink, n);

const big = 2 ** 28; // 1 GiB of i32
const [bigSrc, bigDst] = [cuda.alloc('i32', big), cuda.alloc('i32', big)];
const [tBig] = time([() => copy(bigSrc, bigDst, big)]);
const hbm = (2 * 4 * big) / tBig / 1e9;
cuda.free(bigSrc);
cuda.free(bigDst);

const results: Record<string, unknown>[] = [];
const lines: ReturnType<typeof figure>[] = [];
for (const format of ['sign1', 'ternary2'] as PackedFormat[])
  for (const n of SIZES) {
    const w = randomF32(n * n, n);
    const weight =
      format === 'sign1'
        ? packSigns(w, n, n)
        : packTernary(
            w.map((v) => (v > 0.5 ? 1 : v < -0.5 ? -1 : 0)), // typed: 16384² is past a JS array's length
            n,
            n,
          );
    const codeBytes = n * rowBytes(n, format);
    const poolSize = Math.ceil(POOL_BYTES / codeBytes);
    const layers = Array.from({ length: poolSize }, () =>
      uploadPackedLayer(cuda, { weight, g: randomF32(n, 2), h: randomF32(n, 3) }),
    );
    const layer = layers[0];
    const [x, y, dw] = [store(randomF32(n, 4)), cuda.alloc('f32', n), store(w)];
    const [x8, y8] = [store(randomF32(8 * n, 5)), cuda.alloc('f32', 8 * n)];
    const [src, dst] = [cuda.alloc('i32', codeBytes / 4), cuda.alloc('i32', codeBytes / 4)];
    const previous = cuda.setMatmulMode('bf16');
    const packed = () => cudaPackedGemm(cuda, layer, x, 1, y);
    const packedCold = (i: number) => cudaPackedGemm(cuda, layers[i % poolSize], x, 1, y);
    const packed8 = () => cudaPackedGemm(cuda, layer, x8, 8, y8);
    const [tPacked, tCold, tCopy, tRead, tReadCold, tBf16, tSimple, tPacked8, tSimple8] = time([
      packed,
      packedCold,
      () => copy(src, dst, codeBytes / 4),
      () => read(layer.codes, codeBytes / 4),
      (i) => read(layers[i % poolSize].codes, codeBytes / 4),
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
      packed_cold_us: tCold * 1e6,
      bf16_gemv_us: tBf16 * 1e6,
      memcpy_us: tCopy * 1e6,
      read_us: tRead * 1e6,
      read_cold_us: tReadCold * 1e6,
      simple_us: tSimple * 1e6,
      packed_batch8_us: tPacked8 * 1e6,
      simple_batch8_us: tSimple8 * 1e6,
      cold_pool: poolSize,
      packed_GBps: gbs(bytes, tPacked),
      packed_cold_GBps: gbs(bytes, tCold),
      memcpy_GBps: memcpy,
      memcpy_1GiB_GBps: hbm,
      bf16_GBps: gbs(2 * n * n, tBf16),
      packed_fraction_of_memcpy: gbs(bytes, tPacked) / memcpy,
      packed_cold_fraction_of_hbm_memcpy: gbs(bytes, tCold) / hbm,
      read_fraction_of_memcpy: gbs(codeBytes, tRead) / memcpy,
      read_cold_fraction_of_hbm_memcpy: gbs(codeBytes, tReadCold) / hbm,
      packed_time_over_read: tPacked / tRead,
      packed_cold_time_over_read: tCold / tReadCold,
      speedup_over_bf16: tBf16 / tPacked,
    });
    lines.push(figure(`onebit-gemv-cuda-${shape}-bandwidth`, gbs(bytes, tPacked), memcpy, 'GB/s'));
    lines.push(figure(`onebit-gemv-cuda-${shape}-cold-bandwidth`, gbs(bytes, tCold), hbm, 'GB/s'));
    lines.push(figure(`onebit-gemv-cuda-${shape}-vs-read`, tPacked * 1e6, tRead * 1e6, 'us', false));
    lines.push(figure(`onebit-gemv-cuda-${shape}-cold-vs-read`, tCold * 1e6, tReadCold * 1e6, 'us', false));
    lines.push(figure(`onebit-gemv-cuda-${shape}-read-bandwidth`, gbs(codeBytes, tRead), memcpy, 'GB/s'));
    lines.push(figure(`onebit-gemv-cuda-${shape}-time`, tPacked * 1e6, tBf16 * 1e6, 'us', false));
    lines.push(figure(`onebit-gemv-cuda-${shape}-bf16-bandwidth`, gbs(2 * n * n, tBf16), memcpy, 'GB/s'));
    lines.push(figure(`onebit-gemv-cuda-${shape}-vs-simple`, tPacked * 1e6, tSimple * 1e6, 'us', false));
    lines.push(
      figure(`onebit-gemv-cuda-${shape}-batch8-vs-simple`, tPacked8 * 1e6, tSimple8 * 1e6, 'us', false),
    );
    for (const s of [x, y, dw, x8, y8, src, dst]) cuda.free(s);
    for (const l of layers) for (const s of [l.codes, l.g, l.h]) cuda.free(s);
  }
cuda.free(sink);
for (const line of lines) line.machine = machine;

writeJsonAtomic('bench/results/onebit-gemv-cuda.json', {
  bench: 'onebit-gemv-cuda',
  description:
    'packed sign1/ternary2 GEMV (native/cuda/onebit.cu), device-timed bursts: hot (same codes, L2) vs device memcpy of the packed bytes (read + write counted); cold (a pool of copies past the L2, read from HBM) vs a 1 GiB memcpy; vs a read-only kernel over the same codes (hot and cold); vs cuBLASLt bf16 GEMV of the same shape; the default (tensor-core) kernel vs the simple one at batch 1 and 8; medians of bursts',
  machine,
  device: info,
  repeats: REPEATS,
  launches: LAUNCHES,
  date: new Date().toISOString(),
  results,
  memcpy_1GiB_GBps: hbm,
});
for (const line of lines) console.log(JSON.stringify(line));
