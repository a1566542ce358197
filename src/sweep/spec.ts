// The sweep spec: what a precision study runs. Grids over model shapes (N), token budgets (D), training
// precisions (P_w, P_a, P_kv) and seeds; post-training quantization at several (P_post, method); shared
// training settings. Read from YAML or JSON and validated with errors that name the field path.
//
//   name: quick
//   seeds: [0]
//   train: { backend: cpu, corpus: embedded, lr: 0.003 }      # shared by every training run (opaque)
//   grid:
//     model: [{ d_model: 64, n_layers: 2, n_heads: 4 }]
//     tokens: [100000, 200000]
//     precision: [fp32, { w: int4, a: fp32, kv: fp32 }]       # or { w: [int4, int8], a: [fp32], kv: [fp32] }
//     recipe: [{ weightDecay: 0 }, { weightDecay: 0.1, dropout: 0.1, gradClip: 0 }]   # optional axis
//   ptq: { precisions: [int8, int4], methods: [rtn, gptq] }
//   onebit:                                                    # optional: OneBit students of the fp runs
//     tokens: [1000000]                                        # student token budgets
//     students: [{ init: svid-nmf, loss: distill }, { init: random }, { loss: ce }]
//     train: { lr: 0.001 }                                     # student optimizer settings over the teacher's
//
// The model and train sub-configs belong to the trainer; it can plug in a ConfigValidator to check them.

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import type { JsonObject } from '../base/json.ts';
import { defaultDff } from '../nn/config.ts';
import { type ConfigIssue, camel, show } from '../nn/fields.ts';
import { checkPrecisionConfig, type ModelWidths } from '../nn/precision.ts';
import { isPrecisionName, precisionNames } from '../numerics/precision.ts';
import { studentInits, studentLosses } from '../onebit/student.ts';
import {
  checkPtqVariant,
  type PtqMethod,
  ptqActivationFormats,
  ptqFormats,
  ptqMethods,
} from '../ptq/settings.ts';
import { defaultOptim } from '../train/config.ts';
import { SpecError, type SpecIssue } from './errors.ts';

export type { JsonObject } from '../base/json.ts';

/** Precisions a model trains at: weights, activations, KV cache. */
export interface TrainPrecision {
  w: string;
  a: string;
  kv: string;
}

export { type PtqMethod, ptqMethods } from '../ptq/settings.ts';

export interface SweepSpec {
  name: string;
  seeds: number[];
  /** Shared training settings, passed whole to every training job. */
  train: JsonObject;
  grid: {
    /** Model shapes; at least d_model, n_layers, n_heads. Other keys pass through to the trainer. */
    model: JsonObject[];
    /** Token budgets D. */
    tokens: number[];
    precision: TrainPrecision[];
    /** Training recipes (settings that vary across runs, e.g. weight decay, dropout, gradient clipping), each
     *  given to the trainer over the shared train settings; empty: no recipe axis. */
    recipe: JsonObject[];
  };
  ptq: {
    precisions: string[];
    methods: PtqMethod[];
    /** Linear inputs' precisions after training (per-token scales); ['fp32'] (weight-only) unless given. */
    activations: string[];
    /** With and/or without LLM.int8's decomposition (only where activations are quantized); [false] unless given. */
    decompose: boolean[];
    /** Shared PTQ settings (calibration size, group size, ...), passed whole to every PTQ job. */
    settings: JsonObject;
  };
  /** OneBit students distilled from the grid's full-precision runs; absent when the spec has no section. */
  onebit?: OnebitSpec;
}

/** One student per (full-precision run, token budget, student variant). */
export interface OnebitSpec {
  tokens: number[];
  /** Each { init, loss }; defaults svid-nmf and distill. */
  students: { init: string; loss: string }[];
  /** Student optimizer settings over the teacher's (lr, warmupSteps, ...). */
  train: JsonObject;
  /** Distillation coefficients over OneBit's defaults (alpha, logitScale, beta). */
  distill: JsonObject;
}

