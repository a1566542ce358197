// Turning raw text into documents: the unit the train/validation split and the end-of-text token work on.

/** The separator GPT-2-style corpora put between documents. */
export const END_OF_TEXT = '<|endoftext|>';

/**
 * Splits text into documents: on `<|endoftext|>` when the text has one, otherwise on blank lines.
 * Documents are trimmed of surrounding whitespace; empty ones are dropped.
 */
export function splitDocuments(text: string): string[] {
  const text_ = text.replace(/\r\n?/g, '\n');
  const parts = text_.includes(END_OF_TEXT) ? text_.split(END_OF_TEXT) : text_.split(/\n[ \t]*\n/);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

// The TinyStories V1 validation text was once decoded as Windows-1252 and re-encoded, so curly quotes and
// dashes appear as 'â€œ' and the like; byte 0x9D has no cp1252 character, so '”' lost its last byte and
// shows as a bare 'â€'. Longest patterns first.
const MOJIBAKE: [string, string][] = [
  ['â€œ', '“'],
  ['â€™', '’'],
  ['â€˜', '‘'],
  ['â€”', '—'],
  ['â€“', '–'],
  ['â€¦', '…'],
  ['â€Š', '\u200a'],
  ['â€', '”'],
];

/** Repairs the cp1252 mojibake of the TinyStories validation text. */
export function repairMojibake(text: string): string {
  for (const [bad, good] of MOJIBAKE) text = text.split(bad).join(good);
  return text;
}

// Openings that start a TinyStories story and, in the training slice (where story boundaries are known),
// never start a later paragraph of one.
const STORY_OPENING =
  /^(Once upon a time|Once,? there (was|were|lived)|There once (was|were|lived)|One day, there)/;

/**
 * Documents of the TinyStories validation slice, whose stories and paragraphs are both separated by blank
 * lines: a paragraph that opens like a story starts a new document, the others join the current one with a
 * newline (the training slice's own paragraph separator). Stories opening any other way stay joined to the
 * one before: a missing end-of-text token costs a little; a spurious one mid-story would teach a wrong one.
 */
export function tinyStoriesValidationDocuments(text: string): string[] {
  const paragraphs = repairMojibake(text)
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const docs: string[] = [];
  for (const p of paragraphs) {
    if (docs.length === 0 || STORY_OPENING.test(p)) docs.push(p);
    else docs[docs.length - 1] += `\n${p}`;
  }
  return docs;
}
