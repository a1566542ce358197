// The train/validation split for corpora without their own validation text: by document, by a hash of the
// document's content, so the assignment of one document never depends on the others (adding documents moves
// none of the old ones, and duplicates land on the same side, so none leak into validation).

import { createHash } from 'node:crypto';
import { DataArgumentError } from './errors.ts';

/** A number in [0, 1) fixed by the content: the first 32 bits of its SHA-256. */
export function contentFraction(content: string | Uint8Array): number {
  return createHash('sha256').update(content).digest().readUInt32BE(0) / 2 ** 32;
}

/** True when a document belongs to the validation side for the given fraction. */
export function isValidationDocument(content: string | Uint8Array, valFraction: number): boolean {
  return contentFraction(content) < valFraction;
}

export function checkValFraction(valFraction: number): void {
  if (!(valFraction > 0 && valFraction < 1)) {
    throw new DataArgumentError('valFraction', valFraction, 'a number strictly between 0 and 1');
  }
}

/** Splits documents into train and validation by content hash. */
export function splitByHash<T extends string | Uint8Array>(
  documents: T[],
  valFraction: number,
): { train: T[]; val: T[] } {
  checkValFraction(valFraction);
  const train: T[] = [];
  const val: T[] = [];
  for (const doc of documents) (isValidationDocument(doc, valFraction) ? val : train).push(doc);
  return { train, val };
}