/**
 * Checks of the sub-configs owned by the job kinds (the trainer, PTQ). Each returns issues with full paths;
 * an empty list means valid. Plug the study's in via parseSweepSpec's options. Precision names, their fit
 * to each model's widths and every (P_post, method) are checked here whatever the validator.
 */
export interface ConfigValidator {
  model(shape: JsonObject, path: string): SpecIssue[];
  train(settings: JsonObject, path: string): SpecIssue[];
  /** One entry of the recipe axis (default: any mapping), with the shared train settings it runs under. */
  recipe?(recipe: JsonObject, path: string, train?: JsonObject): SpecIssue[];
  /** The shared PTQ settings (opaque to the sweep), and the group size PTQ jobs will use (0: per channel). */
  ptq(settings: JsonObject, path: string): { issues: SpecIssue[]; groupSize: number };
}

/**
 * What the sweep knows about models without the trainer: positive integer dims, heads divide d_model. Keys
 * may be snake_case (d_model) or camelCase (dModel); issues name the key as written.
 */
export const defaultValidator: ConfigValidator = {
  model(shape, path) {
    const issues: SpecIssue[] = [];
    const written = (key: string) => {
      const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      return key in shape || !(camel in shape) ? key : camel;
    };
    const value = (key: string) => (Object.hasOwn(shape, written(key)) ? shape[written(key)] : undefined);
    for (const key of ['d_model', 'n_layers', 'n_heads']) {
      const v = value(key);
      if (v === undefined)
        issues.push({ path: `${path}.${key}`, message: 'is required (a positive integer)' });
      else if (!isPositiveInt(v))
        issues.push({ path: `${path}.${written(key)}`, message: `${show(v)} is not a positive integer` });
    }
    for (const key of ['d_ff', 'vocab_size', 'seq_len']) {
      const v = value(key);
      if (v !== undefined && !isPositiveInt(v)) {
        issues.push({ path: `${path}.${written(key)}`, message: `${show(v)} is not a positive integer` });
      }
    }
    const [dModel, nHeads] = [value('d_model'), value('n_heads')];
    if (isPositiveInt(dModel) && isPositiveInt(nHeads) && dModel % nHeads !== 0) {
      issues.push({
        path: `${path}.${written('n_heads')}`,
        message: `${nHeads} does not divide ${written('d_model')} ${dModel}`,
      });
    }
    return issues;
  },
  train: () => [],
  ptq: () => ({ issues: [], groupSize: 0 }),
};

export interface ParseOptions {
  format?: 'yaml' | 'json';
  validator?: ConfigValidator;
}

/** Parses and validates a spec from text. Throws SpecError listing every problem. */
export function parseSweepSpec(text: string, options: ParseOptions = {}): SweepSpec {
  let raw: unknown;
  try {
    raw = options.format === 'json' ? JSON.parse(text) : readYaml(text);
  } catch (err) {
    throw new SpecError([{ path: 'sweep', message: `cannot parse: ${(err as Error).message}` }]);
  }
  return validateSweepSpec(raw, options.validator ?? defaultValidator);
}

/** YAML to a value; what the yaml library only warns about (an unknown !tag, most likely a typo) is an error. */
function readYaml(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw problem;
  return doc.toJS(); // the default alias limit (100) keeps a billion-laughs document from expanding
}

/** Reads a spec file; .json is parsed as JSON, anything else as YAML (a superset of JSON). */
export function loadSweepSpec(path: string, validator?: ConfigValidator): SweepSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SpecError([{ path: 'sweep', message: `cannot read ${path}: ${(err as Error).message}` }]);
  }
  return parseSweepSpec(text, { format: extname(path) === '.json' ? 'json' : 'yaml', validator });
}

