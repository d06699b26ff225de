/**
 * How much a filter may cost. A filter is text from whoever calls the API, evaluated on the
 * collector's one event loop: without bounds, `path.replace("", path).replace("", path)…`
 * keeps that loop (and `/healthz`) busy for minutes. Compile-time limits refuse what is
 * certainly or probably too costly; run-time limits stop what slips through.
 */

export interface FilterLimits {
  /** Longest source accepted (UTF-16 code units). */
  readonly maxSourceLength: number;
  /** Most nodes in the parsed expression (macros count as their expansion). */
  readonly maxAstNodes: number;
  /** Longest string (UTF-16 code units) or byte string one operation may build, and the static estimate's bound. */
  readonly maxStringLength: number;
  /** Longest regular expression given to `matches()`. */
  readonly maxRegexLength: number;
  /** Most instructions in the RE2 program a `matches()` pattern compiles to. */
  readonly maxRegexProgram: number;
  /** Evaluation steps (macro iterations and list elements copied) one budget allows: per request, or per stream client and tick. */
  readonly maxEvalSteps: number;
  /** Characters and bytes built by string operations one budget allows. */
  readonly maxEvalBytes: number;
}

export const DEFAULT_FILTER_LIMITS: FilterLimits = Object.freeze({
  maxSourceLength: 8192,
  maxAstNodes: 1000,
  maxStringLength: 1 << 20,
  maxRegexLength: 1024,
  maxRegexProgram: 1000,
  maxEvalSteps: 2_000_000,
  maxEvalBytes: 256 << 20,
});

/**
 * A live stream client's budget for one tick of evaluation: a stream filter runs for every
 * new record as long as the client stays, so it must be cheap per record.
 */
export const STREAM_TICK_LIMITS: FilterLimits = Object.freeze({
  ...DEFAULT_FILTER_LIMITS,
  maxEvalSteps: 100_000,
  maxEvalBytes: 16 << 20,
});

/** Size hints for the static estimate: what a record's strings and collections are assumed to hold at most. */
export const SIZE_HINTS = Object.freeze({
  /** A captured body (the sidecar's default capture limit per message). */
  body: 64 * 1024,
  /** Any other string field: a path, a header value, a name. */
  field: 4096,
  /** Entries in a map (headers, labels) or a record's list (redacted, sensitive). */
  entries: 128,
});

export function resolveFilterLimits(overrides: Partial<FilterLimits> | undefined): FilterLimits {
  return overrides === undefined ? DEFAULT_FILTER_LIMITS : Object.freeze({ ...DEFAULT_FILTER_LIMITS, ...overrides });
}
