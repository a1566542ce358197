// Recursive-descent parser for law expressions, e.g. "E + A/N^alpha + B/D^beta".
//   expr   := term (('+' | '-') term)*
//   term   := unary (('*' | '/') unary)*
//   unary  := ('-' | '+') unary | power
//   power  := atom ('^' unary)?          right-associative: a^b^c = a^(b^c); -x^2 = -(x^2)
//   atom   := number | name | name '(' expr ')' | '(' expr ')'

import { ExpressionError } from '../errors.ts';
import type { Token } from './tokenize.ts';
import { tokenize } from './tokenize.ts';

export const FUNCTIONS = ['exp', 'log', 'sqrt'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

export type Expr =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'name'; readonly name: string; readonly pos: number }
  | { readonly kind: 'neg'; readonly arg: Expr }
  | {
      readonly kind: 'binary';
      readonly op: '+' | '-' | '*' | '/' | '^';
      readonly left: Expr;
      readonly right: Expr;
    }
  | { readonly kind: 'call'; readonly fn: FunctionName; readonly arg: Expr };

/** Deeper nesting than any law needs; the bound keeps the recursive descent (and compile) off the stack limit. */
export const MAX_DEPTH = 200;

export function parseExpression(source: string): Expr {
  if (typeof source !== 'string') throw new ExpressionError(`expected a string, got ${typeof source}`, '', 0);
  const tokens = tokenize(source);
  let k = 0;
  let depth = 0;
  const peek = () => tokens[k];
  const isOp = (text: string) => {
    const t = tokens[k];
    return t.kind === 'op' && t.text === text;
  };
  const fail = (message: string, t: Token = tokens[k]): never => {
    throw new ExpressionError(message, source, t.pos);
  };
  const describe = (t: Token) =>
    t.kind === 'end'
      ? 'end of input'
      : t.kind === 'number'
        ? `number ${t.value}`
        : `'${t.kind === 'name' ? t.text : t.text}'`;

  const expr = (): Expr => {
    let left = term();
    while (isOp('+') || isOp('-')) {
      const op = (tokens[k++] as { text: '+' | '-' }).text;
      left = { kind: 'binary', op, left, right: term() };
    }
    return left;
  };
  const term = (): Expr => {
    let left = unary();
    while (isOp('*') || isOp('/')) {
      const op = (tokens[k++] as { text: '*' | '/' }).text;
      left = { kind: 'binary', op, left, right: unary() };
    }
    return left;
  };
  // Every level of nesting ('(', f(, unary signs, the right side of ^) passes through here once.
  const unary = (): Expr => {
    if (++depth > MAX_DEPTH) fail(`the expression nests deeper than ${MAX_DEPTH} levels`);
    let result: Expr;
    if (isOp('-')) {
      k++;
      result = { kind: 'neg', arg: unary() };
    } else if (isOp('+')) {
      k++;
      result = unary();
    } else result = power();
    depth--;
    return result;
  };
  const power = (): Expr => {
    const base = atom();
    if (!isOp('^')) return base;
    k++;
    return { kind: 'binary', op: '^', left: base, right: unary() };
  };
  const atom = (): Expr => {
    const t = peek();
    if (t.kind === 'number') {
      k++;
      return { kind: 'number', value: t.value };
    }
    if (t.kind === 'name') {
      k++;
      if (!isOp('(')) return { kind: 'name', name: t.text, pos: t.pos };
      if (!(FUNCTIONS as readonly string[]).includes(t.text)) {
        fail(`unknown function '${t.text}' (known: ${FUNCTIONS.join(', ')})`, t);
      }
      k++;
      const arg = expr();
      if (!isOp(')')) fail(`expected ')' to close ${t.text}( but found ${describe(peek())}`);
      k++;
      return { kind: 'call', fn: t.text as FunctionName, arg };
    }
    if (isOp('(')) {
      k++;
      const inner = expr();
      if (!isOp(')')) fail(`expected ')' but found ${describe(peek())}`);
      k++;
      return inner;
    }
    return fail(`expected a number, a name or '(' but found ${describe(t)}`);
  };

  const result = expr();
  if (peek().kind !== 'end') fail(`unexpected ${describe(peek())}`);
  return result;
}

/** Names used in the expression, in order of first appearance. */
export function namesIn(expr: Expr, out: string[] = []): string[] {
  switch (expr.kind) {
    case 'number':
      return out;
    case 'name':
      if (!out.includes(expr.name)) out.push(expr.name);
      return out;
    case 'neg':
    case 'call':
      return namesIn(expr.arg, out);
    case 'binary':
      namesIn(expr.left, out);
      return namesIn(expr.right, out);
  }
}
