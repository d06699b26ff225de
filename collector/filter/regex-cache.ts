/**
 * The regex engine handed to the evaluator. The default one compiles the pattern of
 * `matches()` on every call, once per record; filters reuse a handful of patterns, so
 * compiled patterns are kept (bounded, oldest dropped first).
 *
 * RE2 matches in linear time, but compiling is not free: a long pattern or one with large
 * counted repetitions (`\pL{1000}`) compiles to a big program, slowly. Patterns over the
 * length or program-size limit are refused (and the refusal is cached like a program).
 */
import { RE2JS } from '@bufbuild/re2';
import { DEFAULT_FILTER_LIMITS } from './limits.ts';

export interface RegexMatcher {
  test(text: string): boolean;
}

export interface RegexLimits {
  /** Longest pattern compiled (UTF-16 code units). */
  maxLength: number;
  /** Most instructions in the compiled program. */
  maxProgram: number;
}

export const MAX_CACHED_PATTERNS = 256;

const DEFAULT_REGEX_LIMITS: RegexLimits = {
  maxLength: DEFAULT_FILTER_LIMITS.maxRegexLength,
  maxProgram: DEFAULT_FILTER_LIMITS.maxRegexProgram,
};

/** A pattern refused for its length or program size (a pattern RE2 rejects throws RE2's own error). */
export class RegexTooLarge extends Error {}

function compileBounded(pattern: string, limits: RegexLimits): RegexMatcher {
  if (pattern.length > limits.maxLength) {
    throw new RegexTooLarge(`regular expression of ${pattern.length} characters is longer than the limit of ${limits.maxLength} (maxRegexLength)`);
  }
  const compiled = RE2JS.compile(pattern);
  const size = compiled.re2().prog.numInst();
  if (size > limits.maxProgram) {
    throw new RegexTooLarge(`regular expression compiles to an RE2 program of ${size} instructions, over the limit of ${limits.maxProgram} (maxRegexProgram)`);
  }
  return compiled;
}

export function createRegexCache(limit = MAX_CACHED_PATTERNS, limits: RegexLimits = DEFAULT_REGEX_LIMITS): { compile(pattern: string): RegexMatcher } {
  const compiled = new Map<string, RegexMatcher | RegexTooLarge>();
  return {
    compile(pattern: string): RegexMatcher {
      let matcher = compiled.get(pattern);
      if (matcher === undefined) {
        try {
          matcher = compileBounded(pattern, limits);
        } catch (err) {
          if (!(err instanceof RegexTooLarge)) throw err;
          matcher = err;
        }
        if (compiled.size >= limit) compiled.delete(compiled.keys().next().value as string);
        compiled.set(pattern, matcher);
      }
      if (matcher instanceof RegexTooLarge) throw matcher;
      return matcher;
    },
  };
}
