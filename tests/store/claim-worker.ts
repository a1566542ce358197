// Helper process for the claim race test: claims the same run as its siblings and prints the outcome.
import { RunStore } from '../../src/store/run-store.ts';

const [storePath, id] = process.argv.slice(2);
const store = RunStore.open(storePath);
// Claim in the name of the test process, which outlives us: a claim by a pid that has exited would
// rightly be taken over as stale by the next claimer.
const r = store.claim(id, { pid: process.ppid });
process.stdout.write(JSON.stringify({ pid: process.pid, ok: r.ok }));
store.close();
