/**
 * Patterns a policy adds: literals, masked wherever they occur, and RE2 expressions, which mask
 * every token (a run of characters between whitespace, quotes and `,;:&=<>()[]{}`) they match
 * in. RE2 matches in time linear in the token, and each token is tested once, so the whole
 * scan stays linear in the text, whatever the pattern.
 */
import { createRequire } from 'node:module';
import type * as Re2Module from '@bufbuild/re2';
import type { RE2JS } from '@bufbuild/re2';
import { scanMeter } from './scan-meter.ts';
import type { Span } from './detectors.ts';

export type UserPattern = { readonly kind: 'literal'; readonly text: string } | { readonly kind: 're2'; readonly source: string; readonly re: RE2JS };

export const PATTERN_LIMITS = Object.freeze({
  /** Patterns per policy. */
  maxPatterns: 32,
  /** Characters per pattern. */
  maxLength: 256,
  /** Shortest literal: a shorter one would mask ordinary words. */
  minLiteralLength: 4,
  /** Instructions in a compiled RE2 program (`\pL{1000}` is large and slow to compile). */
  maxProgram: 2000,
});

/**
 * The RE2 engine, loaded on the first expression: most pods configure none, and the engine's
 * code is a noticeable part of the capture worker's memory.
 */
let re2: typeof Re2Module | undefined;
function re2Engine(): typeof Re2Module {
  re2 ??= createRequire(import.meta.url)('@bufbuild/re2') as typeof Re2Module;
  return re2;
}

export const LITERAL_PREFIX = 'literal:';
export const RE2_PREFIX = 're2:';

/** One pattern from its text (`literal:TEXT`, `re2:EXPR` or a bare RE2 expression); throws a message. */
export function compileUserPattern(entry: string): UserPattern {
  if (entry.startsWith(LITERAL_PREFIX)) {
    const text = entry.slice(LITERAL_PREFIX.length);
    if (text.length < PATTERN_LIMITS.minLiteralLength || text.length > PATTERN_LIMITS.maxLength) {
      throw new Error(`literal "${text}" must be ${PATTERN_LIMITS.minLiteralLength}-${PATTERN_LIMITS.maxLength} characters long`);
    }
    return Object.freeze({ kind: 'literal', text });
  }
  const source = entry.startsWith(RE2_PREFIX) ? entry.slice(RE2_PREFIX.length) : entry;
  if (source.length === 0 || source.length > PATTERN_LIMITS.maxLength) {
    throw new Error(`RE2 expression must be 1-${PATTERN_LIMITS.maxLength} characters long`);
  }
  let re: RE2JS;
  try {
    re = re2Engine().RE2JS.compile(source);
  } catch (err) {
    throw new Error(`"${source}" is not an RE2 expression: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const size = re.re2().prog.numInst();
  if (size > PATTERN_LIMITS.maxProgram) {
    throw new Error(`"${source}" compiles to ${size} RE2 instructions, over the limit of ${PATTERN_LIMITS.maxProgram}`);
  }
  if (re.test('')) throw new Error(`"${source}" matches the empty string, so it would mask every token`);
  return Object.freeze({ kind: 're2', source, re });
}

/** Characters that end a token for RE2 patterns. */
function isDelimiter(c: number): boolean {
  switch (c) {
    case 32: case 9: case 10: case 13: case 34: case 39: case 44: case 59: case 58:
    case 38: case 61: case 60: case 62: case 40: case 41: case 91: case 93: case 123: case 125:
      return true;
    default:
      return false;
  }
}

/** Where the patterns match in `text`: sorted, disjoint spans. */
export function findPatternSpans(text: string, patterns: readonly UserPattern[]): Span[] {
  const spans: Span[] = [];
  const literals = patterns.filter((p) => p.kind === 'literal');
  const expressions = patterns.filter((p) => p.kind === 're2');
  for (const p of literals) {
    let from = 0;
    for (;;) {
      const at = text.indexOf(p.text, from);
      if (at === -1) break;
      scanMeter.steps += p.text.length;
      spans.push({ start: at, end: at + p.text.length });
      from = at + p.text.length;
    }
  }
  if (expressions.length > 0) {
    const n = text.length;
    let i = 0;
    while (i < n) {
      while (i < n && isDelimiter(text.charCodeAt(i))) {
        scanMeter.steps++;
        i++;
      }
      const s = i;
      while (i < n && !isDelimiter(text.charCodeAt(i))) {
        scanMeter.steps++;
        i++;
      }
      if (i === s) break;
      const token = text.slice(s, i);
      for (const p of expressions) {
        scanMeter.steps += token.length;
        if (p.re.test(token)) {
          spans.push({ start: s, end: i });
          break;
        }
      }
    }
  }
  if (spans.length < 2 || literals.length + (expressions.length > 0 ? 1 : 0) < 2) return spans;
  // Spans from different patterns may overlap: merge them.
  spans.sort((a, b) => a.start - b.start);
  const merged: Span[] = [spans[0]];
  for (let k = 1; k < spans.length; k++) {
    const last = merged[merged.length - 1];
    if (spans[k].start <= last.end) last.end = Math.max(last.end, spans[k].end);
    else merged.push(spans[k]);
  }
  return merged;
}
