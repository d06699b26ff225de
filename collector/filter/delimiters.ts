/**
 * A second look at a filter the parser rejected. The parser reports where its top-level
 * rule stopped, which for an unclosed bracket or string is far from the mistake; scanning
 * brackets and string literals finds those mistakes where they are.
 */
export interface DelimiterProblem {
  message: string;
  offset: number;
}

const CLOSER: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const OPENERS = new Set(Object.keys(CLOSER));
const CLOSERS = new Set(Object.values(CLOSER));

/** Where a string literal starting at `start` (its opening quote) ends, or -1 when it does not. */
function stringEnd(source: string, start: number, raw: boolean): number {
  const quote = source[start];
  const triple = source.startsWith(quote.repeat(3), start);
  const delimiter = triple ? quote.repeat(3) : quote;
  let i = start + delimiter.length;
  while (i < source.length) {
    if (!raw && source[i] === '\\') {
      i += 2;
      continue;
    }
    if (!triple && (source[i] === '\n' || source[i] === '\r')) return -1;
    if (source.startsWith(delimiter, i)) return i + delimiter.length;
    i++;
  }
  return -1;
}

export function findDelimiterProblem(source: string): DelimiterProblem | undefined {
  const open: Array<{ char: string; offset: number }> = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === '/' && source[i + 1] === '/') {
      const newline = source.indexOf('\n', i);
      i = newline === -1 ? source.length : newline + 1;
      continue;
    }
    if (c === '"' || c === "'") {
      // r"..." and br"..." are raw: a backslash is an ordinary character there.
      const prefix = /(?:^|[^A-Za-z0-9_])([rRbB]{1,2})$/.exec(source.slice(Math.max(0, i - 3), i));
      const raw = prefix !== null && /r/i.test(prefix[1]);
      const end = stringEnd(source, i, raw);
      if (end === -1) return { message: 'string literal is never closed', offset: i };
      i = end;
      continue;
    }
    if (OPENERS.has(c)) open.push({ char: c, offset: i });
    else if (CLOSERS.has(c)) {
      const last = open.pop();
      if (last === undefined) return { message: `'${c}' has no matching opening bracket`, offset: i };
      if (CLOSER[last.char] !== c) return { message: `'${c}' does not close '${last.char}' opened at offset ${last.offset}`, offset: i };
    }
    i++;
  }
  const unclosed = open.pop();
  if (unclosed !== undefined) return { message: `'${unclosed.char}' is never closed`, offset: unclosed.offset };
  return undefined;
}
