// Quanta discovery from gradients (QDG) on a trained language model: per-token gradients for a sample of
// validation tokens the model predicts well, their cosine similarities, spectral clustering, the
// rank-frequency of cluster sizes with a fitted Zipf exponent, and example tokens of each cluster.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { prepareData } from '../../../data/index.ts';
import { seededRng } from '../../../laws/rng.ts';
import { resolveRunConfig } from '../../../train/config.ts';
import { loadRun } from '../../../train/run.ts';
import { train } from '../../../train/trainer.ts';
import { integerIn, numberAbove } from '../errors.ts';
import { perTokenGradients } from './gradients.ts';
import { type RankFrequency, rankFrequency } from './rank-frequency.ts';
import { cosineMatrix, spectralCluster } from './spectral.ts';

export interface QdgSettings {
  /** A finished run folder to analyse; without it a small model is trained into <out>/qdg-lm. */
  run?: string;
  /** The small model trained when no run is given (a bitscale run config: model, data, train). */
  lm: { model: Record<string, unknown>; data: Record<string, unknown>; train: Record<string, unknown> };
  /** Tokens to take gradients of. */
  tokens: number;
  clusters: number;
  /** Only tokens with loss below this (nats). */
  maxLoss: number;
  /** Sampled positions per validation sequence. */
  positionsPerSequence: number;
  examplesPerCluster: number;
  seed: number;
}

export interface QdgCluster {
  id: number;
  size: number;
  /** "...context [token]" snippets. */
  examples: string[];
}

export interface QdgResult {
  run: string;
  tokens: number;
  gradientDimension: number;
  clusters: QdgCluster[];
  rankFrequency: RankFrequency;
  eigenvalues: number[];
  meanTokenLoss: number;
  seconds: { train: number; gradients: number; clustering: number };
}

export function validateQdg(s: QdgSettings): QdgSettings {
  integerIn('qdg.tokens', s.tokens, 2, 1000);
  integerIn('qdg.clusters', s.clusters, 1, s.tokens);
  numberAbove('qdg.maxLoss', s.maxLoss, 0);
  integerIn('qdg.positionsPerSequence', s.positionsPerSequence, 1);
  integerIn('qdg.examplesPerCluster', s.examplesPerCluster, 0);
  integerIn('qdg.seed', s.seed, 0);
  return s;
}

export function discoverQuanta(
  settings: QdgSettings,
  outDir: string,
  log: (m: string) => void = () => {},
): QdgResult {
  validateQdg(settings);
  let t0 = performance.now();
  let runDir = settings.run;
  if (!runDir) {
    runDir = join(outDir, 'qdg-lm');
    if (!existsSync(join(runDir, 'summary.json'))) {
      log(`qdg: training a small language model into ${runDir}`);
      train(resolveRunConfig(settings.lm as Parameters<typeof resolveRunConfig>[0]), { outDir: runDir });
    }
  }
  const trainSeconds = (performance.now() - t0) / 1000;
  const { config, params, tokenizer } = loadRun(runDir);
  const data = prepareData({
    corpus: config.data.corpus,
    validation: config.data.validation,
    vocabSize: config.data.vocabSize,
    tokenizer: tokenizer ? join(runDir, 'tokenizer.json') : config.data.tokenizer,
  });
  const Tn = config.model.context;

  // Random validation windows and random positions in each; keep going until enough tokens qualify.
  t0 = performance.now();
  const rng = seededRng(settings.seed);
  const windows = Math.floor((data.val.length - 1) / (Tn + 1));
  const order = [...Array(windows).keys()];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const sequences = order.map((w) => Int32Array.from(data.val.subarray(w * (Tn + 1), (w + 1) * (Tn + 1))));
  // Skip the first few positions of a window: their loss reflects the missing context, not a skill.
  const first = Math.min(8, Tn - 1);
  const positions = sequences.map(() => {
    const picked = new Set<number>();
    while (picked.size < Math.min(settings.positionsPerSequence, Tn - first))
      picked.add(first + rng.int(Tn - first));
    return [...picked].sort((a, b) => a - b);
  });
  const grads = perTokenGradients(config.model, params, sequences, positions, {
    maxLoss: settings.maxLoss,
    limit: settings.tokens,
  });
  const gradientSeconds = (performance.now() - t0) / 1000;
  log(
    `qdg: ${grads.length} token gradients of dimension ${grads[0]?.gradient.length ?? 0} in ${gradientSeconds.toFixed(1)} s`,
  );

  t0 = performance.now();
  const n = grads.length;
  const k = Math.min(settings.clusters, n);
  const cosine = cosineMatrix(grads.map((g) => g.gradient));
  const { labels, eigenvalues } = spectralCluster(cosine, n, k, { seed: settings.seed });
  const clusteringSeconds = (performance.now() - t0) / 1000;

  const decode = (ids: ArrayLike<number>) => (tokenizer ? tokenizer.decode(ids) : Array.from(ids).join(' '));
  const members = Array.from({ length: k }, () => [] as number[]);
  for (const [i, c] of labels.entries()) members[c].push(i);
  const clusters: QdgCluster[] = members
    .map((m, id) => ({
      id,
      size: m.length,
      examples: m.slice(0, settings.examplesPerCluster).map((i) => {
        const g = grads[i];
        const seq = sequences[g.sequence];
        const context = decode(seq.subarray(Math.max(0, g.position - 12), g.position + 1));
        return `${context}[${decode(seq.subarray(g.position + 1, g.position + 2))}]`;
      }),
    }))
    .sort((a, b) => b.size - a.size);
  for (const p of params.values()) p.dispose();
  return {
    run: runDir,
    tokens: n,
    gradientDimension: grads[0]?.gradient.length ?? 0,
    clusters,
    rankFrequency: rankFrequency(labels),
    eigenvalues,
    meanTokenLoss: grads.reduce((s, g) => s + g.loss, 0) / Math.max(1, n),
    seconds: { train: trainSeconds, gradients: gradientSeconds, clustering: clusteringSeconds },
  };
}
