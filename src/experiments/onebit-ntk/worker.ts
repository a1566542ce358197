// The entry a sweep worker process runs (`worker.ts job <file> --store <db> ...`): the sweep's `job`
// command with the onebit-ntk job kind loaded, so these sweeps do not depend on the rest of the CLI.

import { Command } from 'commander';
import { registerJob } from '../../cli/commands/job.ts';
import './job-kind.ts';

const program = new Command('bitscale-onebit-ntk-worker');
registerJob(program);
await program.parseAsync();
