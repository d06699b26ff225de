/**
 * The regex engine handed to the evaluator. The default one compiles the pattern of
 * `matches()` on every call, once per record; filters reuse a handful of patterns, so
 * compiled patterns are kept (bounded, oldest dropped first).
 */
import { RE2JS } from '@bufbuild/re2';

export interface RegexMatcher {
  test(text: string): boolean;
}

export const MAX_CACHED_PATTERNS = 256;

export function createRegexCache(limit = MAX_CACHED_PATTERNS): { compile(pattern: string): RegexMatcher } {
  const compiled = new Map<string, RegexMatcher>();
  return {
    compile(pattern: string): RegexMatcher {
      let matcher = compiled.get(pattern);
      if (matcher === undefined) {
        matcher = RE2JS.compile(pattern);
        if (compiled.size >= limit) compiled.delete(compiled.keys().next().value as string);
        compiled.set(pattern, matcher);
      }
      return matcher;
    },
  };
}