/** Validates an already-parsed value (e.g. from a preset module). */
export function validateSweepSpec(raw: unknown, validator: ConfigValidator = defaultValidator): SweepSpec {
  const issues: SpecIssue[] = [];
  const at: Report = (path, message) => {
    issues.push({ path, message });
    return null;
  };
  const root = 'sweep';
  if (!isObject(raw)) throw new SpecError([{ path: root, message: `${show(raw)} is not a mapping` }]);
  const deep = deepestPath(raw, root, MAX_NESTING);
  if (deep) throw new SpecError([{ path: deep, message: `nests deeper than ${MAX_NESTING} levels` }]);
  checkKeys(raw, root, ['name', 'seeds', 'train', 'grid', 'ptq', 'onebit'], at);

  const name = raw.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(name)) {
    at(`${root}.name`, `${show(name)} is not a name (letters, digits, '.', '_', '-')`);
  }

  const seeds = listOf(raw.seeds ?? [0], `${root}.seeds`, at, (v, p) =>
    Number.isInteger(v) && (v as number) >= 0
      ? (v as number)
      : at(p, `${show(v)} is not a non-negative integer`),
  );

  const train = raw.train ?? {};
  if (!isObject(train)) at(`${root}.train`, `${show(train)} is not a mapping`);
  else issues.push(...validator.train(train as JsonObject, `${root}.train`));

  const grid = raw.grid;
  let model: JsonObject[] = [];
  let tokens: number[] = [];
  let precision: TrainPrecision[] = [];
  let recipe: JsonObject[] = [];
  if (!isObject(grid)) at(`${root}.grid`, `${show(grid)} is not a mapping (with model, tokens, precision)`);
  else {
    checkKeys(grid, `${root}.grid`, ['model', 'tokens', 'precision', 'recipe'], at);
    if (grid.recipe !== undefined) {
      recipe = listOf(
        grid.recipe,
        `${root}.grid.recipe`,
        at,
        (v, p) => {
          if (!isObject(v))
            return at(p, `${show(v)} is not a mapping of training settings (e.g. weightDecay: 0.1)`);
          const shared = isObject(train) ? (train as JsonObject) : undefined;
          const found = validator.recipe?.(v as JsonObject, p, shared) ?? [];
          issues.push(...found);
          return found.length === 0 ? (v as JsonObject) : null;
        },
        true,
      ); // an empty axis is no axis: one run per point, as without it
    }
    model = listOf(grid.model, `${root}.grid.model`, at, (v, p) => {
      if (!isObject(v)) return at(p, `${show(v)} is not a mapping (d_model, n_layers, n_heads, ...)`);
      const found = validator.model(v as JsonObject, p);
      issues.push(...found);
      return found.length === 0 ? (v as JsonObject) : null;
    });
    tokens = listOf(grid.tokens, `${root}.grid.tokens`, at, (v, p) =>
      isPositiveInt(v) ? v : at(p, `${show(v)} is not a positive integer number of tokens`),
    );
    precision = listOf(grid.precision ?? ['fp32'], `${root}.grid.precision`, at, (v, p) =>
      trainPrecisions(v, p, at),
    ).flat();
  }

  const ptqRaw = raw.ptq ?? {}; // no PTQ unless asked for
  let ptq: SweepSpec['ptq'] = {
    precisions: [],
    methods: [],
    activations: ['fp32'],
    decompose: [false],
    settings: {},
  };
  if (!isObject(ptqRaw)) at(`${root}.ptq`, `${show(ptqRaw)} is not a mapping (with precisions, methods)`);
  else {
    checkKeys(ptqRaw, `${root}.ptq`, ['precisions', 'methods', 'activations', 'decompose', 'settings'], at);
    const precisions = listOf(
      ptqRaw.precisions ?? [],
      `${root}.ptq.precisions`,
      at,
      (v, p) =>
        typeof v === 'string' && ptqFormats.includes(v)
          ? v
          : at(p, `${show(v)} is not a PTQ format (allowed: ${ptqFormats.join(', ')})`),
      true,
    );
    const methods = listOf(
      ptqRaw.methods ?? ['rtn'],
      `${root}.ptq.methods`,
      at,
      (v, p) =>
        ptqMethods.includes(v as PtqMethod)
          ? (v as PtqMethod)
          : at(p, `${show(v)} is not a PTQ method (allowed: ${ptqMethods.join(', ')})`),
      precisions.length === 0,
    );
    const activations = listOf(ptqRaw.activations ?? ['fp32'], `${root}.ptq.activations`, at, (v, p) =>
      typeof v === 'string' && ptqActivationFormats.includes(v)
        ? v
        : at(p, `${show(v)} is not a precision (allowed: ${ptqActivationFormats.join(', ')})`),
    );
    const decompose = listOf(ptqRaw.decompose ?? [false], `${root}.ptq.decompose`, at, (v, p) =>
      typeof v === 'boolean' ? v : at(p, `${show(v)} is not true or false`),
    );
    if (decompose.includes(true) && !activations.some((a) => a !== 'fp32'))
      at(
        `${root}.ptq.decompose`,
        'the LLM.int8 decomposition needs quantized activations: list one in ptq.activations (e.g. int8)',
      );
    if (decompose.includes(true) && !methods.includes('rtn'))
      at(
        `${root}.ptq.decompose`,
        'the LLM.int8 decomposition runs with rtn weights: list rtn in ptq.methods',
      );
    const settings = ptqRaw.settings ?? {};
    if (!isObject(settings)) at(`${root}.ptq.settings`, `${show(settings)} is not a mapping`);
    const parsed = isObject(settings) ? validator.ptq(settings as JsonObject, `${root}.ptq.settings`) : null;
    if (parsed) issues.push(...parsed.issues);
    ptq = {
      precisions,
      methods,
      activations: unique(activations),
      decompose: unique(decompose),
      settings: (isObject(settings) ? settings : {}) as JsonObject,
    };
    if (parsed && parsed.issues.length === 0) {
      const paths = {
        precisions: ptqRaw.precisions,
        methods: ptqRaw.methods,
        models: isObject(grid) ? grid.model : undefined,
      };
      issues.push(...ptqCombinationIssues(ptq, parsed.groupSize, model, paths, root));
    }
  }
  issues.push(...precisionFitIssues(precision, model, isObject(grid) ? grid.model : undefined, root));
  const onebit = raw.onebit === undefined ? undefined : onebitSection(raw.onebit, `${root}.onebit`, at);

  if (issues.length > 0) throw new SpecError(dedupe(issues));
  return {
    name: name as string,
    seeds: unique(seeds),
    train: train as JsonObject,
    grid: { model, tokens: unique(tokens), precision, recipe },
    ptq: { ...ptq, precisions: unique(ptq.precisions), methods: unique(ptq.methods) },
    ...(onebit ? { onebit } : {}),
  };
}

