// The machine a benchmark ran on, recorded with every result.
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';

export function machineDescription(): string {
  let cpu = 'unknown CPU';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {}
  return `${cpu}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB`;
}

export interface Figure {
  bench: string;
  ours: number;
  peer: number | null;
  ratio: number | null;
  unit: string;
  machine: string;
}

export function figure(
  bench: string,
  ours: number,
  peer: number | null,
  unit: string,
  higherIsBetter = true,
): Figure {
  const ratio = peer === null ? null : higherIsBetter ? ours / peer : peer / ours;
  return { bench, ours, peer, ratio, unit, machine: machineDescription() };
}
