/**
 * Filter compilation: CEL source → a checked, planned predicate over call records.
 * Errors are values (`FilterError`); `matches` never throws.
 */
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import type { CallRecord } from '../../record/record.ts';
import { readsBodies, type CelExpr } from './ast.ts';
import { checkFilter } from './check.ts';
import { findDelimiterProblem } from './delimiters.ts';
import { createRegexCache } from './regex-cache.ts';
import {
  COL_ERR_FILTER_SYNTAX,
  COL_ERR_FILTER_TOO_COMPLEX,
  COL_ERR_FILTER_TYPE,
  buildFilterError,
  type FilterError,
} from './errors.ts';
import { buildActivation, type FilterActivation } from './variables.ts';

/** Longest filter source accepted (UTF-16 code units). */
export const MAX_FILTER_LENGTH = 8192;

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
}

export interface CompiledFilter {
  readonly kind: 'compiled-filter';
  /** The source as given. */
  readonly source: string;
  /** The parsed expression; undefined for the empty filter, which matches everything. */
  readonly ast: CelExpr | undefined;
  /** Whether the filter may read request/response bodies (the store can skip loading them otherwise). */
  readonly readsBodies: boolean;
  matches(record: CallRecord): boolean;
}

export function isCompiledFilter(value: unknown): value is CompiledFilter {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'compiled-filter';
}

const env = celEnv({ funcs: strings, re2: createRegexCache() });

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

function matchAll(source: string): CompiledFilter {
  return Object.freeze({ kind: 'compiled-filter', source, ast: undefined, readsBodies: false, matches: () => true });
}

export function compileFilter(source: string, options: CompileFilterOptions = {}): CompiledFilter | FilterError {
  if (typeof source !== 'string') return buildFilterError(COL_ERR_FILTER_SYNTAX, 'the filter must be a string', '', 0);
  if (source.length > MAX_FILTER_LENGTH) {
    return buildFilterError(COL_ERR_FILTER_TOO_COMPLEX, `filter longer than ${MAX_FILTER_LENGTH} characters`, source, MAX_FILTER_LENGTH);
  }
  if (source.trim() === '') return matchAll(source);

  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    if (err instanceof RangeError) return buildFilterError(COL_ERR_FILTER_TOO_COMPLEX, 'expression too deeply nested', source, 0);
    const delimiter = findDelimiterProblem(source);
    if (delimiter !== undefined) return buildFilterError(COL_ERR_FILTER_SYNTAX, `syntax error: ${delimiter.message}`, source, delimiter.offset);
    const { message, offset } = locatedParseError(err);
    return buildFilterError(COL_ERR_FILTER_SYNTAX, `syntax error: ${message}`, source, offset);
  }

  const checked = checkFilter(parsed, source);
  if (!checked.ok) return checked.error;

  let evaluate: (ctx: FilterActivation) => unknown;
  try {
    const planned = plan(env, parsed);
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
    matches(record: CallRecord): boolean {
      try {
        const result = evaluate(buildActivation(record, { decodeBodies: bodies }));
        if (result === true) return true;
        if (result === false) return false;
        if (isCelError(result)) {
          return ABSENT_FIELD_ERROR.test(result.message) ? false : fail('error', result.message, record);
        }
        return fail('not-bool', `the filter produced a ${typeof result}, not a bool`, record);
      } catch (err) {
        return fail('error', err instanceof Error ? err.message : String(err), record);
      }
    },
  } satisfies CompiledFilter);
}
