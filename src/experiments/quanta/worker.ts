// The entry a sweep worker process runs (`worker.ts job <file> --store <db> ...`): the sweep's `job`
// command with the quanta job kind loaded, so quanta sweeps do not depend on the rest of the CLI.

import { Command } from 'commander';
import { registerJob } from '../../cli/commands/job.ts';
import './jobs.ts';

const program = new Command('bitscale-quanta-worker');
registerJob(program);
await program.parseAsync();
