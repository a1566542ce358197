// The architectures bitscale reads, by transformers model class. One file per architecture holds its config
// reading and its tensor-name mapping.
import { gpt2 } from './gpt2.ts';
import { llama } from './llama.ts';
import type { HfArchitecture } from './mapping.ts';

export const hfArchitectures: readonly HfArchitecture[] = [llama, gpt2];

export const supportedClasses = hfArchitectures.flatMap((a) => a.classes);
