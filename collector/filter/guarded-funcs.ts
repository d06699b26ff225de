/**
 * The CEL functions that can build large values, replaced by versions that check the size
 * before building and charge the evaluation budget, plus a step counter for macro loops.
 *
 * `@bufbuild/cel`'s `replace` rebuilds the whole string once per occurrence (quadratic) and
 * no function bounds what it builds, so `path.replace("", path)` chained a few times runs for
 * minutes. Overloads registered later with the same signature replace the library's; the
 * semantics follow the CEL strings extension (cel-go): `replace(old, new, n)` and
 * `split(sep, n)` with n < 0 mean all, an empty `old` inserts around every character.
 */
import { CelScalar, celFunc, celList, celMethod, listType, type CelList, type parse } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { createEvalBudget, type EvalBudget } from './budget.ts';
import { DEFAULT_FILTER_LIMITS } from './limits.ts';

type CelExpr = ReturnType<typeof parse>['expr'];

const { STRING, INT, BYTES, DYN } = CelScalar;
const LIST = listType(DYN);

/** The function the instrumented loop condition calls: not an identifier users can write. */
export const STEP_FUNCTION = '@budget_step';

/** Evaluation is synchronous: the filter being evaluated sets the budget its functions charge. */
let active: EvalBudget = createEvalBudget(DEFAULT_FILTER_LIMITS);

export function withBudget<T>(budget: EvalBudget, run: () => T): T {
  const previous = active;
  active = budget;
  try {
    return run();
  } finally {
    active = previous;
  }
}

function count(n: bigint | undefined): number {
  if (n === undefined || n < 0n) return Infinity;
  return Number(n);
}

