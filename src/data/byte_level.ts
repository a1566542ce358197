// GPT-2's byte-to-unicode map and pre-tokenization regex: the two pieces that make a BPE "byte-level".
//
// Every byte 0..255 gets a printable unicode character (printable bytes map to themselves, the rest to
// U+0100 onwards), so token strings in vocab/merges are plain text: 'Ġ' is a space, 'Ċ' a newline. This is
// exactly the table of OpenAI's encoder.py and Hugging Face's ByteLevel, which is what makes our
// tokenizer.json interchangeable with theirs.

function buildByteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b); // '!'..'~'
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b); // '¡'..'¬'
  for (let b = 0xae; b <= 0xff; b++) printable.push(b); // '®'..'ÿ'
  const table: string[] = new Array(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + next++);
  }
  return table;
}

/** BYTE_TO_UNICODE[b] is the one-character string that stands for byte b in token strings. */
export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();

/** The inverse of BYTE_TO_UNICODE, keyed by UTF-16 code unit (all 256 characters are below U+0144). */
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((ch, b) => [ch, b]));

/**
 * GPT-2's pre-tokenizer: contractions, letters with an optional leading space, numbers, other symbols, and
 * whitespace (a run of spaces keeps its last space for the next word). BPE merges never cross these pieces.
 */
export const GPT2_PRETOKENIZE =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const encoder = new TextEncoder();

/** Splits text into GPT-2 pre-tokens. */
export function pretokenize(text: string): string[] {
  return text.match(GPT2_PRETOKENIZE) ?? [];
}

/** The byte-level form of a piece of text: its UTF-8 bytes, each written as its BYTE_TO_UNICODE character. */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of encoder.encode(text)) out += BYTE_TO_UNICODE[b];
  return out;
}
