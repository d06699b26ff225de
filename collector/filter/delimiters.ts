/**
 * A second look at a filter the parser rejected. The parser reports where its top-level
 * rule stopped, which for an unclosed bracket or string is far from the mistake; pairing
 * the brackets of the token stream finds those mistakes where they are.
 */
import { positionAt } from './errors.ts';
import type { Token } from './tokens.ts';

export interface DelimiterProblem {
  message: string;
  offset: number;
}

const CLOSER: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const OPENER: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/** The quote(s) a string literal token opens with, after any `r`/`b` prefix. */
function openingQuote(token: Token): string {
  const quoteAt = token.text.search(/["']/);
  const quote = token.text[quoteAt];
  return token.text.startsWith(quote.repeat(3), quoteAt) ? quote.repeat(3) : quote;
}

export function findDelimiterProblem(source: string, tokens: readonly Token[]): DelimiterProblem | undefined {
  const open: Token[] = [];
  for (const token of tokens) {
    if (token.kind === 'unclosed-string') {
      const quote = openingQuote(token);
      // "C:\" or "a \"b\": the backslash makes the last quote part of the text.
      const escaped = !/^[bB]?[rR]/.test(token.text) && token.text.includes(`\\${quote[0]}`) ? ` (\\${quote[0]} is a quote inside the text; a backslash is written \\\\)` : '';
      return { message: `the string starting here is never closed: end it with ${quote}${escaped}`, offset: token.offset };
    }
    if (token.kind === 'open') open.push(token);
    if (token.kind !== 'close') continue;
    const last = open.pop();
    if (last === undefined) {
      return { message: `'${token.text}' has no matching '${OPENER[token.text]}': remove it, or add the '${OPENER[token.text]}' it closes`, offset: token.offset };
    }
    if (CLOSER[last.text] !== token.text) {
      const at = positionAt(source, last.offset);
      return {
        message: `'${token.text}' does not close the '${last.text}' at line ${at.line}, column ${at.column}: did you mean '${CLOSER[last.text]}'?`,
        offset: token.offset,
      };
    }
  }
  const unclosed = open.pop();
  if (unclosed !== undefined) return { message: `'${unclosed.text}' is never closed: add the matching '${CLOSER[unclosed.text]}'`, offset: unclosed.offset };
  return undefined;
}
