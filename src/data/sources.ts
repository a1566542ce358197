// Corpora too large to hold in memory, read as streams of documents: a text file, an xz-compressed text file,
// a folder of .txt / .txt.xz / .jsonl files (a "text" field per line), or a folder of pre-tokenized .bin
// shards. Everything about a source is checked (exists, not empty, text not binary) before any work starts.
//
// .xz is read through the `xz -dc` program as a child process (Debian package xz-utils): Node has no xz
// decoder, and xz keeps the shipped Gutenberg corpus at 28 MB, which matters more than a native decoder
// because a GPU call carries at most 64 MiB of working tree. Nothing is ever unpacked to disk.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { EMBEDDED_CORPORA_DIR } from './corpus.ts';
import { END_OF_TEXT } from './documents.ts';
import { CorpusError } from './errors.ts';

/** A corpus read as a stream: its files in order, with its own validation files when it has them. */
export interface StreamSource {
  kind: 'text' | 'shards';
  /** The embedded name or the resolved path. */
  name: string;
  train: string[];
  /** Validation files: the corpus's own (gutenberg, *val* shards) or the `validation` option; else null. */
  val: string[] | null;
  /** Path, size and mtime of every file: what the prepared shards are keyed by. */
  identity: string;
}

/** Text files at least this large (in all) are streamed and sharded instead of read whole. */
export const STREAM_BYTES = 64 * 2 ** 20;

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const TEXT_FILE = /\.(txt|txt\.xz|jsonl)$/;

