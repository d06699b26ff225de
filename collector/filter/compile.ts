/**
 * Filter compilation: CEL source → a checked, planned predicate over call records.
 * Errors are values (`FilterError`); `matches` throws only when the evaluation budget is
 * used up (a `MeshtapError` with COL_ERR_FILTER_BUDGET), which ends the request or stream.
 */
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import type { CallRecord } from '../../record/record.ts';
import { readsBodies, type CelExpr } from './ast.ts';
import { checkFilter } from './check.ts';
import { createRegexCache } from './regex-cache.ts';
import { budgetError, createEvalBudget, type EvalBudget } from './budget.ts';
import { checkExpressionSize, checkFilterCost } from './cost.ts';
import { GUARDED_FUNCS, instrumentLoops, withBudget } from './guarded-funcs.ts';
import { DEFAULT_FILTER_LIMITS, resolveFilterLimits, type FilterLimits } from './limits.ts';
import {
  COL_ERR_FILTER_SYNTAX,
  COL_ERR_FILTER_TOO_COMPLEX,
  COL_ERR_FILTER_TYPE,
  buildFilterError,
  type FilterError,
} from './errors.ts';
import { explainSyntaxError } from './syntax-hints.ts';
import { buildActivation, type FilterActivation } from './variables.ts';

/** Longest filter source accepted (UTF-16 code units). */
export const MAX_FILTER_LENGTH = DEFAULT_FILTER_LIMITS.maxSourceLength;

/** Why one record could not be judged. Absent fields are not failures: they simply do not match. */
export interface FilterEvalFailure {
  /** `error`: evaluation failed on this record's data; `not-bool`: a `dyn` result was not a bool. */
  reason: 'error' | 'not-bool';
  message: string;
  recordId: string;
}

export interface CompileFilterOptions {
  /** Called once per record whose evaluation failed (the record then does not match). */
  onEvalFailure?: (failure: FilterEvalFailure) => void;
  /** Limits other than the defaults (the live stream gives a smaller budget per tick). */
  limits?: Partial<FilterLimits>;
}

export interface CompiledFilter {
  readonly kind: 'compiled-filter';
  /** The source as given. */
  readonly source: string;
  /** The parsed expression; undefined for the empty filter, which matches everything. */
  readonly ast: CelExpr | undefined;
  /** Whether the filter may read request/response bodies (the store can skip loading them otherwise). */
  readonly readsBodies: boolean;
  /**
   * What every `matches` call spends; one compiled filter per request, so this is the
   * request's budget. The live stream resets it each tick.
   */
  readonly budget: EvalBudget;
  /** Throws a COL_ERR_FILTER_BUDGET `MeshtapError` once the budget is used up; never otherwise. */
  matches(record: CallRecord): boolean;
}

export function isCompiledFilter(value: unknown): value is CompiledFilter {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'compiled-filter';
}

const regexCache = createRegexCache();
const env = celEnv({ funcs: GUARDED_FUNCS, re2: regexCache });

/**
 * Errors that mean "the record has no such field/element": expected for filters that name
 * fields only some protocols have, so they are not reported as failures.
 */
const ABSENT_FIELD_ERROR = /^(unresolved attribute|field not found|index -?\d+ out of bounds)/;

function locatedParseError(err: unknown): { message: string; offset: number } {
  const e = err as { rawMessage?: unknown; message?: unknown; location?: { start?: { offset?: unknown } } };
  const offset = typeof e?.location?.start?.offset === 'number' ? e.location.start.offset : 0;
  const raw = typeof e?.rawMessage === 'string' ? e.rawMessage : typeof e?.message === 'string' ? e.message : String(err);
  return { message: raw, offset };
}

function matchAll(source: string, budget: EvalBudget): CompiledFilter {
  return Object.freeze({ kind: 'compiled-filter', source, ast: undefined, readsBodies: false, budget, matches: () => true });
}

/** Constant patterns are checked with the cache evaluation uses, unless the limits differ. */
function regexCompilerFor(limits: FilterLimits): (pattern: string) => unknown {
  if (limits.maxRegexLength === DEFAULT_FILTER_LIMITS.maxRegexLength && limits.maxRegexProgram === DEFAULT_FILTER_LIMITS.maxRegexProgram) {
    return (pattern) => regexCache.compile(pattern);
  }
  const own = createRegexCache(16, { maxLength: limits.maxRegexLength, maxProgram: limits.maxRegexProgram });
  return (pattern) => own.compile(pattern);
}

/** Where the first escape that is not a character starts (`\\x` without two hex digits, a code point past 10FFFF); 0 when none is found. */
/** `//` on the last line: a comment there, or only text in a string (where a line break changes nothing). */
const LAST_LINE_COMMENT = /\/\/[^\r\n]*$/;

