/**
 * The compile-time half of the filter limits: the expression's node count, the RE2 program
 * size of constant `matches()` patterns, and a static estimate of what one record's
 * evaluation may build (string lengths through `replace`, `split`, `join`, `+`) and how many
 * macro iterations it may run. The estimate assumes a record's strings and collections are
 * at most SIZE_HINTS big; a filter whose estimate is over a limit is refused with a 400
 * before it runs. Real records can be bigger than the hints, so the run-time budget
 * (`budget.ts`, `guarded-funcs.ts`) still guards every evaluation.
 */
import { walk, type CelExpr, type ParsedFilter } from './ast.ts';
import { COL_ERR_FILTER_COST, COL_ERR_FILTER_REGEX_SIZE, COL_ERR_FILTER_TOO_COMPLEX, buildFilterError, type FilterError, type FilterErrorCode } from './errors.ts';
import { SIZE_HINTS, type FilterLimits } from './limits.ts';
import { RegexTooLarge } from './regex-cache.ts';


/** Counts nodes iteratively (the expression may be nested too deep to recurse), stopping past `max`. */
export function countNodes(root: CelExpr, max: number): number {
  let n = 0;
  walk(root, () => ++n <= max);
  return n;
}

/** The size check before type checking: refuses huge expressions before any recursive walk. */
export function checkExpressionSize(parsed: ParsedFilter, source: string, limits: FilterLimits): FilterError | undefined {
  const nodes = countNodes(parsed.expr, limits.maxAstNodes);
  if (nodes > limits.maxAstNodes) {
    return buildFilterError(COL_ERR_FILTER_TOO_COMPLEX, `expression has more than ${limits.maxAstNodes} nodes (maxAstNodes)`, source, 0);
  }
  return undefined;
}

/**
 * What one value may be at most: `len` is the length of a string or bytes, or of each element
 * of a list; `count` the elements of a list or entries of a map; `total` the summed length of
 * a list's elements.
 */
interface Size {
  len: number;
  count: number;
  total: number;
}

/** A value the estimate knows nothing about: a record field. */
const FIELD: Size = { len: SIZE_HINTS.field, count: SIZE_HINTS.entries, total: SIZE_HINTS.field * SIZE_HINTS.entries };
const BODY: Size = { len: SIZE_HINTS.body, count: SIZE_HINTS.body, total: SIZE_HINTS.body };
const SCALAR: Size = { len: 32, count: 0, total: 0 };

class CostFailure {
  readonly code: FilterErrorCode;
  readonly message: string;
  readonly offset: number;
  constructor(code: FilterErrorCode, message: string, offset: number) {
    this.code = code;
    this.message = message;
    this.offset = offset;
  }
}

function constantString(e: CelExpr | undefined): string | undefined {
  return e?.exprKind.case === 'constExpr' && e.exprKind.value.constantKind.case === 'stringValue' ? e.exprKind.value.constantKind.value : undefined;
}

function constantInt(e: CelExpr | undefined): number | undefined {
  if (e?.exprKind.case !== 'constExpr') return undefined;
  const c = e.exprKind.value.constantKind;
  return c.case === 'int64Value' ? Number(c.value) : undefined;
}

/** How many times `replace` may substitute in a string of `len`, given its `old` and limit arguments. */
function replacements(len: number, old: CelExpr, limit: CelExpr | undefined): number {
  const oldText = constantString(old);
  const all = oldText !== undefined && oldText.length > 0 ? Math.floor(len / oldText.length) : len + 1;
  const n = constantInt(limit);
  return n !== undefined && n >= 0 ? Math.min(n, all) : all;
}

const mul = (a: number, b: number): number => (a === 0 || b === 0 ? 0 : a * b);

class Estimator {
  private readonly scopes: Array<Map<string, Size>> = [];
  /** Macro iterations in the worst case for one record. */
  steps = 0;
  private readonly positions: Record<string, number>;
  private readonly limits: FilterLimits;
  private readonly compileRegex: (pattern: string) => unknown;

