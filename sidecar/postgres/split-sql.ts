/**
 * Splitting a simple-query string into its statements, so each statement's record shows its
 * own text. The server runs one statement per top-level `;`, so the split must skip what the
 * lexer skips: quoted strings, quoted identifiers, dollar quotes and comments.
 *
 * Where the text could be read two ways the answer is undefined and the caller falls back to
 * the whole text: a plain string holding a backslash (its meaning depends on the server's
 * `standard_conforming_strings`) unless both readings agree, an unterminated quote or comment,
 * and SQL-standard function bodies (`BEGIN ATOMIC … END`), whose `;` do not end the statement.
 */

const IDENT_START = /[A-Za-z_\x80-\uffff]/;
const IDENT_CHAR = /[A-Za-z0-9_$\x80-\uffff]/;

function scan(sql: string, backslashEscapes: boolean): string[] | undefined {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = sql.length;
  const words: string[] = [];
  let word = '';
  const endWord = (): void => {
    if (word.length > 0) {
      words.push(word.toUpperCase());
      if (words.length > 2) words.shift();
      if (words.length === 2 && words[0] === 'BEGIN' && words[1] === 'ATOMIC') atomic = true;
    }
    word = '';
  };
  let atomic = false;
  while (i < n) {
    const c = sql[i];
    if (IDENT_CHAR.test(c) && (word.length > 0 || IDENT_START.test(c))) {
      word += c;
      i++;
      continue;
    }
    if (word.length > 0) {
      // `$` inside an identifier is part of it; digits after a letter too.
      endWord();
    }
    if (c === "'") {
      const escapes = backslashEscapes || (i > 0 && /[eE]/.test(sql[i - 1]) && (i < 2 || !IDENT_CHAR.test(sql[i - 2])));
      i++;
      let closed = false;
      while (i < n) {
        if (escapes && sql[i] === '\\') {
          i += 2;
          continue;
        }
        if (sql[i] === "'") {
          if (sql[i + 1] === "'") {
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        i++;
      }
      if (!closed) return undefined;
      continue;
    }
    if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      let j = end;
      while (j !== -1 && sql[j + 1] === '"') j = sql.indexOf('"', j + 2);
      if (j === -1) return undefined;
      i = j + 1;
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? n : nl + 1;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      if (depth > 0) return undefined;
      continue;
    }
    if (c === '$') {
      const m = /^\$([A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$/.exec(sql.slice(i, i + 256));
      if (m !== null) {
        const close = sql.indexOf(m[0], i + m[0].length);
        if (close === -1) return undefined;
        i = close + m[0].length;
        continue;
      }
      i++;
      continue;
    }
    if (c === ';') {
      if (atomic) return undefined;
      const text = sql.slice(start, i).trim();
      if (hasContent(text)) out.push(text);
      start = i + 1;
      words.length = 0;
      i++;
      continue;
    }
    i++;
  }
  endWord();
  if (atomic) return undefined;
  const last = sql.slice(start).trim();
  if (hasContent(last)) out.push(last);
  return out;
}

/** True when `text` holds more than whitespace and comments (the server skips empty statements). */
function hasContent(text: string): boolean {
  return stripLeading(text).length > 0;
}

/** `text` without leading whitespace and comments. */
export function stripLeading(text: string): string {
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (text.startsWith('--', i)) {
      const nl = text.indexOf('\n', i);
      if (nl === -1) return '';
      i = nl + 1;
    } else if (text.startsWith('/*', i)) {
      let depth = 1;
      i += 2;
      while (i < text.length && depth > 0) {
        if (text.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (text.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else i++;
      }
    } else return text.slice(i);
  }
}

/** The first keyword of a statement, upper-cased (`WITH`, `SELECT`, …), if it starts with one. */
export function firstKeyword(text: string): string | undefined {
  const m = /^\(*\s*([A-Za-z_]+)/.exec(stripLeading(text));
  return m === null ? undefined : m[1].toUpperCase();
}

/** The statements of a simple-query string, or undefined when they cannot be told apart with certainty. */
export function splitStatements(sql: string): string[] | undefined {
  const standard = scan(sql, false);
  if (standard === undefined || !sql.includes('\\')) return standard;
  const escaped = scan(sql, true);
  if (escaped === undefined || escaped.length !== standard.length) return undefined;
  for (let i = 0; i < standard.length; i++) if (standard[i] !== escaped[i]) return undefined;
  return standard;
}