function onebitSection(raw: unknown, path: string, at: Report): OnebitSpec | undefined {
  if (!isObject(raw)) return at(path, `${show(raw)} is not a mapping (with tokens, students)`) ?? undefined;
  checkKeys(raw, path, ['tokens', 'students', 'train', 'distill'], at);
  const tokens = listOf(raw.tokens, `${path}.tokens`, at, (v, p) =>
    isPositiveInt(v) ? v : at(p, `${show(v)} is not a positive integer number of tokens`),
  );
  const students = listOf(raw.students ?? [{}], `${path}.students`, at, (v, p) => {
    if (!isObject(v)) return at(p, `${show(v)} is not a mapping { init, loss }`);
    checkKeys(v, p, ['init', 'loss'], at);
    const { init = 'svid-nmf', loss = 'distill' } = v;
    if (!studentInits.includes(init as never))
      return at(`${p}.init`, `${show(init)} is not one of ${studentInits.join(', ')}`);
    if (!studentLosses.includes(loss as never))
      return at(`${p}.loss`, `${show(loss)} is not one of ${studentLosses.join(', ')}`);
    return { init: init as string, loss: loss as string };
  });
  const mapping = (key: 'train' | 'distill'): JsonObject => {
    const v = raw[key] ?? {};
    if (isObject(v)) return v as JsonObject;
    at(`${path}.${key}`, `${show(v)} is not a mapping`);
    return {};
  };
  const train = mapping('train');
  // The student's optimizer settings over the teacher's; the budget is the section's own tokens.
  const optimKeys = Object.keys(defaultOptim).filter((k) => k !== 'tokens');
  for (const key of Object.keys(train))
    if (!optimKeys.includes(camel(key)))
      at(`${path}.train.${key}`, `is not a student optimizer setting (allowed: ${optimKeys.join(', ')})`);
  const distill = mapping('distill');
  checkKeys(distill, `${path}.distill`, ['alpha', 'logitScale', 'beta'], at);
  for (const [key, v] of Object.entries(distill))
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      at(`${path}.distill.${key}`, `${show(v)} is not a non-negative number`);
  const seen = new Set<string>();
  return {
    tokens: unique(tokens),
    students: students.filter((s) => !seen.has(`${s.init}/${s.loss}`) && seen.add(`${s.init}/${s.loss}`)),
    train,
    distill,
  };
}

