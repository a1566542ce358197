// Starts a TypeScript module in a worker thread or a child process. Neither inherits the tsx loader that
// bin/bitscale.mjs registers in its own thread, so this registers it, then imports the module named by
// workerData.module (worker) or the first argument (child process).
import { isMainThread, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(isMainThread ? process.argv[2] : workerData.module);