function badEscapeOffset(source: string): number {
  const escape = /\\(?:x([0-9a-fA-F]{2})?|u([0-9a-fA-F]{4})?|U([0-9a-fA-F]{8})?|\\)/g;
  for (let m = escape.exec(source); m !== null; m = escape.exec(source)) {
    if (m[0] === '\\\\') continue;
    const hex = m[1] ?? m[2] ?? m[3];
    if (hex === undefined || Number.parseInt(hex, 16) > 0x10ffff) return m.index;
  }
  return 0;
}

export function compileFilter(source: string, options: CompileFilterOptions = {}): CompiledFilter | FilterError {
  if (typeof source !== 'string') return buildFilterError(COL_ERR_FILTER_SYNTAX, 'the filter must be a string', '', 0);
  const limits = resolveFilterLimits(options.limits);
  if (source.length > limits.maxSourceLength) {
    return buildFilterError(
      COL_ERR_FILTER_TOO_COMPLEX,
      `filter longer than ${limits.maxSourceLength} characters (maxSourceLength)`,
      source,
      limits.maxSourceLength,
    );
  }
  const budget = createEvalBudget(limits);
  if (source.trim() === '') return matchAll(source, budget);

  let parsed: ReturnType<typeof parse>;
  try {
    // The parser ends a comment only at a line break: a comment on the filter's last line gets one.
    parsed = parse(LAST_LINE_COMMENT.test(source) ? `${source}\n` : source);
  } catch (err) {
    if (err instanceof RangeError && /call stack/i.test(err.message)) return buildFilterError(COL_ERR_FILTER_TOO_COMPLEX, 'expression too deeply nested', source, 0);
    if (err instanceof RangeError) {
      // The parser builds a string's characters with String.fromCodePoint: an escape that is no character.
      return buildFilterError(
        COL_ERR_FILTER_SYNTAX,
        'syntax error: an escape in a string is not a character (\\xHH takes two hex digits, \\uHHHH four, \\UHHHHHHHH eight, up to 10FFFF)',
        source,
        badEscapeOffset(source),
      );
    }
    const problem = explainSyntaxError(source);
    if (problem !== undefined) return buildFilterError(COL_ERR_FILTER_SYNTAX, `syntax error: ${problem.message}`, source, problem.offset);
    const { message, offset } = locatedParseError(err);
    return buildFilterError(COL_ERR_FILTER_SYNTAX, `syntax error: ${message}`, source, offset);
  }

  const tooBig = checkExpressionSize(parsed, source, limits);
  if (tooBig !== undefined) return tooBig;
  const checked = checkFilter(parsed, source);
  if (!checked.ok) return checked.error;
  const tooCostly = checkFilterCost(parsed, source, limits, regexCompilerFor(limits));
  if (tooCostly !== undefined) return tooCostly;

  let evaluate: (ctx: FilterActivation) => unknown;
  try {
    const planned = plan(env, instrumentLoops(parsed.expr));
    evaluate = (ctx) => planned(ctx as Parameters<typeof planned>[0]);
  } catch (err) {
    return buildFilterError(COL_ERR_FILTER_TYPE, `cannot plan the expression: ${locatedParseError(err).message}`, source, 0);
  }

  const bodies = readsBodies(parsed.expr);
  const report = options.onEvalFailure;
  const fail = (reason: FilterEvalFailure['reason'], message: string, record: CallRecord): false => {
    if (report !== undefined) {
      try {
        report({ reason, message, recordId: String(record?.id) });
      } catch {
        // A failing hook must not turn into a failing filter.
      }
    }
    return false;
  };

  return Object.freeze({
    kind: 'compiled-filter',
    source,
    ast: parsed.expr,
    readsBodies: bodies,
    budget,
    matches(record: CallRecord): boolean {
      let result: unknown;
      try {
        result = withBudget(budget, () => evaluate(buildActivation(record, { decodeBodies: bodies })));
      } catch (err) {
        const exhausted = budget.exhausted();
        if (exhausted !== undefined) throw budgetError(exhausted);
        return fail('error', err instanceof Error ? err.message : String(err), record);
      }
      // The evaluator turns a budget stop into an error value, which `||` may have absorbed.
      const exhausted = budget.exhausted();
      if (exhausted !== undefined) throw budgetError(exhausted);
      if (result === true) return true;
      if (result === false) return false;
      if (isCelError(result)) {
        return ABSENT_FIELD_ERROR.test(result.message) ? false : fail('error', result.message, record);
      }
      return fail('not-bool', `the filter produced a ${typeof result}, not a bool`, record);
    },
  } satisfies CompiledFilter);
}
