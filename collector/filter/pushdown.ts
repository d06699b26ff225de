/**
 * Filter pushdown: the part of a filter SQLite can evaluate on the `calls` table, so the
 * store reads only candidate rows and evaluates the full filter on those.
 *
 * The translation relies on one correspondence: an absent record field is SQL NULL in its
 * column, and a CEL comparison on an absent field is an error value that `&&`, `||` and `!`
 * propagate exactly as SQL's three-valued logic propagates NULL (false AND x = false,
 * true OR x = true, NOT x = x). So a translated predicate is true for a row exactly when the
 * CEL predicate is true for the record, and a row whose predicate is NULL or false is a
 * record the filter does not match.
 *
 * A part that cannot be translated is dropped from a conjunction (the result is then a
 * superset, `exact` false) and makes a disjunction or negation untranslatable; negation is
 * applied only to exact translations, because NOT of a superset is not a superset.
 */
import { celEnv, isCelError, plan } from '@bufbuild/cel';
import { MAX_FILTER_DEPTH, type CelExpr } from './ast.ts';
import type { CompiledFilter } from './compile.ts';
import { countNodes } from './cost.ts';
import { DEFAULT_FILTER_LIMITS } from './limits.ts';
import { PROTOCOL_FLAGS } from './variables.ts';
import { CALLS_COLUMNS, CALLS_COLUMN_BY_PATH, TRACE_ID_MATCH } from '../store/calls-schema.ts';

// The `calls` columns and the field paths they answer are defined once, with the table.
export { CALLS_COLUMNS, type CallsColumnKind } from '../store/calls-schema.ts';

export type SqlParam = string | number | Uint8Array;

export interface SqlPushdown {
  /** A SQLite boolean expression over `calls` columns with `?` placeholders; `1` when nothing could be pushed. */
  where: string;
  params: SqlParam[];
  /**
   * True when `where` is only a pre-filter: the rows it selects must still be checked with
   * the compiled filter. False when `where` selects exactly the matching rows.
   */
  residual: boolean;
}

const COMPARISONS: Record<string, string> = {
  '_==_': '=',
  '_!=_': '!=',
  '_<_': '<',
  '_<=_': '<=',
  '_>_': '>',
  '_>=_': '>=',
};
const MIRRORED: Record<string, string> = { '_<_': '_>_', '_<=_': '_>=_', '_>_': '_<_', '_>=_': '_<=_', '_==_': '_==_', '_!=_': '_!=_' };

interface Fragment {
  sql: string;
  params: SqlParam[];
  /** True when the fragment is true for exactly the records the CEL expression is true for. */
  exact: boolean;
}

type Literal =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'timestamp'; ns: bigint };

const env = celEnv();

/** The field path of `ident`, `a.b` or `a.b.c` selections (not presence tests). */
function fieldPath(e: CelExpr): string[] | undefined {
  const path: string[] = [];
  let current = e;
  while (current.exprKind.case === 'selectExpr') {
    if (current.exprKind.value.testOnly || current.exprKind.value.operand === undefined) return undefined;
    path.unshift(current.exprKind.value.field);
    current = current.exprKind.value.operand;
  }
  if (current.exprKind.case !== 'identExpr') return undefined;
  path.unshift(current.exprKind.value.name);
  return path;
}

/** Maps a field path to its column: `status_code`, `call.status_code`, `src.pod`, `tls.mesh`, ... */
function columnForPath(path: readonly string[]): string | undefined {
  const p = path[0] === 'call' ? path.slice(1) : path;
  // A field name holding a dot (a quoted CEL field) must not pass for a nested path.
  return p.length <= 2 && !p.some((f) => f.includes('.')) ? CALLS_COLUMN_BY_PATH.get(p.join('.')) : undefined;
}

function columnOf(e: CelExpr): string | undefined {
  const path = fieldPath(e);
  return path === undefined ? undefined : columnForPath(path);
}

