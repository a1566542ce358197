// Measured rates for the hardware cost model (cost.ts): from a training-step benchmark's results
// (bench/cuda-train-step.ts), a format's throughput relative to bf16 is the bf16 step's time over the step's time
// in that format, taken from the rows that computed the format natively. A fake-quantized row is an emulation: its
// time says what the emulation costs, not what the format's tensor cores do, so it gives no rate. With these, the
// precision an answer picks is priced by the steps this code measured on that machine, not a data sheet's peaks.
import { FORMAT_BITS } from './cost.ts';
import { LawsOptionError } from './errors.ts';

export interface MeasuredThroughput {
  /** Per format, relative to bf16 (bf16 = 1). */
  throughput: Record<string, number>;
  shape: string;
  machine: string | null;
}

interface Row {
  shape: string;
  format: string;
  native: boolean;
  ms: number;
}

const OPTION = '--throughput-from';

/** A row's linear-layer format and path: its `compute` field, or, in results written before it, its mode label. */
function rowOf(raw: unknown): Row | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as {
    shape?: unknown;
    mode?: unknown;
    compute?: { format?: unknown; path?: unknown };
    bitscale?: { msPerStep?: unknown };
  };
  const ms = r.bitscale?.msPerStep;
  if (typeof r.shape !== 'string' || typeof ms !== 'number' || !(ms > 0 && Number.isFinite(ms))) return null;
  if (r.compute && typeof r.compute.format === 'string')
    return { shape: r.shape, format: r.compute.format, native: r.compute.path === 'native', ms };
  if (r.mode === 'bf16') return { shape: r.shape, format: 'bf16', native: true, ms };
  if (typeof r.mode === 'string' && /^fp8 .*native$/.test(r.mode))
    return { shape: r.shape, format: 'fp8', native: true, ms };
  return null;
}

/**
 * Each natively computed format's throughput relative to bf16 at one shape of a step benchmark's results
 * (`text`, the JSON that bench/cuda-train-step.ts writes; `source` names it in errors). `shape` picks the shape
 * where the results hold several.
 */
export function throughputFromStepBench(text: string, source: string, shape?: string): MeasuredThroughput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new LawsOptionError(
      OPTION,
      source,
      `a JSON file of training-step results (${(e as Error).message})`,
    );
  }
  const p = parsed as { rows?: unknown; machine?: unknown };
  const rows = Array.isArray(p?.rows) ? p.rows.map(rowOf).filter((r): r is Row => r !== null) : [];
  if (rows.length === 0)
    throw new LawsOptionError(
      OPTION,
      source,
      'results of bench/cuda-train-step.ts: rows with a shape and bitscale.msPerStep',
    );
  const shapes = [...new Set(rows.map((r) => r.shape))];
  if (shape !== undefined && !shapes.includes(shape))
    throw new LawsOptionError('--throughput-shape', shape, `a shape of ${source}: ${shapes.join(', ')}`);
  if (shape === undefined && shapes.length > 1)
    throw new LawsOptionError(
      '--throughput-shape',
      undefined,
      `one of the shapes ${source} holds: ${shapes.join(', ')}`,
    );
  const at = shape ?? shapes[0];
  const native = rows.filter((r) => r.shape === at && r.native);
  const bf16 = native.find((r) => r.format === 'bf16');
  if (!bf16)
    throw new LawsOptionError(OPTION, source, `a bf16 row at ${at}, the reference the rates are relative to`);
  const throughput: Record<string, number> = { bf16: 1 };
  for (const r of native) {
    if (r.format === 'bf16') continue;
    if (!(r.format in FORMAT_BITS))
      throw new LawsOptionError(
        `${OPTION} format`,
        r.format,
        `a format of ${Object.keys(FORMAT_BITS).join(', ')}`,
      );
    throughput[r.format] = bf16.ms / r.ms;
  }
  if (Object.keys(throughput).length === 1)
    throw new LawsOptionError(
      OPTION,
      source,
      `a format computed natively besides bf16 at ${at} (fake-quantized rows are emulations and give no rate)`,
    );
  return { throughput, shape: at, machine: typeof p.machine === 'string' ? p.machine : null };
}
