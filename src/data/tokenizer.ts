// A byte-level BPE tokenizer: text -> token ids and back, exactly.
//
// Encoding: special tokens are cut out first; the rest is pre-tokenized (GPT-2 regex), each piece turned into
// its byte-level string, and the lowest-ranked merge is applied repeatedly (GPT-2's algorithm). Frequent pieces
// hit a cache. Decoding maps token strings back to bytes and decodes UTF-8, so any valid UTF-8 text round-trips.

import type { BpeModel } from './bpe_train.ts';
import { pretokenize, toByteLevel, UNICODE_TO_BYTE } from './byte_level.ts';
import { TokenizerError } from './errors.ts';

export interface TokenizerOptions {
  /** Prepend a space to text (each piece between special tokens) not starting with one, as HF's add_prefix_space. */
  addPrefixSpace?: boolean;
  /** Look a whole piece up in the vocabulary before merging (Llama-3-style `ignore_merges`). */
  ignoreMerges?: boolean;
  /**
   * Pre-tokenize with this pattern instead of GPT-2's (a tokenizer.json Split pre-tokenizer, as Qwen2 and
   * Llama 3 use): matches and the text between them are the pieces. Needs the 'g' and 'u' flags.
   */
  splitPattern?: RegExp | null;
  /** Unicode NFC normalization of the text before anything else (Qwen2's normalizer). */
  nfc?: boolean;
}

const PAIR_SHIFT = 2 ** 21;
const CACHE_LIMIT = 200_000;

export class Tokenizer {
  readonly vocab: readonly string[];
  readonly merges: readonly [string, string][];
  readonly specialTokens: readonly { content: string; id: number }[];
  readonly options: Required<TokenizerOptions>;
  private readonly ids = new Map<string, number>();
  /** pair key -> rank (index into merges); the merged id is found by rank. */
  private readonly mergeRank = new Map<number, number>();
  private readonly mergeId: number[] = [];
  private readonly specialIds = new Map<string, number>();
  private readonly specialPattern: RegExp | null;
  private readonly cache = new Map<string, number[]>();
  private readonly decoder = new TextDecoder('utf-8');

  constructor(model: BpeModel, options: TokenizerOptions = {}) {
    this.vocab = model.vocab;
    this.merges = model.merges;
    this.specialTokens = model.specialTokens;
    this.options = {
      addPrefixSpace: options.addPrefixSpace ?? false,
      ignoreMerges: options.ignoreMerges ?? false,
      splitPattern: options.splitPattern ?? null,
      nfc: options.nfc ?? false,
    };
    model.vocab.forEach((token, id) => {
      if (token !== undefined) this.ids.set(token, id);
    });
    for (const ch of UNICODE_TO_BYTE.keys()) {
      if (!this.ids.has(ch)) {
        throw new TokenizerError(
          `vocabulary lacks the byte token ${JSON.stringify(ch)} (byte ${UNICODE_TO_BYTE.get(ch)}); a byte-level BPE needs all 256`,
        );
      }
    }
    model.merges.forEach(([a, b], rank) => {
      const left = this.ids.get(a);
      const right = this.ids.get(b);
      const merged = this.ids.get(a + b);
      if (left === undefined || right === undefined || merged === undefined) {
        throw new TokenizerError(
          `merge ${rank} ${JSON.stringify(`${a} ${b}`)} uses a token missing from the vocabulary`,
        );
      }
      const key = left * PAIR_SHIFT + right;
      if (!this.mergeRank.has(key)) this.mergeRank.set(key, rank);
      this.mergeId[rank] = merged;
    });
    for (const { content, id } of model.specialTokens) this.specialIds.set(content, id);
    this.specialPattern =
      model.specialTokens.length === 0
        ? null
        : new RegExp(
            model.specialTokens
              .map((t) => t.content)
              .sort((a, b) => b.length - a.length) // longest first, so overlapping specials match greedily
              .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
              .join('|'),
            'g',
          );
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** The id of a special token such as '<|endoftext|>'. */
  specialId(content: string): number {
    const id = this.specialIds.get(content);
    if (id === undefined) {
      const known = [...this.specialIds.keys()].join(', ') || 'none';
      throw new TokenizerError(`no special token ${JSON.stringify(content)}; this tokenizer has: ${known}`);
    }
    return id;
  }

  /** Token ids of `text`; special-token strings in the text become their ids. */
  encode(text: string): number[] {
    if (this.options.nfc) text = text.normalize('NFC');
    const out: number[] = [];
    if (this.specialPattern === null) {
      this.encodeOrdinary(text, out);
      return out;
    }
    let start = 0;
    for (const match of text.matchAll(this.specialPattern)) {
      this.encodeOrdinary(text.slice(start, match.index), out);
      out.push(this.specialIds.get(match[0])!);
      start = match.index! + match[0].length;
    }
    this.encodeOrdinary(text.slice(start), out);
    return out;
  }

  /** The text of token ids (invalid UTF-8 from a partial sequence decodes to U+FFFD). */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    let text = '';
    const flush = () => {
      text += this.decoder.decode(Uint8Array.from(bytes));
      bytes.length = 0;
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const token = this.vocab[id];
      if (token === undefined) {
        throw new TokenizerError(`token id ${id} is outside the vocabulary [0, ${this.vocab.length})`);
      }
      if (this.specialIds.get(token) === id) {
        flush();
        text += token;
        continue;
      }
      for (const ch of token) bytes.push(UNICODE_TO_BYTE.get(ch)!);
    }
    flush();
    return text;
  }

  private encodeOrdinary(text: string, out: number[]): void {
    if (text.length === 0) return;
    // As HF's ByteLevel: every piece between special tokens gets the space unless it starts with one.
    if (this.options.addPrefixSpace && !text.startsWith(' ')) text = ` ${text}`;
    const pieces = this.options.splitPattern
      ? splitIsolated(text, this.options.splitPattern)
      : pretokenize(text);
    for (const piece of pieces) {
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        ids = this.encodePiece(toByteLevel(piece));
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /** BPE on one pre-token: merge the lowest-ranked adjacent pair until none is left. */
  private encodePiece(byteLevel: string): number[] {
    if (this.options.ignoreMerges) {
      const whole = this.ids.get(byteLevel);
      if (whole !== undefined) return [whole];
    }
    let symbols = Array.from(byteLevel, (ch) => this.ids.get(ch)!);
    while (symbols.length > 1) {
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.mergeRank.get(symbols[i] * PAIR_SHIFT + symbols[i + 1]);
        if (rank !== undefined && rank < bestRank) bestRank = rank;
      }
      if (bestRank === Number.POSITIVE_INFINITY) break;
      const [a, b] = this.merges[bestRank];
      const left = this.ids.get(a)!;
      const right = this.ids.get(b)!;
      const merged = this.mergeId[bestRank];
      const next: number[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
          next.push(merged);
          i++;
        } else {
          next.push(symbols[i]);
        }
      }
      symbols = next;
    }
    return symbols;
  }
}

/** The pieces of a Split pre-tokenizer with behavior Isolated: every match, and every stretch between matches. */
function splitIsolated(text: string, pattern: RegExp): string[] {
  const pieces: string[] = [];
  let start = 0;
  for (const match of text.matchAll(pattern)) {
    if (match[0].length === 0) continue;
    if (match.index! > start) pieces.push(text.slice(start, match.index));
    pieces.push(match[0]);
    start = match.index! + match[0].length;
  }
  if (start < text.length) pieces.push(text.slice(start));
  return pieces;
}
