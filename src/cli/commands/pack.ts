// `bitscale pack <run> --out model.safetensors`: a trained run as a packed OneBit model (1-bit signs with
// SVID value vectors, embeddings and norms in fp16) that `bitscale sample` decodes on its packed bits.
import type { Command } from 'commander';
import { packRun } from '../../onebit/packed-run.ts';

export function registerPack(program: Command): void {
  program
    .command('pack')
    .description('pack a trained run as a OneBit model: signs 1 bit per weight, SVID value vectors')
    .argument('<run>', 'run folder or checkpoint.safetensors')
    .requiredOption('--out <file>', 'packed .safetensors file to write')
    .option('--svid <method>', 'rank-1 approximation of |W|: nmf | svd', 'nmf')
    .action((run: string, opts: { out: string; svid: string }) => {
      if (opts.svid !== 'nmf' && opts.svid !== 'svd')
        throw new Error(`--svid: ${JSON.stringify(opts.svid)} (allowed: nmf, svd)`);
      const bits = packRun(run, opts.out, { method: opts.svid });
      console.log(
        JSON.stringify({ out: opts.out, bitsPerParameter: bits.bitsPerParameter, bytes: bits.totalBits / 8 }),
      );
    });
}
