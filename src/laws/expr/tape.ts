// An expression compiled to a flat tape of instructions, evaluated point by point with reverse-mode
// differentiation: one forward sweep for values, one backward sweep for d value / d parameter.
// Flat typed arrays, no closures per node, no allocation per evaluation.

import { ExpressionError } from '../errors.ts';
import type { Expr } from './parse.ts';

const Op = {
  Const: 0,
  Variable: 1,
  Param: 2,
  Add: 3,
  Sub: 4,
  Mul: 5,
  Div: 6,
  Pow: 7,
  Neg: 8,
  Exp: 9,
  Log: 10,
  Sqrt: 11,
} as const;
type Op = (typeof Op)[keyof typeof Op];

export class Tape {
  readonly length: number;
  private readonly op: Uint8Array;
  /** Operand slots (earlier instructions), or the constant's/variable's/parameter's index. */
  private readonly a: Int32Array;
  private readonly b: Int32Array;
  private readonly constants: Float64Array;
  /** Whether an instruction depends on any parameter (derivatives flow only into those). */
  private readonly live: Uint8Array;
  private readonly value: Float64Array;
  private readonly adjoint: Float64Array;

  constructor(expr: Expr, variables: readonly string[], params: readonly string[], source: string) {
    const op: number[] = [];
    const a: number[] = [];
    const b: number[] = [];
    const constants: number[] = [];
    const live: number[] = [];
    const emit = (code: Op, x: number, y: number, isLive: boolean) => {
      op.push(code);
      a.push(x);
      b.push(y);
      live.push(isLive ? 1 : 0);
      return op.length - 1;
    };
    const visit = (e: Expr): number => {
      switch (e.kind) {
        case 'number':
          constants.push(e.value);
          return emit(Op.Const, constants.length - 1, 0, false);
        case 'name': {
          const v = variables.indexOf(e.name);
          if (v >= 0) return emit(Op.Variable, v, 0, false);
          const p = params.indexOf(e.name);
          if (p < 0)
            throw new ExpressionError(`'${e.name}' is neither a variable nor a parameter`, source, e.pos);
          return emit(Op.Param, p, 0, true);
        }
        case 'neg': {
          const x = visit(e.arg);
          return emit(Op.Neg, x, 0, live[x] === 1);
        }
        case 'call': {
          const x = visit(e.arg);
          const code = e.fn === 'exp' ? Op.Exp : e.fn === 'log' ? Op.Log : Op.Sqrt;
          return emit(code, x, 0, live[x] === 1);
        }
        case 'binary': {
          const x = visit(e.left);
          const y = visit(e.right);
          const code = { '+': Op.Add, '-': Op.Sub, '*': Op.Mul, '/': Op.Div, '^': Op.Pow }[e.op];
          return emit(code, x, y, live[x] === 1 || live[y] === 1);
        }
      }
    };
    visit(expr);
    this.length = op.length;
    this.op = Uint8Array.from(op);
    this.a = Int32Array.from(a);
    this.b = Int32Array.from(b);
    this.constants = Float64Array.from(constants);
    this.live = Uint8Array.from(live);
    this.value = new Float64Array(op.length);
    this.adjoint = new Float64Array(op.length);
  }

  /** Value at one point; if grad is given, adds d value / d theta into grad (which the caller zeroes). */
  evaluate(theta: Float64Array, point: Float64Array, grad?: Float64Array): number {
    const { op, a, b, value: v, constants, length } = this;
    for (let k = 0; k < length; k++) {
      const x = v[a[k]];
      const y = v[b[k]];
      switch (op[k]) {
        case Op.Const:
          v[k] = constants[a[k]];
          break;
        case Op.Variable:
          v[k] = point[a[k]];
          break;
        case Op.Param:
          v[k] = theta[a[k]];
          break;
        case Op.Add:
          v[k] = x + y;
          break;
        case Op.Sub:
          v[k] = x - y;
          break;
        case Op.Mul:
          v[k] = x * y;
          break;
        case Op.Div:
          v[k] = x / y;
          break;
        case Op.Pow:
          v[k] = x ** y;
          break;
        case Op.Neg:
          v[k] = -x;
          break;
        case Op.Exp:
          v[k] = Math.exp(x);
          break;
        case Op.Log:
          v[k] = Math.log(x);
          break;
        case Op.Sqrt:
          v[k] = Math.sqrt(x);
          break;
      }
    }
    const result = v[length - 1];
    if (grad) this.backward(grad);
    return result;
  }

  private backward(grad: Float64Array): void {
    const { op, a, b, value: v, adjoint: d, live, length } = this;
    d.fill(0);
    d[length - 1] = 1;
    for (let k = length - 1; k >= 0; k--) {
      const g = d[k];
      if (g === 0 || live[k] === 0) continue;
      const i = a[k];
      const j = b[k];
      switch (op[k]) {
        case Op.Param:
          grad[i] += g;
          break;
        case Op.Add:
          d[i] += g;
          d[j] += g;
          break;
        case Op.Sub:
          d[i] += g;
          d[j] -= g;
          break;
        case Op.Mul:
          d[i] += g * v[j];
          d[j] += g * v[i];
          break;
        case Op.Div:
          d[i] += g / v[j];
          d[j] -= (g * v[k]) / v[j];
          break;
        case Op.Pow:
          if (live[i]) d[i] += g * v[j] * v[i] ** (v[j] - 1);
          if (live[j]) d[j] += g * v[k] * Math.log(v[i]);
          break;
        case Op.Neg:
          d[i] -= g;
          break;
        case Op.Exp:
          d[i] += g * v[k];
          break;
        case Op.Log:
          d[i] += g / v[i];
          break;
        case Op.Sqrt:
          d[i] += g / (2 * v[k]);
          break;
      }
    }
  }
}
