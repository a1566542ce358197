// The child process prepareData starts when a streamed corpus is not prepared yet: prepareCorpus with a
// progress bar on stderr; a failure is printed and ends the process with status 1.
import { prepareCorpus } from './prepare_corpus.ts';
import { progressBar } from './progress.ts';

const options = JSON.parse(process.argv[3]);
try {
  const corpus = await prepareCorpus(options, progressBar(`preparing ${options.corpus}`));
  if (process.stderr.isTTY) process.stderr.write('\n');
  process.stderr.write(`prepared ${options.corpus} in ${corpus.dir}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : error}\n`);
  process.exitCode = 1;
}
