// Where text comes from: the corpora bitscale ships, a user's text file or folder of .txt files, or a
// pre-tokenized binary. Every failure names the file.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitDocuments, tinyStoriesValidationDocuments } from './documents.ts';
import { CorpusError } from './errors.ts';
import { readTokenFile, type TokenFile } from './token_file.ts';

/** The folder holding the corpora bitscale ships (data/corpora in the package). */
export const EMBEDDED_CORPORA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../data/corpora');

export interface TextCorpus {
  kind: 'text';
  /** A built-in name or the resolved path. */
  name: string;
  documents: string[];
  /** The corpus's own validation documents, when it ships them (TinyStories does). */
  validation: string[] | null;
  /** Files read, for stats and error messages. */
  files: string[];
}

export interface TokenCorpus extends TokenFile {
  kind: 'tokens';
  name: string;
  files: string[];
}

export type Corpus = TextCorpus | TokenCorpus;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads one UTF-8 text file; empty, unreadable or non-UTF-8 files are errors naming the file. */
export function readTextFile(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new CorpusError(path, `cannot read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new CorpusError(path, 'is not valid UTF-8 text');
  }
  if (text.trim().length === 0) throw new CorpusError(path, 'is empty');
  return text;
}

function listTextFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return listTextFiles(path);
      return entry.isFile() && entry.name.endsWith('.txt') ? [path] : [];
    });
}

/** The shipped TinyStories slices: ~2,300 training stories and ~1,000 separate validation stories. */
function tinyStories(): TextCorpus {
  const trainPath = join(EMBEDDED_CORPORA_DIR, 'tinystories_train_slice.txt');
  const valPath = join(EMBEDDED_CORPORA_DIR, 'tinystories_val_slice.txt');
  const train = splitDocuments(readTextFile(trainPath));
  train.pop(); // the slice is the first 2 MiB of the file, so its last story is cut off mid-sentence
  return {
    kind: 'text',
    name: 'tinystories',
    documents: train,
    validation: tinyStoriesValidationDocuments(readTextFile(valPath)),
    files: [trainPath, valPath],
  };
}

function tinyShakespeare(): TextCorpus {
  const path = join(EMBEDDED_CORPORA_DIR, 'tinyshakespeare.txt');
  return {
    kind: 'text',
    name: 'tinyshakespeare',
    documents: splitDocuments(readTextFile(path)),
    validation: null,
    files: [path],
  };
}

/** Names accepted in place of a path. */
export const EMBEDDED_CORPORA: Record<string, () => TextCorpus> = {
  tinystories: tinyStories,
  tinyshakespeare: tinyShakespeare,
};

/**
 * Loads a corpus: an embedded name ('tinystories', 'tinyshakespeare'), a .txt file, a folder of .txt files
 * (read recursively in name order), or a token binary (.bin). Text is split into documents on
 * `<|endoftext|>` or, failing that, on blank lines.
 */
export function loadCorpus(source: string): Corpus {
  const embedded = EMBEDDED_CORPORA[source];
  if (embedded !== undefined) return embedded();
  const path = resolve(source);
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    const known = Object.keys(EMBEDDED_CORPORA).join(', ');
    throw new CorpusError(
      path,
      `cannot read (${(error as NodeJS.ErrnoException).code ?? error}); give a file, a folder, or one of: ${known}`,
    );
  }
  if (isDirectory) {
    const files = listTextFiles(path);
    if (files.length === 0) throw new CorpusError(path, 'folder holds no .txt files');
    const documents = files.flatMap((file) => splitDocuments(readTextFile(file)));
    return { kind: 'text', name: path, documents, validation: null, files };
  }
  if (path.endsWith('.bin')) return { kind: 'tokens', name: path, files: [path], ...readTokenFile(path) };
  return {
    kind: 'text',
    name: path,
    documents: splitDocuments(readTextFile(path)),
    validation: null,
    files: [path],
  };
}
