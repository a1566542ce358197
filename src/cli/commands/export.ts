// `bitscale export <model> --format int4 --out model.safetensors`: a quantized model written as codes
// (int-codes/1 for integer formats, OneBit's packed layout for ternary/binary); --gguf writes llama.cpp's GGUF.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { exportFormats, exportGguf, exportQuantized } from '../../export/export-model.ts';
import { type GgufQuant, ggufTypes } from '../../export/gguf-model.ts';

interface ExportFlags {
  out: string;
  format?: string;
  gguf?: string;
  text?: string;
  window?: number;
  stride?: number;
  method: 'rtn' | 'gptq';
  groupSize: number;
  calibrationText?: string;
  calibrationTokens: number;
  backend?: string;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('quantize a model (Hugging Face folder or run) and write its codes, scales and zero points')
    .argument('<model>', 'a Hugging Face model folder or a bitscale run folder')
    .requiredOption('--out <file>', 'the .safetensors (or with --gguf, .gguf) file to write')
    .option('--format <name>', `codes in safetensors: ${exportFormats.join(' | ')}`)
    .option('--gguf <type>', `llama.cpp GGUF instead: ${Object.keys(ggufTypes).join(' | ')}`)
    .option('--text <file>', 'with --gguf: read the file back and report perplexity and δ on this text')
    .option('--window <n>', 'perplexity window (default: the context)', Number)
    .option('--stride <n>', 'perplexity stride', Number)
    .option('--method <m>', 'rtn | gptq', 'rtn')
    .option('--group-size <g>', 'columns sharing a scale (0: per output channel)', Number, 0)
    .option('--calibration-text <file>', 'GPTQ calibration text')
    .option('--calibration-tokens <n>', 'GPTQ calibration tokens', Number, 8192)
    .option('--backend <name>', 'js | cpu | cuda')
    .action((model: string, opts: ExportFlags) => {
      if ((opts.gguf === undefined) === (opts.format === undefined))
        throw new Error('export: give exactly one of --format (safetensors codes) or --gguf (llama.cpp)');
      if (opts.gguf !== undefined) {
        const text = opts.text === undefined ? undefined : readFileSync(opts.text, 'utf8');
        const gguf = exportGguf(model, opts.out, {
          quant: opts.gguf as GgufQuant,
          text,
          window: opts.window,
          stride: opts.stride,
          backend: opts.backend,
        });
        console.log(JSON.stringify(gguf, null, 2));
        return;
      }
      const summary = exportQuantized(model, opts.out, {
        format: opts.format as string,
        method: opts.method,
        groupSize: opts.groupSize,
        calibrationText: opts.calibrationText ? readFileSync(opts.calibrationText, 'utf8') : undefined,
        calibrationTokens: opts.calibrationTokens,
        backend: opts.backend,
      });
      console.log(JSON.stringify(summary, null, 2));
    });
}