  constructor(parsed: ParsedFilter, limits: FilterLimits, compileRegex: (pattern: string) => unknown) {
    this.positions = (parsed.sourceInfo?.positions ?? {}) as Record<string, number>;
    this.limits = limits;
    this.compileRegex = compileRegex;
  }

  private at(e: CelExpr): number {
    return this.positions[String(e.id)] ?? 0;
  }

  private string(size: Size, what: string, e: CelExpr): Size {
    if (size.len > this.limits.maxStringLength) {
      throw new CostFailure(
        COL_ERR_FILTER_COST,
        `${what} may build a string of up to ${Math.min(size.len, Number.MAX_SAFE_INTEGER)} characters, over the limit of ${this.limits.maxStringLength} (maxStringLength; a body is assumed to hold up to ${SIZE_HINTS.body} characters, other fields ${SIZE_HINTS.field})`,
        this.at(e),
      );
    }
    return size;
  }

  /** Cost of evaluating `e` once; `steps` accumulates the iterations of the macros inside. */
  size(e: CelExpr): Size {
    const kind = e.exprKind;
    switch (kind.case) {
      case 'constExpr': {
        const c = kind.value.constantKind;
        if (c.case === 'stringValue' || c.case === 'bytesValue') return { len: c.value.length, count: 0, total: 0 };
        return SCALAR;
      }
      case 'identExpr': {
        for (let i = this.scopes.length - 1; i >= 0; i--) {
          const bound = this.scopes[i].get(kind.value.name);
          if (bound !== undefined) return bound;
        }
        return FIELD;
      }
      case 'selectExpr': {
        if (kind.value.operand !== undefined) this.size(kind.value.operand);
        return kind.value.field === 'body' ? BODY : FIELD;
      }
      case 'listExpr': {
        const items = kind.value.elements.map((x) => this.size(x));
        return { len: Math.max(0, ...items.map((s) => s.len)), count: items.length, total: items.reduce((n, s) => n + s.len, 0) };
      }
      case 'structExpr': {
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === 'mapKey') this.size(entry.keyKind.value);
          if (entry.value !== undefined) this.size(entry.value);
        }
        return { ...FIELD, count: kind.value.entries.length };
      }
      case 'comprehensionExpr':
        return this.comprehension(kind.value, e);
      case 'callExpr':
        return this.call(kind.value, e);
      default:
        return FIELD;
    }
  }

  private comprehension(c: Extract<CelExpr['exprKind'], { case: 'comprehensionExpr' }>['value'], e: CelExpr): Size {
    const range = c.iterRange !== undefined ? this.size(c.iterRange) : FIELD;
    const init = c.accuInit !== undefined ? this.size(c.accuInit) : SCALAR;
    const element: Size = { ...FIELD, len: range.len };
    const before = this.steps;
    this.steps = 0;
    this.scopes.push(new Map([[c.iterVar, element], [c.accuVar, init]]));
    let step: Size = init;
    try {
      if (c.loopCondition !== undefined) this.size(c.loopCondition);
      if (c.loopStep !== undefined) step = this.size(c.loopStep);
    } finally {
      this.scopes.pop();
    }
    const iterations = range.count;
    // A list built by `map`/`filter` gains at most one element per iteration.
    const accu: Size = { len: Math.max(init.len, step.len), count: init.count + iterations, total: init.total + mul(iterations, step.len) };
    const inner = this.steps;
    this.steps = before + iterations + mul(iterations, inner);
    if (this.steps > this.limits.maxEvalSteps) {
      throw new CostFailure(
        COL_ERR_FILTER_COST,
        `the macros may run about ${Math.min(this.steps, Number.MAX_SAFE_INTEGER)} iterations for one record, over the limit of ${this.limits.maxEvalSteps} (maxEvalSteps; lists and maps are assumed to hold up to ${SIZE_HINTS.entries} entries, a split body up to ${SIZE_HINTS.body})`,
        this.at(e),
      );
    }
    this.scopes.push(new Map([[c.accuVar, accu]]));
    try {
      return c.result !== undefined ? this.size(c.result) : SCALAR;
    } finally {
      this.scopes.pop();
    }
  }

  private call(call: Extract<CelExpr['exprKind'], { case: 'callExpr' }>['value'], e: CelExpr): Size {
    const target = call.target !== undefined ? this.size(call.target) : undefined;
    const args = call.args.map((a) => this.size(a));
    switch (call.function) {
      case 'replace': {
        if (target === undefined || args.length < 2) return FIELD;
        const k = replacements(target.len, call.args[0], call.args[2]);
        const oldLen = constantString(call.args[0])?.length ?? 0;
        return this.string({ len: target.len + mul(k, Math.max(0, args[1].len - oldLen)), count: 0, total: 0 }, 'replace()', e);
      }
      case 'split': {
        if (target === undefined) return FIELD;
        const n = constantInt(call.args[1]);
        const count = n !== undefined && n >= 0 ? Math.min(n, target.len + 1) : target.len + 1;
        return { len: target.len, count, total: target.len };
      }
      case 'join': {
        if (target === undefined) return FIELD;
        const sep = args[0]?.len ?? 0;
        return this.string({ len: target.total + mul(Math.max(0, target.count - 1), sep), count: 0, total: 0 }, 'join()', e);
      }
      case '_+_': {
        const [l, r] = args;
        if (l === undefined || r === undefined) return FIELD;
        return this.string({ len: l.len + r.len, count: l.count + r.count, total: l.total + r.total }, "'+'", e);
      }
      case 'lowerAscii':
      case 'upperAscii':
      case 'trim':
      case 'substring':
        return target !== undefined ? { len: target.len, count: 0, total: 0 } : FIELD;
      case 'charAt':
        return { len: 2, count: 0, total: 0 };
      case 'string':
      case 'bytes':
      case 'dyn':
        return args[0] !== undefined ? { ...args[0], len: Math.max(args[0].len, SCALAR.len) * (call.function === 'bytes' ? 3 : 1) } : FIELD;
      case 'matches':
        this.regex(call.args[0]);
        return SCALAR;
      case '_?_:_': {
        const [, a, b] = args;
        if (a === undefined || b === undefined) return FIELD;
        return { len: Math.max(a.len, b.len), count: Math.max(a.count, b.count), total: Math.max(a.total, b.total) };
      }
      case '_[_]': {
        const container = args[0];
        return container !== undefined ? { ...FIELD, len: container.len } : FIELD;
      }
      default:
        return SCALAR;
    }
  }

  private regex(arg: CelExpr | undefined): void {
    const pattern = constantString(arg);
    if (pattern === undefined || arg === undefined) return;
    try {
      this.compileRegex(pattern);
    } catch (err) {
      // A pattern RE2 rejects is the checker's COL_ERR_FILTER_REGEX; only the size is ours.
      if (err instanceof RegexTooLarge) throw new CostFailure(COL_ERR_FILTER_REGEX_SIZE, `invalid regular expression ${JSON.stringify(pattern.length > 60 ? pattern.slice(0, 60) + '…' : pattern)}: ${err.message}`, this.at(arg));
    }
  }
}

/**
 * The static estimate, run after type checking (which bounds the depth). `compileRegex`
 * compiles a constant pattern the way evaluation will (the shared cache), throwing
 * `RegexTooLarge` when it is over the limits.
 */
export function checkFilterCost(parsed: ParsedFilter, source: string, limits: FilterLimits, compileRegex: (pattern: string) => unknown): FilterError | undefined {
  try {
    new Estimator(parsed, limits, compileRegex).size(parsed.expr);
    return undefined;
  } catch (err) {
    if (err instanceof CostFailure) return buildFilterError(err.code, err.message, source, skipSpace(source, err.offset));
    throw err;
  }
}

/** The parser places an operator at the whitespace before it; point at the operator. */
function skipSpace(source: string, offset: number): number {
  let at = offset;
  while (at < source.length && /\s/.test(source[at])) at++;
  return at < source.length ? at : offset;
}