/**
 * Every (P_post, method) once, then against every model's linear widths: what would otherwise fail inside a
 * PTQ job. `written` holds the lists as the spec wrote them, for paths with the user's indices.
 */
function ptqCombinationIssues(
  ptq: { precisions: string[]; methods: PtqMethod[] },
  groupSize: number,
  models: JsonObject[],
  written: { precisions: unknown; methods: unknown; models: unknown },
  root: string,
): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const format of unique(ptq.precisions)) {
    for (const method of unique(ptq.methods)) {
      const fields = {
        format: listPath(written.precisions, `${root}.ptq.precisions`, format),
        method: listPath(written.methods, `${root}.ptq.methods`, method),
        groupSize: `${root}.ptq.settings.groupSize`,
      };
      const variant = { format, method, groupSize };
      const before = issues.length;
      fromConfigIssues(issues, (found) => checkPtqVariant(variant, fields, found));
      if (issues.length > before) continue; // the combination itself is wrong; its widths do not matter
      for (const shape of models) {
        const w = widthsOf(shape);
        if (!w) continue;
        const m = listPath(written.models, `${root}.grid.model`, shape);
        const widths = [
          { name: `d_model of ${m}`, value: w.dModel },
          { name: `d_ff of ${m}`, value: w.dFf },
        ];
        fromConfigIssues(issues, (found) => checkPtqVariant(variant, fields, found, widths));
      }
    }
  }
  return issues;
}

/**
 * Every training precision against every model (with the model's own granularity settings): MX and NF4
 * blocks, and weight groups, must divide the widths they quantize.
 */
function precisionFitIssues(
  precisions: TrainPrecision[],
  models: JsonObject[],
  writtenModels: unknown,
  root: string,
): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const shape of models) {
    const widths = widthsOf(shape);
    if (!widths) continue;
    const m = listPath(writtenModels, `${root}.grid.model`, shape);
    const own = isObject(shape.precision) ? shape.precision : {};
    for (const p of precisions) {
      const found: ConfigIssue[] = [];
      checkPrecisionConfig({ ...own, weights: p.w, activations: p.a, kv: p.kv }, '', found, widths);
      for (const issue of found) {
        const part = { weights: 'w', activations: 'a', kv: 'kv' }[issue.field] ?? issue.field;
        issues.push({ path: `${root}.grid.precision`, message: `${part}: ${issue.message} in ${m}` });
      }
    }
  }
  return issues;
}

/** No spec needs deeper values; deeper ones would overflow the stack when jobs are hashed and written. */
const MAX_NESTING = 32;

