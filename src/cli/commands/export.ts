// `bitscale export <model> --format int4 --out model.safetensors`: a quantized model written as codes
// (int-codes/1 for integer formats, OneBit's packed layout for ternary/binary); --gguf writes llama.cpp's GGUF.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { exportFormats, exportQuantized } from '../../export/export-model.ts';

interface ExportFlags {
  out: string;
  format: string;
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
    .requiredOption('--out <file>', 'the .safetensors file to write')
    .requiredOption('--format <name>', exportFormats.join(' | '))
    .option('--method <m>', 'rtn | gptq', 'rtn')
    .option('--group-size <g>', 'columns sharing a scale (0: per output channel)', Number, 0)
    .option('--calibration-text <file>', 'GPTQ calibration text')
    .option('--calibration-tokens <n>', 'GPTQ calibration tokens', Number, 8192)
    .option('--backend <name>', 'js | cpu | cuda')
    .action((model: string, opts: ExportFlags) => {
      const summary = exportQuantized(model, opts.out, {
        format: opts.format,
        method: opts.method,
        groupSize: opts.groupSize,
        calibrationText: opts.calibrationText ? readFileSync(opts.calibrationText, 'utf8') : undefined,
        calibrationTokens: opts.calibrationTokens,
        backend: opts.backend,
      });
      console.log(JSON.stringify(summary, null, 2));
    });
}
