/**
 * What a filter the parser rejected most likely got wrong, in words that say what to do.
 * The parser reports where its top-level rule stopped: `status_code ==` fails "found = but
 * expecting end of input" under the operator, as if the operator were the mistake. Walking
 * the tokens with what may come next (a value, or an operator after one) finds the usual
 * mistakes where they are: a value missing after an operator, `=` for `==`, `AND` for `&&`,
 * two values with no operator between them, a typographic quote; then unclosed strings and
 * brackets (delimiters.ts). Only ever asked about source that does not parse, so a hint can
 * never refuse a valid filter.
 */
import { findDelimiterProblem } from './delimiters.ts';
import { tokenize, type Token } from './tokens.ts';

export interface SyntaxProblem {
  /** What is wrong and what to write instead, without the position. */
  message: string;
  /** Where: the mistake itself, or just after the operator that lacks its value. */
  offset: number;
}

/** Words other query languages use as operators, and CEL's operator for each. */
const WORD_OPERATORS: Readonly<Record<string, string>> = Object.freeze({ and: '&&', or: '||', not: '!' });

/** CEL's operator for a word such as `AND` or `not` (any case); undefined for other words. */
export function wordOperator(word: string): string | undefined {
  const lower = word.toLowerCase();
  return Object.hasOwn(WORD_OPERATORS, lower) ? WORD_OPERATORS[lower] : undefined;
}

/** Operators typed for another: the text (adjacent characters) and what was meant. */
const MISTYPED: Readonly<Record<string, string>> = Object.freeze({
  '=': '==',
  '===': '==',
  '!==': '!=',
  '=!': '!=',
  '<>': '!=',
  '=>': '>=',
  '=<': '<=',
  '&': '&&',
  '&&&': '&&',
  '|': '||',
  '|||': '||',
});
/** Tokens that are no CEL operator at all (tokens.ts reads them so that they can be named here). */
const STRAY = new Set(['=', '&', '|']);
const OPERATOR_CHARS = /^[=!<>&|]+$/;
const UNARY = new Set(['!', '-']);
const CLOSER: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** What an open bracket holds: `group` and `index` need a value, the others may be empty. */
type FrameKind = 'group' | 'call' | 'list' | 'map' | 'index';
interface Frame {
  readonly open: Token;
  readonly kind: FrameKind;
}

const TYPOGRAPHIC_QUOTES = new Set(['\u201c', '\u201d', '\u201e', '\u2018', '\u2019', '\u201a', '\u00ab', '\u00bb']);

/** A token as quoted in a message: short, so a long string does not drown the message. */
function show(token: Token): string {
  return token.text.length > 24 ? `${token.text.slice(0, 23)}…` : token.text;
}