/** The path of the first value nested deeper than `limit` levels, or null; iterative, so any depth is safe. */
function deepestPath(value: unknown, root: string, limit: number): string | null {
  const stack: [unknown, string, number][] = [[value, root, 0]];
  while (stack.length > 0) {
    const [v, path, depth] = stack.pop() as [unknown, string, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return path;
    const entries = Array.isArray(v)
      ? v.map((x, i) => [`[${i}]`, x] as const)
      : Object.entries(v).map(([k, x]) => [`.${k}`, x] as const);
    for (const [key, x] of entries) stack.push([x, path + key, depth + 1]);
  }
  return null;
}

/** Records an issue; returns null so validators can `return at(path, message)`. */
type Report = (path: string, message: string) => null;

/** A training precision entry: 'int8' (all three parts), {w, a, kv}, or {w: [...], a: [...], kv: [...]}. */
function trainPrecisions(v: unknown, path: string, at: Report): TrainPrecision[] | null {
  if (typeof v === 'string') {
    const name = precisionName(v, path, at);
    return name ? [{ w: name, a: name, kv: name }] : null;
  }
  if (!isObject(v)) return at(path, `${show(v)} is not a precision string or a mapping {w, a, kv}`);
  checkKeys(v, path, ['w', 'a', 'kv'], at);
  const parts: Record<'w' | 'a' | 'kv', string[]> = { w: [], a: [], kv: [] };
  let ok = true;
  for (const part of ['w', 'a', 'kv'] as const) {
    const value = v[part] ?? 'fp32'; // a part left out trains at full precision
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0) {
      ok = false;
      at(`${path}.${part}`, 'is an empty list');
    }
    list.forEach((item, i) => {
      const name = precisionName(
        item,
        Array.isArray(value) ? `${path}.${part}[${i}]` : `${path}.${part}`,
        at,
      );
      if (name) parts[part].push(name);
      else ok = false;
    });
  }
  if (!ok) return null;
  return parts.w.flatMap((w) => parts.a.flatMap((a) => parts.kv.map((kv) => ({ w, a, kv }))));
}

function precisionName(v: unknown, path: string, at: Report): string | null {
  if (isPrecisionName(v)) return v;
  return at(path, `${show(v)} is not a precision (allowed: ${precisionNames.join(', ')})`);
}

/** Widths a model's rows have (d_model, d_ff, head size), when its shape is complete; keys as either spelling. */
function widthsOf(shape: JsonObject): ModelWidths | null {
  const get = (snake: string, camel: string) => shape[snake] ?? shape[camel];
  const dModel = get('d_model', 'dModel');
  const nHeads = get('n_heads', 'nHeads');
  if (!isPositiveInt(dModel) || !isPositiveInt(nHeads) || dModel % nHeads !== 0) return null;
  const dFf = get('d_ff', 'dFf') ?? defaultDff(dModel);
  return isPositiveInt(dFf) ? { dModel, dFf, headSize: dModel / nHeads } : null;
}

/** Runs a check that reports ConfigIssues and adds them as SpecIssues (their field is the full path). */
function fromConfigIssues<T>(issues: SpecIssue[], check: (found: ConfigIssue[]) => T): T {
  const found: ConfigIssue[] = [];
  const result = check(found);
  for (const i of found) issues.push({ path: i.field, message: i.message });
  return result;
}

/** The path of an item of a list field as written (a scalar written for a one-element list has no index). */
function listPath(list: unknown, path: string, item: unknown): string {
  return Array.isArray(list) ? `${path}[${list.indexOf(item)}]` : path;
}

function dedupe(issues: SpecIssue[]): SpecIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Validates each element of a required, non-empty list (a scalar counts as a one-element list). */
function listOf<T>(
  value: unknown,
  path: string,
  at: Report,
  item: (v: unknown, path: string) => T | null,
  allowEmpty = false,
): T[] {
  if (value === undefined) {
    at(path, 'is required (a list)');
    return [];
  }
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 && !allowEmpty) at(path, 'is an empty list');
  const out: T[] = [];
  list.forEach((v, i) => {
    const r = item(v, Array.isArray(value) ? `${path}[${i}]` : path);
    if (r !== null) out.push(r);
  });
  return out;
}

function checkKeys(obj: Record<string, unknown>, path: string, allowed: string[], at: Report): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) at(`${path}.${key}`, `is not a known field (allowed: ${allowed.join(', ')})`);
  }
}

function unique<T>(list: T[]): T[] {
  return [...new Set(list)];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}
