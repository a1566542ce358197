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

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  while (pos < source.length) {
    const rest = source.slice(pos);
    const ch = source[pos];
    if (/\s/.test(ch)) {
      pos++;
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num) {
      tokens.push({ kind: 'number', value: Number(num[0]), pos });
      pos += num[0].length;
      continue;
    }
    const name = NAME.exec(rest);
    if (name) {
      tokens.push({ kind: 'name', text: name[0], pos });
      pos += name[0].length;
      continue;
    }
    if (rest.startsWith('**')) {
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
