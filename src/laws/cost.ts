// What a budget buys: the cost models a precision decision is taken under. Each says, for a training
// precision (or a number format), how N and D trade against the budget, and which training-precision
// variables the choice sets. Stated in every answer, since P* means nothing without its cost model.
//  - compute:  C = 6 N D P / 16, every part (weights, activations, KV cache) at P: at 16 bits, the usual 6ND.
//  - memory:   M = N P_w bits of weights, at a given D (weights-only quantization saves memory, not compute).
//  - hardware: C = 6 N D / throughput(format), in bf16 FLOP-time; every part in that format. Throughput is
//              the dense tensor-core rate relative to bf16 (FP8 twice bf16 on Hopper).

import { LawsOptionError } from './errors.ts';

export type CostModelName = 'compute' | 'memory' | 'hardware';

/** Bits of each number format the hardware model knows. */
export const FORMAT_BITS: Readonly<Record<string, number>> = {
  fp32: 32,
  tf32: 19,
  bf16: 16,
  fp16: 16,
  fp8: 8,
  int8: 8,
  fp6: 6,
  fp4: 4,
  int4: 4,
};

/**
 * Dense tensor-core throughput relative to bf16, from the vendors' data sheets (dense, no sparsity):
 * H100 SXM 989 TFLOPS bf16, 1979 fp8 / int8; A100 312 bf16, 624 int8, 1248 int4; B200 2.25 PF bf16,
 * 4.5 fp8, 9 fp4. A format missing from a table has no tensor-core path there.
 */
export const HARDWARE: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  hopper: { bf16: 1, fp16: 1, fp8: 2, int8: 2 },
  ampere: { bf16: 1, fp16: 1, int8: 2, int4: 4 },
  blackwell: { bf16: 1, fp16: 1, fp8: 2, int8: 2, fp6: 2, fp4: 4 },
};

export interface CostModel {
  readonly name: CostModelName;
  /** compute: FLOPs per parameter-token (6) and the bits at which C = k N D (16). */
  readonly flopsPerParamToken?: number;
  readonly referenceBits?: number;
  /** hardware: a table name from HARDWARE, or throughput per format relative to bf16. */
  readonly hardware?: string;
  readonly throughput?: Readonly<Record<string, number>>;
  /** hardware: where a measured throughput came from (measured-throughput.ts), for the answer's statement. */
  readonly source?: string;
}

/** The model's one-line statement, printed with every answer. */
export function describeCost(cost: CostModel): string {
  switch (cost.name) {
    case 'compute':
      return `compute C = ${cost.flopsPerParamToken ?? 6}·N·D·P/${cost.referenceBits ?? 16}, all trained parts (w, a, kv) at P`;
    case 'memory':
      return 'weights-only memory M = N·P_w bits, at the given D';
    case 'hardware': {
      const table = throughputTable(cost);
      const rates = Object.entries(table)
        .map(([f, t]) => `${f} ×${+t.toPrecision(3)}`)
        .join(', ');
      return `hardware time C = 6·N·D / throughput (bf16-FLOP equivalents), all parts in one format; ${cost.hardware ?? cost.source ?? 'custom'} throughput ${rates}`;
    }
  }
}

/** The throughput table of a hardware cost model; errors name what is missing. */
export function throughputTable(cost: CostModel): Readonly<Record<string, number>> {
  const base = cost.hardware === undefined ? {} : HARDWARE[cost.hardware];
  if (base === undefined) {
    throw new LawsOptionError('hardware', cost.hardware, `one of ${Object.keys(HARDWARE).join(', ')}`);
  }
  const table = { ...base, ...(cost.throughput ?? {}) };
  if (Object.keys(table).length === 0) {
    throw new LawsOptionError(
      'throughput',
      cost.throughput,
      `the hardware cost model needs a throughput per format: a hardware name (${Object.keys(HARDWARE).join(', ')}) or --throughput fp8=2,bf16=1`,
    );
  }
  for (const [format, rate] of Object.entries(table)) {
    if (!(format in FORMAT_BITS)) {
      throw new LawsOptionError(
        `throughput.${format}`,
        rate,
        `a format of ${Object.keys(FORMAT_BITS).join(', ')}`,
      );
    }
    if (!(rate > 0 && Number.isFinite(rate))) {
      throw new LawsOptionError(`throughput.${format}`, rate, 'a throughput > 0 relative to bf16');
    }
  }
  return table;
}

/** The throughput of one format, or an error naming the format and the cost model's parameter. */
export function throughputOf(cost: CostModel, format: string): number {
  const table = throughputTable(cost);
  const rate = table[format];
  if (rate === undefined) {
    throw new LawsOptionError(
      `throughput.${format}`,
      undefined,
      `a throughput for '${format}' on ${cost.hardware ?? 'this hardware'} (give --throughput ${format}=<rate vs bf16>); known: ${Object.keys(table).join(', ')}`,
    );
  }
  return rate;
}
