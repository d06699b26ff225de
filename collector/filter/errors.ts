/**
 * Filter compilation errors. They are values (the API answers 400 with them), never thrown
 * out of `compileFilter`.
 */
import { defineErrors, type ErrorCodeOf } from '../../lib/errors.ts';

const fix = 'Fix the filter at the line and column the message gives; collector/filter/README.md describes the language.';

export const COL_ERR_FILTER_SYNTAX = 'COL_ERR_FILTER_SYNTAX';
export const COL_ERR_FILTER_UNDECLARED = 'COL_ERR_FILTER_UNDECLARED';
export const COL_ERR_FILTER_TYPE = 'COL_ERR_FILTER_TYPE';
export const COL_ERR_FILTER_REGEX = 'COL_ERR_FILTER_REGEX';
export const COL_ERR_FILTER_TOO_COMPLEX = 'COL_ERR_FILTER_TOO_COMPLEX';
export const COL_ERR_FILTER_COST = 'COL_ERR_FILTER_COST';
export const COL_ERR_FILTER_REGEX_SIZE = 'COL_ERR_FILTER_REGEX_SIZE';
export const COL_ERR_FILTER_BUDGET = 'COL_ERR_FILTER_BUDGET';

export const filterErrors = defineErrors(
  { component: 'collector', title: 'the filter language (CEL)', prefix: 'COL_ERR_' },
  {
    [COL_ERR_FILTER_SYNTAX]: { summary: 'The filter does not parse (or is not a string).', action: fix, httpStatus: 400 },
    [COL_ERR_FILTER_UNDECLARED]: { summary: 'An identifier, field or function the filter language does not know.', action: fix, httpStatus: 400 },
    [COL_ERR_FILTER_TYPE]: { summary: 'Operands or arguments of the wrong type, or a result that is not a bool.', action: fix, httpStatus: 400 },
    [COL_ERR_FILTER_REGEX]: { summary: 'A constant regular expression that does not compile (RE2 syntax).', action: fix, httpStatus: 400 },
    [COL_ERR_FILTER_TOO_COMPLEX]: {
      summary: 'The filter is longer, has more expression nodes or is more deeply nested than the limits allow.',
      action: 'Shorten the filter or split it into simpler conditions.',
      httpStatus: 400,
    },
    [COL_ERR_FILTER_COST]: {
      summary: 'The filter\'s estimated cost is over a limit: a string it may build (replace, split, join, +) or the evaluation steps of one record (nested macros).',
      action: 'Avoid growing strings (replace with a pattern that can be empty, concatenating bodies) and nested macros over long lists; the message names the limit.',
      httpStatus: 400,
    },
    [COL_ERR_FILTER_REGEX_SIZE]: {
      summary: 'A regular expression in matches() compiles to a larger RE2 program, or is longer, than the limit.',
      action: 'Use a smaller pattern (fewer or shorter counted repetitions such as {1000}, fewer large character classes).',
      httpStatus: 400,
    },
    [COL_ERR_FILTER_BUDGET]: {
      summary: 'Evaluating the filter used up the evaluation budget of the request or stream (steps, bytes produced, or a string over the size limit).',
      action: 'Narrow the filter with cheap conditions first (protocol, namespace, status, since) or avoid scanning bodies with macros; the message names the limit.',
      httpStatus: 400,
    },
  },
);

export type FilterErrorCode = ErrorCodeOf<typeof filterErrors>;

/** Where in the filter source: `offset` from 0 in UTF-16 code units, `line` and `column` from 1. */
export interface FilterPosition {
  offset: number;
  line: number;
  column: number;
}

export interface FilterError {
  readonly kind: 'filter-error';
  readonly code: FilterErrorCode;
  /** Human text; ends with "at line L, column C". */
  readonly message: string;
  readonly position: FilterPosition;
}

export function isFilterError(value: unknown): value is FilterError {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'filter-error';
}

/** Offset → line/column, clamped into the source so a bad offset still names a real place. */
export function positionAt(source: string, offset: number): FilterPosition {
  const at = Math.max(0, Math.min(Number.isFinite(offset) ? Math.trunc(offset) : 0, source.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset: at, line, column: at - lineStart + 1 };
}

export function buildFilterError(code: FilterErrorCode, detail: string, source: string, offset: number): FilterError {
  const position = positionAt(source, offset);
  return Object.freeze({
    kind: 'filter-error',
    code,
    message: `${detail} at line ${position.line}, column ${position.column}`,
    position: Object.freeze(position),
  });
}
