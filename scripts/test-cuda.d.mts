// Types of scripts/test-cuda.mjs (plain JavaScript so that `node scripts/test-cuda.mjs` runs without npm or tsx).
export interface Suite {
  name: string;
  files: string[];
  env: Record<string, string>;
  mustInclude?: RegExp;
}
export interface TapSummary {
  tests: number | null;
  pass: number | null;
  fail: number | null;
  cancelled: number | null;
  skipped: number | null;
  todo: number | null;
}
export const suites: Suite[];
export function parseTapSummary(tap: string): TapSummary;
export function suiteProblem(suite: Suite, tap: string, exitCode: number | string | null): string | null;
export function parseNvidiaSmi(csv: string): { gpu: string; driver: string; gpus: number };
export function appendRecord(path: string, record: unknown): Promise<number>;