/** Streamed corpora shipped with bitscale, by name. */
export const STREAMED_CORPORA: Record<string, { train: string; val: string }> = {
  gutenberg: { train: 'gutenberg_train.txt.xz', val: 'gutenberg_val.txt.xz' },
};

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch (error) {
    throw new CorpusError(path, `cannot read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
}

function listFiles(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return listFiles(path, keep);
      return entry.isFile() && keep(entry.name) ? [path] : [];
    });
}

function head(path: string, bytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

/** Uncompressed size of an .xz file from its index (xz --robot --list), or null when xz cannot say. */
function xzSize(path: string): number | null {
  const out = spawnSync('xz', ['--robot', '--list', path], { encoding: 'utf8' });
  const totals = out.stdout?.split('\n').find((line) => line.startsWith('totals'));
  const size = totals === undefined ? Number.NaN : Number(totals.split('\t')[4]);
  return Number.isFinite(size) ? size : null;
}

/** Checks a text file up front: not empty, xz when named so, and its first 64 KiB UTF-8 text without NULs. */
function checkTextFile(path: string): void {
  if (sizeOf(path) === 0) throw new CorpusError(path, 'is empty');
  const start = head(path, 65536);
  if (path.endsWith('.xz')) {
    if (!start.subarray(0, 6).equals(XZ_MAGIC))
      throw new CorpusError(path, 'is named .xz but is not xz data');
    return;
  }
  // A cut in the middle of a UTF-8 sequence at the end of the sample is fine: drop up to 3 trailing bytes.
  let end = start.length;
  while (end > 0 && end > start.length - 3 && (start[end - 1] & 0xc0) === 0x80) end--;
  if (end > 0 && start[end - 1] >= 0xc0) end--;
  const valid = (() => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(start.subarray(0, end));
      return true;
    } catch {
      return false;
    }
  })();
  if (!valid || start.includes(0)) {
    throw new CorpusError(
      path,
      'is binary, not UTF-8 text; allowed: UTF-8 .txt, .txt.xz, .jsonl, or token .bin',
    );
  }
  const text = start.subarray(0, end).toString('utf8');
  if (text.trim().length === 0 && sizeOf(path) <= start.length) {
    throw new CorpusError(path, 'is empty (only whitespace)');
  }
  if (path.endsWith('.jsonl')) {
    // The first whole line shows whether this is JSON lines with text; later lines are checked as read.
    const lines = text.split('\n');
    const whole = lines.length > 1 || sizeOf(path) <= start.length ? lines : [];
    const first = whole.findIndex((line) => line.trim().length > 0);
    if (first >= 0) jsonlText(path, first + 1, whole[first]);
  }
}

/** The text of one .jsonl line; an error naming the file and line when it has none. */
function jsonlText(path: string, line: number, text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CorpusError(`${path}:${line}`, 'is not a JSON object; allowed: one {"text": "..."} per line');
  }
  const doc = (value as { text?: unknown } | null)?.text;
  if (typeof doc !== 'string') {
    throw new CorpusError(
      `${path}:${line}`,
      'has no "text" string field; allowed: one {"text": "..."} per line',
    );
  }
  return doc;
}

function identityOf(files: string[]): string {
  return files
    .map((f) => {
      const s = statSync(f);
      return `${f}\t${s.size}\t${s.mtimeMs}`;
    })
    .join('\n');
}

/** Uncompressed bytes of text files (for progress), or null when xz cannot say. */
export function textBytes(files: string[]): number | null {
  let total = 0;
  for (const f of files) {
    const n = f.endsWith('.xz') ? xzSize(f) : sizeOf(f);
    if (n === null) return null;
    total += n;
  }
  return total;
}

/** The files of a corpus path (file or folder): text files, or .bin shards; errors name the path. */
function filesOf(path: string): { kind: 'text' | 'shards'; files: string[] } {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    throw new CorpusError(
      path,
      `cannot read (${(error as NodeJS.ErrnoException).code ?? error}); give a file, a folder, or one of: tinystories, tinyshakespeare, ${Object.keys(STREAMED_CORPORA).join(', ')}`,
    );
  }
  if (!isDirectory) return { kind: path.endsWith('.bin') ? 'shards' : 'text', files: [path] };
  const text = listFiles(path, (name) => TEXT_FILE.test(name));
  const shards = listFiles(path, (name) => name.endsWith('.bin'));
  if (text.length > 0 && shards.length > 0) {
    throw new CorpusError(path, 'holds both text files and .bin shards; allowed: one kind per folder');
  }
  if (text.length === 0 && shards.length === 0) {
    throw new CorpusError(path, 'holds no .txt, .txt.xz, .jsonl or .bin files');
  }
  return text.length > 0 ? { kind: 'text', files: text } : { kind: 'shards', files: shards };
}

/**
 * The streamed form of a corpus, or null when it is small text that the in-memory path reads whole (the
 * embedded tinystories and tinyshakespeare, .txt files under STREAM_BYTES, one .bin file).
 */
export function streamSource(corpus: string, validation?: string): StreamSource | null {
  const shipped = STREAMED_CORPORA[corpus];
  let name: string;
  let kind: 'text' | 'shards';
  let train: string[];
  let val: string[] | null = null;
  if (shipped !== undefined) {
    name = corpus;
    kind = 'text';
    train = [join(EMBEDDED_CORPORA_DIR, shipped.train)];
    val = [join(EMBEDDED_CORPORA_DIR, shipped.val)];
  } else {
    if (['tinystories', 'tinyshakespeare'].includes(corpus)) return null;
    name = resolve(corpus);
    const found = filesOf(name);
    kind = found.kind;
    train = found.files;
    if (kind === 'shards') {
      if (train.length === 1 && validation === undefined) return null; // one .bin: the in-memory path
      const isVal = (f: string) => /val/i.test(basename(f));
      if (train.some(isVal) && train.some((f) => !isVal(f))) {
        val = train.filter(isVal);
        train = train.filter((f) => !isVal(f));
      }
    } else {
      const plain = train.every((f) => f.endsWith('.txt'));
      const total = train.reduce((sum, f) => sum + sizeOf(f), 0);
      if (plain && total < STREAM_BYTES && (validation === undefined || !/\.(xz|jsonl)$/.test(validation)))
        return null;
    }
  }
  if (validation !== undefined) {
    const found = filesOf(resolve(validation));
    if (found.kind !== kind) {
      throw new CorpusError(resolve(validation), `holds ${found.kind} but the corpus ${name} holds ${kind}`);
    }
    val = found.files;
  }
  if (kind === 'text') for (const f of [...train, ...(val ?? [])]) checkTextFile(f);
  else for (const f of [...train, ...(val ?? [])]) if (sizeOf(f) === 0) throw new CorpusError(f, 'is empty');
  const all = [...train, ...(val ?? [])];
  return {
    kind,
    name,
    train,
    val,
    identity: identityOf(all),
  };
}

/** Decoded UTF-8 text of a file, piece by piece; .xz through `xz -dc`. Errors name the file. */
export async function* textPieces(path: string): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (bytes: Uint8Array, stream: boolean) => {
    try {
      return decoder.decode(bytes, { stream });
    } catch {
      throw new CorpusError(path, 'is not valid UTF-8 text');
    }
  };
  if (!path.endsWith('.xz')) {
    for await (const bytes of createReadStream(path, { highWaterMark: 1 << 20 })) yield decode(bytes, true);
    yield decode(new Uint8Array(0), false);
    return;
  }
  const child = spawn('xz', ['-dc', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((done, fail) => {
    child.on('error', (error: NodeJS.ErrnoException) =>
      fail(
        error.code === 'ENOENT'
          ? new CorpusError(
              path,
              'needs the xz program to read; install it (Debian: apt-get install xz-utils)',
            )
          : error,
      ),
    );
    child.on('close', (code) => done(code));
  });
  exited.catch(() => {}); // surfaced below, after the stream ends
  try {
    for await (const bytes of child.stdout) yield decode(bytes, true);
    yield decode(new Uint8Array(0), false);
    const code = await exited;
    if (code !== 0) throw new CorpusError(path, `xz -dc failed (exit ${code}): ${stderr.trim()}`);
  } finally {
    if (child.exitCode === null) child.kill(); // the reader stopped early (a bounded sample): stop xz too
  }
}

/** Documents longer than this are cut at a line break, so memory stays bounded on text without separators. */
const MAX_DOCUMENT_CHARS = 16 * 2 ** 20;

/** How much text decides the separator: `<|endoftext|>` if it appears in the first 8 MiB, else blank lines. */
const SEPARATOR_WINDOW = 8 * 2 ** 20;

/**
 * Documents of a text file, streamed: split on `<|endoftext|>` when the file's first 8 MiB have one, else on
 * blank lines (as splitDocuments does for a whole text); trimmed, empty ones dropped.
 */
export async function* textDocuments(path: string): AsyncGenerator<string> {
  let buffer = '';
  let separator: RegExp | null = null;
  const emit = function* (parts: string[]) {
    for (const p of parts) {
      const doc = p.trim();
      if (doc.length > 0) yield doc;
    }
  };
  const choose = () =>
    buffer.includes(END_OF_TEXT) ? new RegExp(END_OF_TEXT.replace(/\|/g, '\\|')) : /\n[ \t]*\n/;
  for await (const piece of textPieces(path)) {
    buffer += piece.replace(/\r\n?/g, '\n');
    if (separator === null) {
      if (buffer.length < SEPARATOR_WINDOW) continue;
      separator = choose();
    }
    const parts = buffer.split(separator);
    buffer = parts.pop()!;
    yield* emit(parts);
    if (buffer.length > MAX_DOCUMENT_CHARS) {
      const cut = buffer.lastIndexOf('\n', MAX_DOCUMENT_CHARS) + 1 || MAX_DOCUMENT_CHARS;
      yield* emit([buffer.slice(0, cut)]);
      buffer = buffer.slice(cut);
    }
  }
  yield* emit(separator === null ? buffer.split(choose()) : [buffer]);
}

/** Documents of a .jsonl file: the `text` field of each line. */
export async function* jsonlDocuments(path: string): AsyncGenerator<string> {
  let buffer = '';
  let line = 0;
  const parse = (text: string): string | null => {
    line++;
    if (text.trim().length === 0) return null;
    const doc = jsonlText(path, line, text).trim();
    return doc.length > 0 ? doc : null;
  };
  for await (const piece of textPieces(path)) {
    buffer += piece;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const text of lines) {
      const doc = parse(text);
      if (doc !== null) yield doc;
    }
  }
  const doc = parse(buffer);
  if (doc !== null) yield doc;
}

/** Documents of text files in order. */
export async function* documentsOf(files: readonly string[]): AsyncGenerator<string> {
  for (const file of files) yield* file.endsWith('.jsonl') ? jsonlDocuments(file) : textDocuments(file);
}