function strayCharacter(token: Token): SyntaxProblem {
  const c = token.text;
  const at = token.offset;
  if (c === '`') return { message: `'\`' does not quote text in CEL: use "…" or '…'`, offset: at };
  if (TYPOGRAPHIC_QUOTES.has(c)) return { message: `'${c}' is a typographic quote: CEL quotes text with straight quotes, "…" or '…'`, offset: at };
  if (c === ';') return { message: `';' is not part of CEL: a filter is one expression; join conditions with '&&' or '||'`, offset: at };
  if (/^[\p{L}\p{N}\p{P}\p{S}]+$/u.test(c)) return { message: `'${c}' is not part of CEL's syntax`, offset: at };
  const code = (c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return { message: `the invisible character U+${code} is not part of CEL's syntax: delete it or type a plain space`, offset: at };
}

/**
 * `=` for `==`, `=>` for `>=`, `&` for `&&` and the like: adjacent operator characters starting
 * at `i` that are no CEL operator. Valid runs (`&&!`, `==!`) are left alone.
 */
function mistypedOperator(tokens: readonly Token[], i: number): SyntaxProblem | undefined {
  const first = tokens[i];
  const adjacentOperator = (t: Token | undefined): t is Token => t !== undefined && t.kind === 'operator' && OPERATOR_CHARS.test(t.text);
  if (!adjacentOperator(first)) return undefined;
  const before = tokens[i - 1];
  if (adjacentOperator(before) && before.end === first.offset) return undefined;
  const run = [first];
  while (adjacentOperator(tokens[i + run.length]) && tokens[i + run.length].offset === run[run.length - 1].end) run.push(tokens[i + run.length]);
  const text = run.map((t) => t.text).join('');
  if (Object.hasOwn(MISTYPED, text) && (run.length > 1 || STRAY.has(text))) {
    return { message: `'${text}' is not an operator in CEL: did you mean '${MISTYPED[text]}'?`, offset: first.offset };
  }
  const stray = run.find((t) => STRAY.has(t.text));
  if (stray !== undefined) return { message: `'${stray.text}' is not an operator in CEL: did you mean '${MISTYPED[stray.text]}'?`, offset: stray.offset };
  return undefined;
}

function wordOperatorProblem(token: Token): SyntaxProblem | undefined {
  const meant = wordOperator(token.text);
  return meant === undefined ? undefined : { message: `'${token.text}' is not an operator in CEL: did you mean '${meant}'?`, offset: token.offset };
}

/** A value where an operator should be: `"GET" "POST"`, `status_code 500`, `[500 503]`. */
function missingOperator(token: Token, previous: Token | undefined, frame: Frame | undefined): SyntaxProblem {
  // SQL's 'it''s': two strings side by side, the second right after the first's closing quote.
  const quote = token.text[0];
  if (token.kind === 'string' && previous?.kind === 'string' && previous.end === token.offset && previous.text.endsWith(quote)) {
    const other = quote === "'" ? '"' : "'";
    return { message: `${quote}${quote} is not a quote inside a string in CEL: write \\${quote}, or put the text between ${other}…${other}`, offset: previous.end - 1 };
  }
  if (frame !== undefined && (frame.kind === 'list' || frame.kind === 'call' || frame.kind === 'map')) {
    return { message: `a ',' is missing before '${show(token)}'`, offset: token.offset };
  }
  return { message: `an operator such as '&&' or '==' is missing before '${show(token)}'`, offset: token.offset };
}

/** An operator or bracket where a value should be; the caret goes where the value belongs. */
function missingValue(previous: Token | undefined, token: Token): SyntaxProblem {
  if (previous === undefined) return { message: `the filter starts with '${show(token)}': a value is missing before it`, offset: token.offset };
  return { message: `a value is missing between '${show(previous)}' and '${show(token)}'`, offset: previous.end };
}

function startsValue(token: Token | undefined): boolean {
  if (token === undefined) return false;
  if (token.kind === 'operator') return UNARY.has(token.text);
  return token.kind === 'ident' || token.kind === 'number' || token.kind === 'string' || token.kind === 'open';
}

/** The walk over the tokens; undefined when it finds nothing (or a bracket problem, delimiters.ts's to name). */
function walkTokens(tokens: readonly Token[]): SyntaxProblem | undefined {
  const stack: Frame[] = [];
  let expectValue = true;
  let previous: Token | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const mistyped = mistypedOperator(tokens, i);
    if (mistyped !== undefined) return mistyped;
    switch (token.kind) {
      case 'unclosed-string':
        return undefined;
      case 'other':
        return strayCharacter(token);
      case 'ident':
      case 'number':
      case 'string': {
        if (!expectValue) return (token.kind === 'ident' ? wordOperatorProblem(token) : undefined) ?? missingOperator(token, previous, stack.at(-1));
        // `not http`, `http && AND grpc`: an operator word read as a variable, a value after it.
        if (token.kind === 'ident' && startsValue(tokens[i + 1])) {
          const word = wordOperatorProblem(token);
          if (word !== undefined) return word;
        }
        expectValue = false;
        break;
      }
      case 'open': {
        let kind: FrameKind;
        if (expectValue) kind = token.text === '(' ? 'group' : token.text === '[' ? 'list' : 'map';
        else if (token.text === '[') kind = 'index';
        else if (previous?.kind === 'ident') kind = token.text === '(' ? 'call' : 'map';
        else return missingOperator(token, previous, stack.at(-1));
        stack.push({ open: token, kind });
        expectValue = true;
        break;
      }
      case 'close': {
        const frame = stack.pop();
        if (frame === undefined || CLOSER[frame.open.text] !== token.text) return undefined;
        if (expectValue) {
          const empty = previous === frame.open && (frame.kind === 'call' || frame.kind === 'list' || frame.kind === 'map');
          const trailingComma = previous?.text === ',' && (frame.kind === 'list' || frame.kind === 'map');
          if (!empty && !trailingComma) return missingValue(previous, token);
        }
        expectValue = false;
        break;
      }
      case 'operator': {
        if (token.text === '.') {
          const name = tokens[i + 1];
          if (name === undefined) return { message: `the filter ends after '.': a field or method name is missing`, offset: token.end };
          if (name.kind !== 'ident') return { message: `a field or method name is missing after '.'`, offset: token.end };
          // `.name` alone is a qualified name from the root; after a value, a field or method.
          previous = name;
          i++;
          expectValue = false;
          continue;
        }
        if (expectValue) {
          if (UNARY.has(token.text)) break;
          return missingValue(previous, token);
        }
        if (token.text === '!') return missingOperator(token, previous, stack.at(-1));
        const frame = stack.at(-1);
        if (token.text === ',' && (frame === undefined || frame.kind === 'group' || frame.kind === 'index')) {
          return { message: `',' separates list items and arguments: join conditions with '&&' or '||'`, offset: token.offset };
        }
        expectValue = true;
        break;
      }
    }
    previous = token;
  }
  // At the end a value is missing after an operator; after an open bracket or a ',' the bracket is never closed.
  if (expectValue && previous !== undefined && previous.kind === 'operator' && previous.text !== ',') {
    return { message: `the filter ends after '${show(previous)}': a value is missing`, offset: previous.end };
  }
  return undefined;
}

/**
 * The likely mistake in a filter `@bufbuild/cel` could not parse, or undefined when none is
 * recognised (the parser's own message is all there is then).
 */
export function explainSyntaxError(source: string): SyntaxProblem | undefined {
  const tokens = tokenize(source);
  if (tokens.length === 0) return { message: 'the filter holds only comments: an expression is missing', offset: 0 };
  return walkTokens(tokens) ?? findDelimiterProblem(source, tokens);
}
