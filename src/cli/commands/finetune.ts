// `bitscale finetune <hf-folder> --corpus text.txt --weights int4 --out run/`: continue training a Hugging Face
// model at a precision (QAT fine-tune) with bitscale's trainer; the result is a run folder.
import type { Command } from 'commander';
import { finetuneHf } from '../../hf/finetune.ts';
import { formatSeconds, progressLine } from '../progress.ts';

interface FinetuneFlags {
  corpus: string;
  validation?: string;
  out: string;
  weights: string;
  activations: string;
  kv: string;
  tokens: number;
  batchSize: number;
  lr: number;
  backend?: string;
}

export function registerFinetune(program: Command): void {
  program
    .command('finetune')
    .description('continue training a Hugging Face model at a precision (QAT) with the bitscale trainer')
    .argument('<model>', 'a Hugging Face model folder')
    .requiredOption('--corpus <path>', 'training text (.txt file or folder)')
    .requiredOption('--out <dir>', 'the run folder to write (resumed if it exists)')
    .option('--validation <path>', 'validation text (default: a hash split of the corpus)')
    .option('--weights <format>', 'weight precision', 'fp32')
    .option('--activations <format>', 'precision of linear-layer inputs', 'fp32')
    .option('--kv <format>', 'KV cache precision', 'fp32')
    .option('--tokens <n>', 'training tokens', Number, 1_000_000)
    .option('--batch-size <n>', 'sequences per step', Number, 8)
    .option('--lr <x>', 'peak learning rate', Number, 1e-4)
    .option('--backend <name>', 'js | cpu | cuda')
    .action((model: string, opts: FinetuneFlags) => {
      const line = progressLine();
      const summary = finetuneHf(model, opts.out, {
        corpus: opts.corpus,
        validation: opts.validation,
        precision: { weights: opts.weights, activations: opts.activations, kv: opts.kv },
        train: { tokens: opts.tokens, batchSize: opts.batchSize, lr: opts.lr },
        backend: opts.backend,
        onProgress: (p) =>
          line.update(
            `step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  ETA ${formatSeconds(p.etaSeconds)}`,
          ),
      });
      line.done();
      console.log(JSON.stringify(summary, null, 2));
    });
}