function replace(this: string, old: string, replacement: string, limit?: bigint): string {
  const max = count(limit);
  if (max === 0) return this;
  const cuts: number[] = [];
  if (old === '') {
    // Around every character (code point), as cel-go does, up to `max` insertions.
    let i = 0;
    while (cuts.length < max) {
      cuts.push(i);
      if (i >= this.length) break;
      i += (this.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
    }
  } else {
    for (let at = this.indexOf(old); at !== -1 && cuts.length < max; at = this.indexOf(old, at + old.length)) cuts.push(at);
  }
  if (cuts.length === 0) return this;
  const length = this.length + cuts.length * (replacement.length - old.length);
  active.checkLength(length, 'replace()');
  active.spendBytes(length, 'replace()');
  const parts: string[] = [];
  let from = 0;
  for (const at of cuts) {
    parts.push(this.slice(from, at), replacement);
    from = at + old.length;
  }
  parts.push(this.slice(from));
  return parts.join('');
}

function split(this: string, separator: string, limit?: bigint): CelList {
  const max = count(limit);
  if (max === 0) return celList([]);
  const parts: string[] = [];
  if (separator === '') {
    for (const ch of this) {
      if (parts.length === max - 1) break;
      parts.push(ch);
    }
    const used = parts.reduce((n, p) => n + p.length, 0);
    if (used < this.length || parts.length === 0) parts.push(this.slice(used));
  } else {
    let from = 0;
    for (let at = this.indexOf(separator); at !== -1 && parts.length < max - 1; at = this.indexOf(separator, from)) {
      parts.push(this.slice(from, at));
      from = at + separator.length;
    }
    parts.push(this.slice(from));
  }
  active.spendSteps(parts.length, 'split()');
  active.spendBytes(this.length, 'split()');
  return celList(parts);
}

function join(this: CelList, separator = ''): string {
  let length = 0;
  const items: string[] = [];
  for (const item of this) {
    if (typeof item !== 'string') throw new Error('join: list contains non-string value');
    length += item.length;
    items.push(item);
  }
  length += Math.max(0, items.length - 1) * separator.length;
  active.checkLength(length, 'join()');
  active.spendSteps(items.length, 'join()');
  active.spendBytes(length, 'join()');
  return items.join(separator);
}

function concatStrings(left: string, right: string): string {
  const length = left.length + right.length;
  active.checkLength(length, "string '+'");
  active.spendBytes(length, "string '+'");
  return left + right;
}

function concatBytes(left: Uint8Array, right: Uint8Array): Uint8Array {
  const length = left.length + right.length;
  active.checkLength(length, "bytes '+'");
  active.spendBytes(length, "bytes '+'");
  const out = new Uint8Array(length);
  out.set(left);
  out.set(right, left.length);
  return out;
}

function concatLists(left: CelList, right: CelList): CelList {
  // Flat copies: the library's lazy concatenation nests once per `map` step, and walking a
  // list nested thousands deep is quadratic. The copy is charged instead.
  const size = left.size + right.size;
  active.checkLength(size, "list '+'");
  active.spendSteps(size, "list '+'");
  return celList([...left, ...right]);
}

function lowerAscii(this: string): string {
  active.spendBytes(this.length, 'lowerAscii()');
  return this.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

function upperAscii(this: string): string {
  active.spendBytes(this.length, 'upperAscii()');
  return this.replace(/[a-z]+/g, (s) => s.toUpperCase());
}

export const GUARDED_FUNCS = [
  ...strings,
  celMethod('replace', STRING, [STRING, STRING], STRING, replace),
  celMethod('replace', STRING, [STRING, STRING, INT], STRING, replace),
  celMethod('split', STRING, [STRING], LIST, split),
  celMethod('split', STRING, [STRING, INT], LIST, split),
  celMethod('join', LIST, [], STRING, join),
  celMethod('join', LIST, [STRING], STRING, join),
  celMethod('lowerAscii', STRING, [], STRING, lowerAscii),
  celMethod('upperAscii', STRING, [], STRING, upperAscii),
  celFunc('_+_', [STRING, STRING], STRING, concatStrings),
  celFunc('_+_', [BYTES, BYTES], BYTES, concatBytes),
  celFunc('_+_', [LIST, LIST], LIST, concatLists),
  celFunc(STEP_FUNCTION, [DYN], DYN, (value) => {
    active.spendSteps(1, 'a macro (all, exists, exists_one, map, filter) iteration');
    return value;
  }),
];

/**
 * A copy of the expression whose every macro loop condition passes through the step
 * function, so each iteration is charged. Only the planner sees the copy; checking and
 * pushdown read the original. The checker has bounded the depth, so recursion is safe.
 */
export function instrumentLoops(e: CelExpr): CelExpr {
  const kind = e.exprKind;
  switch (kind.case) {
    case 'selectExpr':
      return { ...e, exprKind: { case: 'selectExpr', value: { ...kind.value, operand: kind.value.operand && instrumentLoops(kind.value.operand) } } };
    case 'callExpr':
      return {
        ...e,
        exprKind: {
          case: 'callExpr',
          value: { ...kind.value, target: kind.value.target && instrumentLoops(kind.value.target), args: kind.value.args.map(instrumentLoops) },
        },
      };
    case 'listExpr':
      return { ...e, exprKind: { case: 'listExpr', value: { ...kind.value, elements: kind.value.elements.map(instrumentLoops) } } };
    case 'structExpr':
      return {
        ...e,
        exprKind: {
          case: 'structExpr',
          value: {
            ...kind.value,
            entries: kind.value.entries.map((entry) => ({
              ...entry,
              keyKind: entry.keyKind.case === 'mapKey' ? { case: 'mapKey', value: instrumentLoops(entry.keyKind.value) } : entry.keyKind,
              value: entry.value && instrumentLoops(entry.value),
            })),
          },
        },
      };
    case 'comprehensionExpr': {
      const c = kind.value;
      const condition = c.loopCondition && instrumentLoops(c.loopCondition);
      const counted: CelExpr | undefined = condition && {
        ...condition,
        exprKind: { case: 'callExpr', value: { $typeName: 'cel.expr.Expr.Call', function: STEP_FUNCTION, args: [condition], target: undefined } },
      };
      return {
        ...e,
        exprKind: {
          case: 'comprehensionExpr',
          value: {
            ...c,
            iterRange: c.iterRange && instrumentLoops(c.iterRange),
            accuInit: c.accuInit && instrumentLoops(c.accuInit),
            loopCondition: counted,
            loopStep: c.loopStep && instrumentLoops(c.loopStep),
            result: c.result && instrumentLoops(c.result),
          },
        },
      };
    }
    default:
      return e;
  }
}