function literalOf(e: CelExpr): Literal | undefined {
  const kind = e.exprKind;
  if (kind.case === 'constExpr') {
    const c = kind.value.constantKind;
    switch (c.case) {
      case 'stringValue':
        return { kind: 'string', value: c.value };
      case 'boolValue':
        return { kind: 'bool', value: c.value };
      case 'int64Value':
      case 'uint64Value': {
        const n = Number(c.value);
        // Beyond 2^53 a JS number would round, and the pushed comparison could drop a match.
        return Number.isSafeInteger(n) && BigInt(n) === c.value ? { kind: 'number', value: n } : undefined;
      }
      case 'doubleValue':
        return Number.isFinite(c.value) ? { kind: 'number', value: c.value } : undefined;
      default:
        return undefined;
    }
  }
  // timestamp("2024-01-01T00:00:00Z"): a constant the evaluator can compute now.
  if (
    kind.case === 'callExpr' &&
    kind.value.function === 'timestamp' &&
    kind.value.target === undefined &&
    kind.value.args.length === 1 &&
    kind.value.args[0].exprKind.case === 'constExpr' &&
    kind.value.args[0].exprKind.value.constantKind.case === 'stringValue'
  ) {
    try {
      const value = plan(env, e)();
      if (isCelError(value)) return undefined;
      const message = (value as { message?: { $typeName?: string; seconds?: unknown; nanos?: unknown } }).message;
      if (message?.$typeName !== 'google.protobuf.Timestamp' || typeof message.seconds !== 'bigint' || typeof message.nanos !== 'number') {
        return undefined;
      }
      return { kind: 'timestamp', ns: message.seconds * 1_000_000_000n + BigInt(message.nanos) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * SQLite orders text by UTF-8 bytes (code points); CEL here orders by UTF-16 code units.
 * They agree whenever the constant has no code unit at or above U+D800.
 */
function orderSafeText(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0xd800) return false;
  return true;
}

function compare(column: string, fn: string, literal: Literal): Fragment | undefined {
  const kind = CALLS_COLUMNS[column];
  const sqlOp = COMPARISONS[fn];
  const ordering = fn !== '_==_' && fn !== '_!=_';
  switch (kind) {
    case 'text':
      if (literal.kind !== 'string') return undefined;
      if (ordering && !orderSafeText(literal.value)) return undefined;
      // The trace index is keyed by the id's last characters: name them too, so it is used.
      if (column === 'trace_id' && fn === '_==_') return { sql: TRACE_ID_MATCH, params: [literal.value, literal.value], exact: true };
      return { sql: `${column} ${sqlOp} ?`, params: [literal.value], exact: true };
    case 'integer':
      if (literal.kind !== 'number') return undefined;
      return { sql: `${column} ${sqlOp} ?`, params: [literal.value], exact: true };
    case 'timestamp_ns':
      if (literal.kind !== 'timestamp') return undefined;
      // Nanosecond timestamps exceed 2^53: pass them as decimal text and let SQLite read them exactly.
      return { sql: `${column} ${sqlOp} CAST(? AS INTEGER)`, params: [literal.ns.toString()], exact: true };
    case 'boolean': {
      if (literal.kind !== 'bool' || ordering) return undefined;
      const wantTrue = (fn === '_==_') === literal.value;
      return { sql: wantTrue ? `${column} = 1` : `${column} = 0`, params: [], exact: true };
    }
    default:
      return undefined;
  }
}

function inList(column: string, list: CelExpr): Fragment | undefined {
  if (list.exprKind.case !== 'listExpr') return undefined;
  const kind = CALLS_COLUMNS[column];
  const params: SqlParam[] = [];
  for (const element of list.exprKind.value.elements) {
    const literal = literalOf(element);
    if (literal === undefined) return undefined;
    if (kind === 'text' && literal.kind === 'string') params.push(literal.value);
    else if (kind === 'integer' && literal.kind === 'number') params.push(literal.value);
    else return undefined;
  }
  // `x in []` is false when x is present and an error (NULL) when it is absent.
  if (params.length === 0) return { sql: `(${column} != ${column})`, params: [], exact: true };
  return { sql: `${column} IN (${params.map(() => '?').join(', ')})`, params, exact: true };
}

/** Code points, the unit SQLite's substr() counts in. */
function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function stringMethod(call: Extract<CelExpr['exprKind'], { case: 'callExpr' }>['value']): Fragment | undefined {
  if (call.target === undefined || call.args.length !== 1) return undefined;
  if (isHeaderLookup(call.target) && ['startsWith', 'endsWith', 'contains'].includes(call.function)) {
    const needle = literalOf(call.args[0]);
    return needle?.kind === 'string' ? storedText(needle.value) : undefined;
  }
  const column = columnOf(call.target);
  if (column === undefined || CALLS_COLUMNS[column] !== 'text') return undefined;
  const literal = literalOf(call.args[0]);
  if (literal?.kind !== 'string') return undefined;
  const text = literal.value;
  // An empty needle is true for every present value and NULL for an absent one.
  if (text === '' && ['startsWith', 'endsWith', 'contains'].includes(call.function)) return { sql: `(${column} = ${column})`, params: [], exact: true };
  switch (call.function) {
    case 'startsWith':
      return { sql: `substr(${column}, 1, ?) = ?`, params: [codePointLength(text), text], exact: true };
    case 'endsWith':
      return { sql: `substr(${column}, ?) = ?`, params: [-codePointLength(text), text], exact: true };
    case 'contains':
      return { sql: `instr(${column}, ?) > 0`, params: [text], exact: true };
    default:
      return undefined;
  }
}

/** `request.headers["name"]` (or `response.`, `trailers`, with or without `call.`): a value only the stored record holds. */
function isHeaderLookup(e: CelExpr): boolean {
  const k = e.exprKind;
  if (k.case !== 'callExpr' || k.value.function !== '_[_]' || k.value.target !== undefined || k.value.args.length !== 2) return false;
  const path = fieldPath(k.value.args[0]);
  const p = path?.[0] === 'call' ? path.slice(1) : path;
  return p !== undefined && p.length === 2 && (p[0] === 'request' || p[0] === 'response') && (p[1] === 'headers' || p[1] === 'trailers');
}

/**
 * Text a header value must hold for the filter to match (`== "abc"`, `.contains("abc")`, …) is
 * in the row's stored record as it is: a header value is a plain string in both forms a row may
 * keep (its protobuf, or the JSON text of rows stored before), and the filter reads it unchanged.
 * So a row whose `record` does not hold those bytes cannot match: SQLite drops it before it is
 * read and decoded (`exact: false`, the filter still decides on the rest). Needles JSON would
 * escape (`"`, `\`, control characters), surrogates and U+FFFD (an unreadable byte's stand-in)
 * are not pushed, nor a `,`: headers whose names differ only in case are joined with `, ` for
 * the filter, and a needle across that join is in no single value.
 */
const PUSHABLE_NEEDLE = /^[^"\\\u0000-\u001f\u007f,\ud800-\udfff\ufffd]+$/;
const utf8 = new TextEncoder();
/** The SQL of that pre-filter; a query holding it reads every candidate row's record in SQLite (see `readsRecord`). */
export const RECORD_PREFILTER_SQL = 'instr(record, ?) > 0';
function storedText(needle: string): Fragment | undefined {
  if (!PUSHABLE_NEEDLE.test(needle)) return undefined;
  return { sql: RECORD_PREFILTER_SQL, params: [utf8.encode(needle)], exact: false };
}

/** The operands of a chain of the same logical operator: `a && (b && c)` → [a, b, c]. */
function flatten(e: CelExpr, fn: string): CelExpr[] {
  const out: CelExpr[] = [];
  const stack: CelExpr[] = [e];
  while (stack.length > 0) {
    const current = stack.pop() as CelExpr;
    if (current.exprKind.case === 'callExpr' && current.exprKind.value.function === fn && current.exprKind.value.target === undefined) {
      stack.push(...[...current.exprKind.value.args].reverse());
    } else {
      out.push(current);
    }
  }
  return out;
}

function translate(e: CelExpr, depth: number): Fragment | undefined {
  if (depth > MAX_FILTER_DEPTH) return undefined;
  const kind = e.exprKind;
  switch (kind.case) {
    case 'constExpr':
      if (kind.value.constantKind.case === 'boolValue') return { sql: kind.value.constantKind.value ? '1' : '0', params: [], exact: true };
      return undefined;
    case 'identExpr':
    case 'selectExpr': {
      if (kind.case === 'selectExpr' && kind.value.testOnly) {
        // has(src.pod), has(call.status_code): presence is a non-NULL column.
        const operand = kind.value.operand;
        if (operand === undefined) return undefined;
        const path = fieldPath(operand);
        const column = path === undefined ? undefined : columnForPath([...path, kind.value.field]);
        return column === undefined ? undefined : { sql: `${column} IS NOT NULL`, params: [], exact: true };
      }
      const path = fieldPath(e);
      if (path === undefined) return undefined;
      const p = path[0] === 'call' ? path.slice(1) : path;
      if (p.length === 1 && (PROTOCOL_FLAGS as readonly string[]).includes(p[0]) && path[0] !== 'call') {
        return { sql: 'protocol = ?', params: [p[0]], exact: true };
      }
      const column = columnForPath(path);
      if (column !== undefined && CALLS_COLUMNS[column] === 'boolean') return { sql: `${column} = 1`, params: [], exact: true };
      return undefined;
    }
    case 'callExpr': {
      const call = kind.value;
      const fn = call.function;
      if (fn === '_&&_' || fn === '_||_') {
        const parts = flatten(e, fn).map((a) => translate(a, depth + 1));
        if (fn === '_&&_') {
          const kept = parts.filter((p): p is Fragment => p !== undefined);
          if (kept.length === 0) return undefined;
          const exact = kept.length === parts.length && kept.every((p) => p.exact);
          if (kept.length === 1) return { ...kept[0], exact };
          return { sql: kept.map((p) => `(${p.sql})`).join(' AND '), params: kept.flatMap((p) => p.params), exact };
        }
        if (parts.some((p) => p === undefined)) return undefined;
        const all = parts as Fragment[];
        return { sql: all.map((p) => `(${p.sql})`).join(' OR '), params: all.flatMap((p) => p.params), exact: all.every((p) => p.exact) };
      }
      if (fn === '!_' && call.args.length === 1) {
        const inner = translate(call.args[0], depth + 1);
        if (inner === undefined || !inner.exact) return undefined;
        return { sql: `NOT (${inner.sql})`, params: inner.params, exact: true };
      }
      if (Object.hasOwn(COMPARISONS, fn) && call.args.length === 2) {
        const [left, right] = call.args;
        const leftColumn = columnOf(left);
        if (leftColumn !== undefined) {
          const literal = literalOf(right);
          return literal === undefined ? undefined : compare(leftColumn, fn, literal);
        }
        const rightColumn = columnOf(right);
        if (rightColumn !== undefined) {
          const literal = literalOf(left);
          return literal === undefined ? undefined : compare(rightColumn, MIRRORED[fn], literal);
        }
        if (fn === '_==_') {
          const [lookup, value] = isHeaderLookup(left) ? [left, right] : [right, left];
          const literal = isHeaderLookup(lookup) ? literalOf(value) : undefined;
          if (literal?.kind === 'string') return storedText(literal.value);
        }
        return undefined;
      }
      if (fn === '@in' && call.args.length === 2) {
        const column = columnOf(call.args[0]);
        return column === undefined ? undefined : inList(column, call.args[1]);
      }
      return stringMethod(call);
    }
    default:
      return undefined;
  }
}

/**
 * Whether `where` reads each candidate row's stored record (a header pre-filter): SQLite then
 * does real work per row, and a store scans such a query in bounded ranges of rows.
 */
export function readsRecord(pushdown: Pick<SqlPushdown, 'where'>): boolean {
  return pushdown.where.includes(RECORD_PREFILTER_SQL);
}

/** What of the filter SQLite can evaluate; `residual: false` means `where` alone is the filter. */
export function buildSqlPushdown(filter: Pick<CompiledFilter, 'ast'>): SqlPushdown {
  if (filter.ast === undefined) return { where: '1', params: [], residual: false };
  // Only what compileFilter accepted is translated: an expression over the node limit (built
  // by hand, not compiled) pushes nothing, and the compiled filter's budget decides on rows.
  if (countNodes(filter.ast, DEFAULT_FILTER_LIMITS.maxAstNodes) > DEFAULT_FILTER_LIMITS.maxAstNodes) return { where: '1', params: [], residual: true };
  let fragment: Fragment | undefined;
  try {
    fragment = translate(filter.ast, 0);
  } catch {
    fragment = undefined;
  }
  if (fragment === undefined) return { where: '1', params: [], residual: true };
  return { where: fragment.sql, params: fragment.params, residual: !fragment.exact };
}
