// A study's corpora, prepared once before its jobs start: every training job of a study reads the same
// tokenizer and shards, and preparing them inside the jobs would make the first jobs race to do it.
import { prepareCorpus, streamSource } from '../data/index.ts';
import type { TrainConfig } from '../sweep/expand.ts';
import type { SweepPlan } from '../sweep/plan.ts';
import { runConfigFromJob } from './run-config.ts';

/** Prepares the streamed corpora (gutenberg, .xz, .jsonl, folders) the plan's training jobs name. */
export async function prepareStudyData(
  plan: SweepPlan,
  cacheDir: string,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<void> {
  const seen = new Set<string>();
  for (const job of plan.jobs.filter((j) => j.kind === 'train')) {
    const { corpus, validation, vocabSize, tokenizer } = runConfigFromJob(job.config as TrainConfig).data;
    const key = JSON.stringify([corpus, validation, vocabSize, tokenizer]);
    if (seen.has(key)) continue;
    seen.add(key);
    const source = streamSource(corpus, validation);
    if (source === null || source.kind !== 'text') continue; // small corpora are tokenized by each job
    const started = performance.now();
    const prepared = await prepareCorpus({ corpus, validation, vocabSize, tokenizer, cacheDir });
    const tokens = prepared.manifest.train.reduce((sum, shard) => sum + shard.tokens, 0);
    const how = prepared.reused ? 'already prepared' : 'prepared';
    log(
      `data: ${corpus} ${how}, ${tokens} training tokens (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
}
