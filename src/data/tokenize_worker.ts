// A worker thread of `bitscale data prepare`: tokenizes groups of documents into shard files, one per message.
import { parentPort, workerData } from 'node:worker_threads';
import { END_OF_TEXT } from './documents.ts';
import { tokenizeDocuments } from './shards.ts';
import { writeTokenFile } from './token_file.ts';
import { loadTokenizer } from './tokenizer_json.ts';

export interface ShardJob {
  documents: string[];
  path: string;
}

export interface ShardDone {
  path: string;
  tokens: number;
  sha256: string;
}

const tokenizer = loadTokenizer((workerData as { tokenizerPath: string }).tokenizerPath);
const eotId = tokenizer.specialId(END_OF_TEXT);
parentPort!.on('message', (job: ShardJob) => {
  const tokens = tokenizeDocuments(job.documents, tokenizer, eotId);
  const sha256 = writeTokenFile(job.path, tokens, tokenizer.vocabSize);
  parentPort!.postMessage({ path: job.path, tokens: tokens.length, sha256 } satisfies ShardDone);
});
