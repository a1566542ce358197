// Tokens of the law expression language: numbers, identifiers, + - * / ^ ** ( ) and commas.

import { ExpressionError } from '../errors.ts';

export type Token =
  | { readonly kind: 'number'; readonly value: number; readonly pos: number }
  | { readonly kind: 'name'; readonly text: string; readonly pos: number }
  | {
      readonly kind: 'op';
      readonly text: '+' | '-' | '*' | '/' | '^' | '(' | ')' | ',';
      readonly pos: number;
    }
  | { readonly kind: 'end'; readonly pos: number };

// Sticky patterns match at lastIndex, so long sources are scanned in linear time (no slicing per token).
const NUMBER = /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const SPACE = /\s/;

function matchAt(pattern: RegExp, source: string, pos: number): string | null {
  pattern.lastIndex = pos;
  return pattern.exec(source)?.[0] ?? null;
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  while (pos < source.length) {
    const ch = source[pos];
    if (SPACE.test(ch)) {
      pos++;
      continue;
    }
    const num = matchAt(NUMBER, source, pos);
    if (num) {
      const value = Number(num);
      if (!Number.isFinite(value))
        throw new ExpressionError(`the number ${num} is out of range`, source, pos);
      tokens.push({ kind: 'number', value, pos });
      pos += num.length;
      continue;
    }
    const name = matchAt(NAME, source, pos);
    if (name) {
      tokens.push({ kind: 'name', text: name, pos });
      pos += name.length;
      continue;
    }
    if (source.startsWith('**', pos)) {
      tokens.push({ kind: 'op', text: '^', pos });
      pos += 2;
      continue;
    }
    if ('+-*/^(),'.includes(ch)) {
      tokens.push({ kind: 'op', text: ch as '+', pos });
      pos++;
      continue;
    }
    throw new ExpressionError(`unexpected character '${ch}'`, source, pos);
  }
  tokens.push({ kind: 'end', pos });
  return tokens;
}
