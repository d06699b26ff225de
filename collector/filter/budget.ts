/**
 * The run-time half of the filter limits: one budget per request (or per stream client and
 * tick) that evaluation spends. Exhausting it ends the evaluation with COL_ERR_FILTER_BUDGET,
 * which the API answers with a 400 and the stream with an error event.
 */
import { MeshtapError } from '../../lib/errors.ts';
import { COL_ERR_FILTER_BUDGET } from './errors.ts';
import type { FilterLimits } from './limits.ts';

export type BudgetLimitName = 'maxEvalSteps' | 'maxEvalBytes' | 'maxStringLength';

export interface BudgetExhaustion {
  /** Which limit. */
  readonly limit: BudgetLimitName;
  /** Its value. */
  readonly value: number;
  /** What hit it. */
  readonly detail: string;
}

export interface EvalBudget {
  readonly limits: FilterLimits;
  /** Steps spent since the last reset. */
  steps(): number;
  /** Characters and bytes built since the last reset. */
  bytes(): number;
  /** Throws (inside evaluation) once over the step limit. */
  spendSteps(n: number, what: string): void;
  spendBytes(n: number, what: string): void;
  /** Throws when one operation would build a string longer than the limit; nothing is built then. */
  checkLength(length: number, what: string): void;
  /** Set once a limit was hit; stays until reset. */
  exhausted(): BudgetExhaustion | undefined;
  reset(): void;
}

/**
 * Thrown from inside CEL functions. The evaluator turns it into an error value (which `||`
 * may absorb), so the budget also remembers the exhaustion and the caller checks it after.
 */
export class BudgetExceeded extends Error {
  readonly exhaustion: BudgetExhaustion;
  constructor(exhaustion: BudgetExhaustion) {
    super(describeExhaustion(exhaustion));
    this.exhaustion = exhaustion;
  }
}

const LIMIT_TEXT: Record<BudgetLimitName, (value: number) => string> = {
  maxEvalSteps: (v) => `the evaluation budget of ${v} steps`,
  maxEvalBytes: (v) => `the evaluation budget of ${v} bytes built`,
  maxStringLength: (v) => `the string size limit of ${v} characters`,
};

export function describeExhaustion(e: BudgetExhaustion): string {
  return `the filter exceeded ${LIMIT_TEXT[e.limit](e.value)} (${e.limit}): ${e.detail}`;
}

/** The error a request or stream ends with. */
export function budgetError(e: BudgetExhaustion): MeshtapError {
  return new MeshtapError(COL_ERR_FILTER_BUDGET, describeExhaustion(e));
}

export function createEvalBudget(limits: FilterLimits): EvalBudget {
  let steps = 0;
  let bytes = 0;
  let exhausted: BudgetExhaustion | undefined;
  const stop = (limit: BudgetLimitName, detail: string): never => {
    exhausted ??= { limit, value: limits[limit], detail };
    throw new BudgetExceeded(exhausted);
  };
  return {
    limits,
    steps: () => steps,
    bytes: () => bytes,
    spendSteps(n, what) {
      if (exhausted !== undefined) throw new BudgetExceeded(exhausted);
      steps += n;
      if (steps > limits.maxEvalSteps) stop('maxEvalSteps', what);
    },
    spendBytes(n, what) {
      if (exhausted !== undefined) throw new BudgetExceeded(exhausted);
      bytes += n;
      if (bytes > limits.maxEvalBytes) stop('maxEvalBytes', what);
    },
    checkLength(length, what) {
      if (exhausted !== undefined) throw new BudgetExceeded(exhausted);
      if (length > limits.maxStringLength) stop('maxStringLength', `${what} would build ${length} characters`);
    },
    exhausted: () => exhausted,
    reset() {
      steps = 0;
      bytes = 0;
      exhausted = undefined;
    },
  };
}
