// `bitscale inspect <file>`: tensors, formats, shapes and bits per parameter of a safetensors or GGUF file.
import type { Command } from 'commander';
import { formatInspection, inspectFile } from '../../export/inspect.ts';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description(
      'what a checkpoint holds: tensors, dtypes/formats, shapes, bits per parameter (safetensors, packed, GGUF)',
    )
    .argument('<file>', 'a .safetensors or .gguf file')
    .option('--json', 'print the inspection as JSON')
    .action((file: string, opts: { json?: boolean }) => {
      const inspection = inspectFile(file);
      console.log(opts.json ? JSON.stringify(inspection, null, 2) : formatInspection(inspection));
    });
}
