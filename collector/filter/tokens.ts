/**
 * The filter source as CEL tokens, for explaining a filter the parser rejected (the parser
 * says only where its top-level rule stopped). Lenient: it never fails, and what is not CEL
 * becomes a token too (`=`, `&`, `|`, a string that is never closed, a stray character), so
 * the explanation can name it. Whitespace and comments are not tokens.
 */

export type TokenKind =
  /** An identifier, including `true`, `false` and `null` (`in` is an operator). */
  | 'ident'
  | 'number'
  | 'string'
  /** A string literal that reaches the end of its line (or of the source) without its closing quote. */
  | 'unclosed-string'
  /** An operator or separator, valid or not: `==`, `&&`, `.`, `,`, `?`, `:`, `in`, and also `=`, `&`, `|`. */
  | 'operator'
  | 'open'
  | 'close'
  /** A character CEL has no use for (a backtick, a typographic quote, `#`, `;`). */
  | 'other';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Where it starts and ends (UTF-16 code units from 0, end exclusive). */
  readonly offset: number;
  readonly end: number;
}

/** Operators CEL has, longest first so that `==` is not read as two `=`. */
const OPERATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '+', '-', '*', '/', '%', '?', ':', '.', ','];
/** Characters that are not CEL operators alone but are typed for one (`=` for `==`, `&` for `&&`). */
const STRAY_OPERATORS = ['=', '&', '|'];
/** CEL's whitespace; anything else that looks blank (a no-break space) is a stray character. */
const CEL_WHITESPACE = new Set([' ', '\t', '\n', '\r', '\f']);
const OPENERS = new Set(['(', '[', '{']);
const CLOSERS = new Set([')', ']', '}']);

const IDENT = /[_a-zA-Z][_a-zA-Z0-9]*/y;
const NUMBER = /(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)[uU]?/y;
const LEADING_DOT_FLOAT = /\.\d+(?:[eE][+-]?\d+)?/y;
/** String prefixes: raw (`r`), bytes (`b`), both. */
const STRING_PREFIX = /^(?:[rR]|[bB]|[rR][bB]|[bB][rR])$/;

function sticky(re: RegExp, source: string, at: number): string | undefined {
  re.lastIndex = at;
  return re.exec(source)?.[0];
}

/** Where a string literal whose opening quote is at `start` ends (after its closing quote), or -1. */
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

/** The end of the line `at` is on. */
function lineEnd(source: string, at: number): number {
  let i = at;
  while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i++;
  return i;
}

/** Where an unclosed string literal starting at `start` stops: the end of its line, or of the source for `"""`. */
function unclosedEnd(source: string, start: number): number {
  return source.startsWith(source[start].repeat(3), start) ? source.length : lineEnd(source, start);
}

/** Whether a token is a value or ends one (`)`, `]`, `}`), so that what follows it is an operator. */
export function endsValue(token: Token | undefined): boolean {
  return token !== undefined && (token.kind === 'ident' || token.kind === 'number' || token.kind === 'string' || token.kind === 'close');
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const push = (kind: TokenKind, offset: number, end: number): void => {
    tokens.push({ kind, text: source.slice(offset, end), offset, end });
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (CEL_WHITESPACE.has(c)) {
      i++;
      continue;
    }
    if (source.startsWith('//', i)) {
      i = lineEnd(source, i);
      continue;
    }
    const ident = sticky(IDENT, source, i);
    if (ident !== undefined) {
      const quote = source[i + ident.length];
      if ((quote === '"' || quote === "'") && STRING_PREFIX.test(ident)) {
        const end = stringEnd(source, i + ident.length, /r/i.test(ident));
        const stop = end === -1 ? unclosedEnd(source, i + ident.length) : end;
        push(end === -1 ? 'unclosed-string' : 'string', i, stop);
        i = stop;
        continue;
      }
      push(ident === 'in' ? 'operator' : 'ident', i, i + ident.length);
      i += ident.length;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = stringEnd(source, i, false);
      const stop = end === -1 ? unclosedEnd(source, i) : end;
      push(end === -1 ? 'unclosed-string' : 'string', i, stop);
      i = stop;
      continue;
    }
    const number = sticky(NUMBER, source, i) ?? (endsValue(tokens.at(-1)) ? undefined : sticky(LEADING_DOT_FLOAT, source, i));
    if (number !== undefined) {
      push('number', i, i + number.length);
      i += number.length;
      continue;
    }
    if (OPENERS.has(c) || CLOSERS.has(c)) {
      push(OPENERS.has(c) ? 'open' : 'close', i, i + 1);
      i++;
      continue;
    }
    const operator = OPERATORS.find((op) => source.startsWith(op, i)) ?? STRAY_OPERATORS.find((op) => source.startsWith(op, i));
    if (operator !== undefined) {
      push('operator', i, i + operator.length);
      i += operator.length;
      continue;
    }
    // One character, a whole code point (a typographic quote or an emoji is one mistake).
    const width = (source.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
    push('other', i, i + width);
    i += width;
  }
  return tokens;
}
