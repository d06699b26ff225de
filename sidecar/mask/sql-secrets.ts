/**
 * Secrets inside SQL statement text, for the PostgreSQL and MySQL/MariaDB capture sessions,
 * which mask them before a record is built. Only the literal is replaced (`PASSWORD '****'`), so
 * the statement stays readable:
 * - passwords set in a statement: `CREATE|ALTER ROLE|USER … [ENCRYPTED] PASSWORD 'x'`, any name
 *   of a family directly followed by a literal (`OPTIONS (user 'u', password 'x')`), MySQL's
 *   `IDENTIFIED [WITH plugin] BY|AS 'x'` (every literal of the clause, up to the next user or
 *   the statement's end: `REPLACE 'current'` too), `SET PASSWORD [FOR u] = 'x' | PASSWORD('x')`;
 * - values assigned to or compared with a column whose name the masking policy calls secret,
 *   as it would a JSON key (`keyKind`: the families, and the keys the policy adds): `UPDATE u SET
 *   password = 'x'`, `… WHERE token = $1`, `CHANGE MASTER TO MASTER_PASSWORD = 'x'`, `password
 *   LIKE 'x%'`, `api_key IN ('x', 'y')`, PostgreSQL's `SET my.password TO 'x'`, and the value first,
 *   `'x' = password`; every literal and
 *   parameter of the value expression;
 * - `INSERT` (and `REPLACE`) with a column list: the literals and parameters of each VALUES row
 *   (or SELECT list) at the position of a secret column. Without a column list the statement
 *   does not say which value goes to which column, and nothing is masked.
 * A bound parameter (`$n`, or MySQL's n-th `?`) in such a place is reported so that the session
 * masks its value in the record too. A policy with `enabled: false` masks nothing here (as it
 * masks nothing in `maskRecord`), the password clauses included; with `keyFamilies: false` only
 * its exact keys name secret columns, while `PASSWORD 'x'` (a default key) and `IDENTIFIED BY`
 * stay masked.
 *
 * The text is attacker-controlled: one hand-written tokenizer pass (comments, quoted names,
 * strings with either escaping rule, dollar quotes), each character looked at a bounded number
 * of times, and a statement that names no family and holds no `IDENTIFIED` (`familyMatcher`: two
 * native searches; with a policy that adds keys, `namePrefilter`: one more) is not tokenized at all. A string holding a backslash reads differently with
 * and without backslash escapes (PostgreSQL's `standard_conforming_strings`, MySQL's
 * `NO_BACKSLASH_ESCAPES`): such text is read both ways and what either reading masks is masked.
 * The same tokenizer reads the select lists of `sql-result-columns.ts` (`sqlTokens`).
 */
import type { HttpMessage } from '../../record/record.ts';
import { MASK } from './detectors.ts';
import { keyKind, namePrefilter } from './key-kind.ts';
import { DEFAULT_MASK_POLICY, type MaskPolicy, type SensitiveKind } from './policy.ts';
import { scanMeter } from './scan-meter.ts';

export type SqlDialect = 'postgres' | 'mysql';

export interface SqlSecrets {
  /** The text with each secret literal's content replaced by `****`. */
  text: string;
  /** Kinds of the literals masked in `text`, in first-seen order. */
  kinds: SensitiveKind[];
  /** Bound parameters holding a secret, 0-based (`$1` is 0; the first `?` is 0), with their kind. */
  params: ReadonlyMap<number, SensitiveKind>;
  /** What the masked literals held (as written, and with doubled quotes undone), for `maskErrorEchoes`. */
  values: string[];
}

/** Whether the text may hold anything masked here under a policy: a name it masks, or MySQL's `IDENTIFIED`. */
const mayHoldSecret = namePrefilter(['identified']);

/** Names whose values are not secrets although their words are in families (PostgreSQL settings). */
const NOT_SECRET_NAMES: ReadonlySet<string> = new Set(['session_authorization', 'password_encryption']);

/** Operators after which a value is assigned or compared. */
const ASSIGN_OPS: ReadonlySet<string> = new Set(['=', ':=', '==', '<>', '!=', '<=>', '=>']);

/** Words that end a value expression (at its own parenthesis depth). */
const VALUE_STOPS: ReadonlySet<string> = new Set([
  'AND', 'OR', 'WHERE', 'FROM', 'RETURNING', 'ORDER', 'GROUP', 'HAVING', 'LIMIT', 'OFFSET', 'UNION',
  'EXCEPT', 'INTERSECT', 'ON', 'USING', 'WHEN', 'THEN', 'ELSE', 'END', 'SET', 'VALUES', 'SELECT',
  'INTO', 'FOR', 'WINDOW', 'FETCH',
]);

/**
 * Words that end MySQL's `IDENTIFIED …` clause: the options after it hold no secret. `PASSWORD`
 * starts options (`PASSWORD EXPIRE`); in `BY PASSWORD 'hash'` or `USING PASSWORD('x')` the
 * literal after it is masked as any literal after `PASSWORD` is.
 */
const IDENTIFIED_STOPS: ReadonlySet<string> = new Set([
  'REQUIRE', 'ACCOUNT', 'COMMENT', 'ATTRIBUTE', 'DEFAULT', 'FAILED_LOGIN_ATTEMPTS', 'PASSWORD_LOCK_TIME', 'PASSWORD',
]);

/** Words that end an `INSERT … SELECT` list. */
const SELECT_END: ReadonlySet<string> = new Set([
  'FROM', 'WHERE', 'UNION', 'EXCEPT', 'INTERSECT', 'ORDER', 'GROUP', 'HAVING', 'LIMIT', 'OFFSET', 'RETURNING', 'ON', 'WINDOW', 'FETCH', 'FOR', 'INTO',
]);

/** Token types. */
export const T = { Word: 0, QuotedName: 1, Str: 2, Num: 3, Param: 4, Punct: 5, Op: 6 } as const;

const SEMI = 59;
const COMMA = 44;
const OPEN = 40;
const CLOSE = 41;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isIdentStart = (c: number): boolean => isAlpha(c) || c === 95 || c >= 128;
const isIdentChar = (c: number): boolean => isIdentStart(c) || isDigit(c) || c === 36;
const isOpChar = (c: number): boolean => c === 61 || c === 60 || c === 62 || c === 33 || c === 58;
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;

/**
 * The tokens of the text being read, one slot each (reused from call to call: no object per
 * token): type, `[start, end)`, a string's or quoted name's content `[cs, ce)`, a punctuation's
 * character or a parameter's 0-based index. Grown as needed; slots past `KEEP_SLOTS` are given
 * back after the read that needed them.
 */
const KEEP_SLOTS = 16 * 1024;
let capacity = 0;
let tt = new Uint8Array(0);
let ts = new Int32Array(0);
let te = new Int32Array(0);
let tcs = new Int32Array(0);
let tce = new Int32Array(0);
let tn = new Int32Array(0);

function resize(size: number): void {
  capacity = size;
  const keep = <A extends Uint8Array | Int32Array>(old: A, next: A): A => {
    next.set(old.length <= size ? old : old.subarray(0, size));
    return next;
  };
  tt = keep(tt, new Uint8Array(size));
  ts = keep(ts, new Int32Array(size));
  te = keep(te, new Int32Array(size));
  tcs = keep(tcs, new Int32Array(size));
  tce = keep(tce, new Int32Array(size));
  tn = keep(tn, new Int32Array(size));
}

function put(k: number, t: number, start: number, end: number, cs: number, ce: number, num: number): void {
  if (k >= capacity) resize(Math.max(256, capacity * 2));
  tt[k] = t;
  ts[k] = start;
  te[k] = end;
  tcs[k] = cs;
  tce[k] = ce;
  tn[k] = num;
}

/** A value expression being masked: it ends at `,` or `)` at `depth`, `;`, or one of `stops`. */
interface Region {
  kind: SensitiveKind;
  depth: number;
  stops: ReadonlySet<string>;
  /** CASE … END opened inside it (their WHEN/THEN/ELSE/END do not end it). */
  cases: number;
}

type InsertPhase = 'target' | 'skip' | 'cols' | 'after' | 'values' | 'tuple' | 'select';

interface InsertState {
  phase: InsertPhase;
  /** Depth of the parenthesis group (column list, row, partition list) or of the SELECT list. */
  depth: number;
  cols: Array<SensitiveKind | undefined>;
  /** The last name token inside the column list's current item, or -1. */
  name: number;
  /** Index of the current value in its row (or SELECT list). */
  item: number;
  partition: boolean;
}

/** What one reading of the text found. */
interface Found {
  spans: Array<{ start: number; end: number }>;
  kinds: Set<SensitiveKind>;
  params: Map<number, SensitiveKind>;
}

/** Case-insensitive: is token `k` the word `upper` (given in upper case)? */
function wordIs(sql: string, k: number, upper: string): boolean {
  const start = ts[k];
  if (tt[k] !== T.Word || te[k] - start !== upper.length) return false;
  for (let i = 0; i < upper.length; i++) {
    const c = sql.charCodeAt(start + i);
    if ((c >= 97 && c <= 122 ? c - 32 : c) !== upper.charCodeAt(i)) return false;
  }
  return true;
}

const upperWord = (sql: string, k: number): string => (tt[k] === T.Word && te[k] - ts[k] <= 32 ? sql.slice(ts[k], te[k]).toUpperCase() : '');

/** A name token: a word, a quoted name, or (MySQL's ANSI_QUOTES) a double-quoted string where a name stands. */
const isName = (sql: string, k: number): boolean => tt[k] === T.Word || tt[k] === T.QuotedName || (tt[k] === T.Str && sql.charCodeAt(ts[k]) === 34);

/** The kind of secret a column name (as written, up to 128 characters) names under the policy. */
export function columnNameKind(name: string, policy: MaskPolicy): SensitiveKind | undefined {
  if (name.length > 128 || name.length === 0) return undefined;
  const kind = keyKind(policy, name);
  return kind === undefined || NOT_SECRET_NAMES.has(name.toLowerCase()) ? undefined : kind;
}

/** The kind of secret a name token names under the policy. */
function nameKind(sql: string, k: number, policy: MaskPolicy): SensitiveKind | undefined {
  const start = tt[k] === T.Word ? ts[k] : tcs[k];
  const end = tt[k] === T.Word ? te[k] : tce[k];
  if (end - start > 128 || end <= start) return undefined;
  return columnNameKind(sql.slice(start, end), policy);
}

const isValue = (k: number): boolean => tt[k] === T.Str || tt[k] === T.Num || tt[k] === T.Param;
const isAssign = (sql: string, k: number): boolean =>
  tt[k] === T.Op && (te[k] - ts[k] === 1 ? sql.charCodeAt(ts[k]) === 61 : ASSIGN_OPS.has(sql.slice(ts[k], te[k])));

/** Whether the last quoted run `quotedEnd` read was closed. */
let closed = false;
/** Characters the tokenizer looked at in the current call (added to `scanMeter` at its end). */
let looked = 0;

/** The end of a quoted run whose opening quote is at `q`: after the closing quote, or the text's end. */
function quotedEnd(sql: string, q: number, quote: number, escapes: boolean): number {
  const n = sql.length;
  let j = q + 1;
  while (j < n) {
    looked++;
    const c = sql.charCodeAt(j);
    if (escapes && c === 92) {
      j += 2;
      continue;
    }
    if (c === quote) {
      if (sql.charCodeAt(j + 1) === quote) {
        j += 2;
        continue;
      }
      closed = true;
      return j + 1;
    }
    j++;
  }
  closed = false;
  return n;
}

/** Reads `sql` once under one escaping rule into the token slots; returns the token count. */
function tokenize(sql: string, dialect: SqlDialect, backslashEscapes: boolean): number {
  const n = sql.length;
  const mysql = dialect === 'mysql';
  // A token is at least one character.
  let count = 0;
  let i = 0;
  let questionMarks = 0;
  looked = 0;
  while (i < n) {
    looked++;
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    // Comments.
    if ((c === 45 && sql.charCodeAt(i + 1) === 45 && (!mysql || i + 2 >= n || sql.charCodeAt(i + 2) <= 32)) || (c === 35 && mysql)) {
      const nl = sql.indexOf('\n', i);
      looked += (nl === -1 ? n : nl) - i;
      i = nl === -1 ? n : nl + 1;
      continue;
    }
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const third = sql.charCodeAt(i + 2);
      if (mysql && (third === 33 || third === 43)) {
        // `/*! … */` and `/*+ … */` run as code: only the opener is skipped.
        i += 3;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        continue;
      }
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        looked++;
        const d = sql.charCodeAt(j);
        if (d === 42 && sql.charCodeAt(j + 1) === 47) {
          depth--;
          j += 2;
        } else if (!mysql && d === 47 && sql.charCodeAt(j + 1) === 42) {
          depth++;
          j += 2;
        } else j++;
      }
      i = j;
      continue;
    }
    if (c === 42 && mysql && sql.charCodeAt(i + 1) === 47) {
      // The end of an executable comment.
      i += 2;
      continue;
    }
    // Strings and quoted names.
    if (c === 39) {
      const end = quotedEnd(sql, i, 39, backslashEscapes);
      put(count++, T.Str, i, end, i + 1, closed ? end - 1 : end, 0);
      i = end;
      continue;
    }
    if (c === 34) {
      const end = quotedEnd(sql, i, 34, mysql && backslashEscapes);
      put(count++, mysql ? T.Str : T.QuotedName, i, end, i + 1, closed ? end - 1 : end, 0);
      i = end;
      continue;
    }
    if (c === 96 && mysql) {
      const end = quotedEnd(sql, i, 96, false);
      put(count++, T.QuotedName, i, end, i + 1, closed ? end - 1 : end, 0);
      i = end;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j))) j++;
      looked += j - i;
      // A prefixed string: E'…' (escapes), N'…', X'…', B'…', MySQL's _utf8mb4'…'. Other words
      // right before a quote stay words (`PASSWORD'x'`).
      const upper = c & ~32;
      if (sql.charCodeAt(j) === 39 && ((j - i === 1 && (upper === 69 || upper === 78 || upper === 88 || upper === 66)) || (mysql && c === 95))) {
        const end = quotedEnd(sql, j, 39, backslashEscapes || (!mysql && upper === 69));
        put(count++, T.Str, i, end, j + 1, closed ? end - 1 : end, 0);
        i = end;
        continue;
      }
      put(count++, T.Word, i, j, i, j, 0);
      i = j;
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      let j = i + 1;
      while (j < n) {
        const d = sql.charCodeAt(j);
        const prev = sql.charCodeAt(j - 1);
        if (isDigit(d) || isAlpha(d) || d === 46 || d === 95 || ((d === 43 || d === 45) && (prev === 101 || prev === 69))) j++;
        else break;
      }
      looked += j - i;
      put(count++, T.Num, i, j, i, j, 0);
      i = j;
      continue;
    }
    if (c === 36 && !mysql) {
      // `$1` parameters and `$tag$ … $tag$` strings.
      let j = i + 1;
      if (isDigit(sql.charCodeAt(j))) {
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        const num = j - i <= 7 ? Number(sql.slice(i + 1, j)) : 0;
        if (num >= 1) put(count++, T.Param, i, j, i, j, num - 1);
        i = j;
        continue;
      }
      if (isIdentStart(sql.charCodeAt(j))) while (j < n && j - i < 64 && isIdentChar(sql.charCodeAt(j)) && sql.charCodeAt(j) !== 36) j++;
      looked += j - i;
      if (sql.charCodeAt(j) === 36) {
        const tag = sql.slice(i, j + 1);
        const close = sql.indexOf(tag, j + 1);
        const end = close === -1 ? n : close + tag.length;
        looked += end - j;
        put(count++, T.Str, i, end, j + 1, close === -1 ? n : close, 0);
        i = end;
        continue;
      }
      put(count++, T.Punct, i, i + 1, i, i + 1, c);
      i++;
      continue;
    }
    if (c === 63 && mysql) {
      put(count++, T.Param, i, i + 1, i, i + 1, questionMarks++);
      i++;
      continue;
    }
    if (isOpChar(c)) {
      let j = i + 1;
      while (j < n && j - i < 4 && isOpChar(sql.charCodeAt(j))) j++;
      put(count++, T.Op, i, j, i, j, 0);
      i = j;
      continue;
    }
    put(count++, T.Punct, i, i + 1, i, i + 1, c);
    i++;
  }
  scanMeter.steps += looked + count;
  return count;
}

/**
 * The tokens of one reading of a statement, for the other readers of SQL text in this directory
 * (`sql-result-columns.ts`): the slots as they are after the reading, valid until the next one.
 * `releaseSqlTokens` gives back the slots a long text needed once its reader is done.
 */
export interface SqlTokens {
  count: number;
  /** `T.*` */
  type: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  /** A string's or quoted name's content: `[contentStart, contentEnd)`. */
  contentStart: Int32Array;
  contentEnd: Int32Array;
  /** A punctuation's character code, a parameter's 0-based index. */
  num: Int32Array;
}

export function sqlTokens(sql: string, dialect: SqlDialect, backslashEscapes: boolean): SqlTokens {
  const count = tokenize(sql, dialect, backslashEscapes);
  return { count, type: tt, start: ts, end: te, contentStart: tcs, contentEnd: tce, num: tn };
}

export function releaseSqlTokens(): void {
  if (capacity > KEEP_SLOTS) resize(KEEP_SLOTS);
}

/** One reading of `sql`: the spans, kinds and parameters it masks. */
function read(sql: string, dialect: SqlDialect, backslashEscapes: boolean, found: Found, policy: MaskPolicy): void {
  const count = tokenize(sql, dialect, backslashEscapes);
  let depth = 0;
  /** The first token of the current statement. */
  let first = 0;
  let region: Region | undefined;
  let awaitAssign = false;
  let insert: InsertState | undefined;

  const mask = (k: number, kind: SensitiveKind): void => {
    if (tt[k] === T.Param) {
      if (!found.params.has(tn[k])) found.params.set(tn[k], kind);
      return;
    }
    if (tt[k] === T.Str) {
      if (tce[k] <= tcs[k]) return;
      found.spans.push({ start: tcs[k], end: tce[k] });
    } else found.spans.push({ start: ts[k], end: te[k] });
    found.kinds.add(kind);
  };

  for (let k = 0; k < count; k++) {
    const t = tt[k];
    const punct = t === T.Punct ? tn[k] : 0;
    if (punct === SEMI) {
      depth = 0;
      first = k + 1;
      region = undefined;
      awaitAssign = false;
      insert = undefined;
      continue;
    }
    const prev = k > first ? k - 1 : -1;
    const prevIsName = prev !== -1 && (tt[prev] === T.Word || tt[prev] === T.QuotedName);
    // The depth after this token.
    const after = punct === OPEN ? depth + 1 : punct === CLOSE ? Math.max(0, depth - 1) : depth;

    // A value expression ends here?
    if (region !== undefined) {
      if ((punct === COMMA && depth === region.depth) || (punct === CLOSE && after < region.depth)) region = undefined;
      else if (t === T.Word && depth === region.depth) {
        const w = upperWord(sql, k);
        if (w === 'CASE') region.cases++;
        else if (w === 'END' && region.cases > 0) region.cases--;
        else if (region.cases === 0 && region.stops.has(w)) region = undefined;
      }
    }

    if (isValue(k)) {
      let kind = region?.kind;
      if (kind === undefined && insert !== undefined && (insert.phase === 'tuple' || insert.phase === 'select')) kind = insert.cols[insert.item];
      if (kind === undefined && prevIsName) {
        // `PASSWORD 'x'`, `OPTIONS (password 'x')`; not `SET SESSION AUTHORIZATION 'user'`.
        const named = nameKind(sql, prev, policy);
        if (named !== 'authorization') kind = named;
      }
      if (kind === undefined && k + 2 < count && isAssign(sql, k + 1) && (tt[k + 2] === T.Word || tt[k + 2] === T.QuotedName)) {
        // The value first: `'x' = password`.
        const named = nameKind(sql, k + 2, policy);
        if (named !== 'authorization') kind = named;
      }
      if (kind !== undefined) mask(k, kind);
    } else if (region === undefined && prevIsName) {
      if (isAssign(sql, k) || wordIs(sql, k, 'LIKE') || wordIs(sql, k, 'ILIKE') || wordIs(sql, k, 'IN') || (wordIs(sql, k, 'TO') && wordIs(sql, first, 'SET'))) {
        const named = nameKind(sql, prev, policy);
        if (named !== undefined) region = { kind: named, depth, stops: VALUE_STOPS, cases: 0 };
      } else if (punct === OPEN && (wordIs(sql, prev, 'PASSWORD') || wordIs(sql, prev, 'OLD_PASSWORD'))) {
        region = { kind: 'password', depth: after, stops: VALUE_STOPS, cases: 0 };
      } else if (wordIs(sql, k, 'FOR') && wordIs(sql, prev, 'PASSWORD')) {
        // SET PASSWORD FOR user = …: the user's literals are not the password.
        awaitAssign = true;
      }
    }
    if (awaitAssign && region === undefined && isAssign(sql, k)) {
      awaitAssign = false;
      region = { kind: 'password', depth, stops: VALUE_STOPS, cases: 0 };
    }
    if (wordIs(sql, k, 'IDENTIFIED')) region = { kind: 'password', depth, stops: IDENTIFIED_STOPS, cases: 0 };

    // INSERT [INTO] t (cols) VALUES (…), (…) | SELECT …
    if (wordIs(sql, k, 'INSERT') || (k === first && wordIs(sql, k, 'REPLACE'))) {
      insert = { phase: 'target', depth, cols: [], name: -1, item: 0, partition: false };
    } else if (insert !== undefined) {
      const s = insert;
      switch (s.phase) {
        case 'target':
          if (punct === OPEN) {
            s.phase = s.partition ? 'skip' : 'cols';
            s.depth = depth;
            s.partition = false;
          } else if (wordIs(sql, k, 'PARTITION')) s.partition = true;
          else if (wordIs(sql, k, 'VALUES') || wordIs(sql, k, 'VALUE') || wordIs(sql, k, 'SELECT') || wordIs(sql, k, 'SET') || wordIs(sql, k, 'DEFAULT')) insert = undefined;
          else if (t !== T.Word && t !== T.QuotedName && punct !== 46 && punct !== 64) insert = undefined;
          break;
        case 'skip':
          if (punct === CLOSE && after === s.depth) s.phase = 'target';
          break;
        case 'cols':
          if (isName(sql, k) && depth === s.depth + 1) s.name = k;
          else if ((punct === COMMA && depth === s.depth + 1) || (punct === CLOSE && after === s.depth)) {
            s.cols.push(s.name === -1 ? undefined : nameKind(sql, s.name, policy));
            s.name = -1;
            if (punct === CLOSE) {
              s.phase = 'after';
              if (!s.cols.some((c) => c !== undefined)) insert = undefined;
            }
          }
          break;
        case 'after':
          if (wordIs(sql, k, 'VALUES') || wordIs(sql, k, 'VALUE')) s.phase = 'values';
          else if (wordIs(sql, k, 'SELECT')) {
            s.phase = 'select';
            s.depth = depth;
            s.item = 0;
          } else if (!(wordIs(sql, k, 'OVERRIDING') || wordIs(sql, k, 'SYSTEM') || wordIs(sql, k, 'USER'))) insert = undefined;
          break;
        case 'values':
          if (punct === OPEN) {
            s.phase = 'tuple';
            s.depth = depth;
            s.item = 0;
          } else if (!(punct === COMMA || wordIs(sql, k, 'ROW') || wordIs(sql, k, 'VALUES'))) insert = undefined;
          break;
        case 'tuple':
          if (punct === COMMA && depth === s.depth + 1) s.item++;
          else if (punct === CLOSE && after === s.depth) s.phase = 'values';
          break;
        case 'select':
          if (punct === COMMA && depth === s.depth) s.item++;
          else if ((punct === CLOSE && after < s.depth) || (t === T.Word && depth === s.depth && SELECT_END.has(upperWord(sql, k)))) insert = undefined;
          break;
      }
    }
    depth = after;
  }
}

/** Spans sorted and merged (two readings may overlap). */
function merged(spans: Array<{ start: number; end: number }>): Array<{ start: number; end: number }> {
  spans.sort((a, b) => a.start - b.start);
  const out: Array<{ start: number; end: number }> = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last !== undefined && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}

/**
 * A reading of a statement under an enabled policy, remembered for the last statement of each
 * dialect: repeated statements (a prepared statement executed again and again) are read once.
 * A disabled policy reads nothing.
 */
export function lastStatementMemo<R>(read: (sql: string, dialect: SqlDialect, policy: MaskPolicy) => R | undefined): (sql: string, dialect: SqlDialect, policy: MaskPolicy) => R | undefined {
  const last: Record<SqlDialect, { sql: string; policy: MaskPolicy; result: R | undefined } | undefined> = { postgres: undefined, mysql: undefined };
  return (sql, dialect, policy) => {
    if (!policy.enabled) return undefined;
    const seen = last[dialect];
    if (seen !== undefined && seen.sql === sql && seen.policy === policy) return seen.result;
    const result = read(sql, dialect, policy);
    last[dialect] = { sql, policy, result };
    return result;
  };
}

const maskStatement = lastStatementMemo((sql: string, dialect: SqlDialect, policy: MaskPolicy): SqlSecrets | undefined => {
  let result: SqlSecrets | undefined;
  if (mayHoldSecret(policy)(sql)) {
    const found: Found = { spans: [], kinds: new Set(), params: new Map() };
    // The dialect's usual reading first; the other one too when a backslash makes them differ.
    const usual = dialect === 'mysql';
    read(sql, dialect, usual, found, policy);
    if (sql.includes('\\')) read(sql, dialect, !usual, found, policy);
    releaseSqlTokens();
    if (found.spans.length > 0 || found.params.size > 0) {
      let text = found.spans.length === 0 ? sql : '';
      if (found.spans.length > 0) {
        let at = 0;
        for (const s of merged(found.spans)) {
          text += sql.slice(at, s.start) + MASK;
          at = s.end;
        }
        text += sql.slice(at);
      }
      const values = new Set<string>();
      for (const span of found.spans) {
        const value = sql.slice(span.start, span.end);
        values.add(value);
        if (value.includes("''")) values.add(value.replaceAll("''", "'"));
      }
      result = { text, kinds: [...found.kinds], params: found.params, values: [...values] };
    }
  }
  return result;
});

/** The statement with its secrets masked under the policy (default: the default policy), or undefined when it holds none. */
export function maskSqlSecrets(sql: string, dialect: SqlDialect, policy: MaskPolicy = DEFAULT_MASK_POLICY): SqlSecrets | undefined {
  return maskStatement(sql, dialect, policy);
}

/** A statement's request with its secrets masked, and what a record says about them. */
export interface SqlRequestSecrets {
  query: string | undefined;
  params: Array<string | null> | undefined;
  /** `request.body.$.query`, `request.body.$.parameters[1]`, … */
  redacted: string[];
  sensitive: SensitiveKind[];
  /** The secret values themselves (literals and parameters), for `maskErrorEchoes`. */
  values: string[];
}

/**
 * The request a SQL session records (statement text, bound parameters, and for MySQL the names of
 * query attributes) with secrets masked under the policy; undefined when nothing was (always,
 * when the policy is disabled). A parameter is masked when the statement puts it in a secret
 * place, or when its name (a query attribute's) is one the policy masks.
 */
export function maskSqlRequest(
  query: string | undefined,
  params: ReadonlyArray<string | null> | undefined,
  dialect: SqlDialect,
  names?: readonly string[],
  policy: MaskPolicy = DEFAULT_MASK_POLICY,
): SqlRequestSecrets | undefined {
  if (!policy.enabled) return undefined;
  const secrets = query === undefined ? undefined : maskSqlSecrets(query, dialect, policy);
  const redacted: string[] = [];
  const sensitive = new Set<SensitiveKind>();
  const values: string[] = secrets?.values.slice() ?? [];
  if (secrets !== undefined && secrets.kinds.length > 0) {
    redacted.push('request.body.$.query');
    for (const k of secrets.kinds) sensitive.add(k);
  }
  let masked: Array<string | null> | undefined;
  if (params !== undefined) {
    const mask = (i: number, kind: SensitiveKind): void => {
      const value = params[i];
      if (i >= params.length || value === null || masked?.[i] === MASK) return;
      values.push(value);
      (masked ??= params.slice())[i] = MASK;
      redacted.push(`request.body.$.parameters[${i}]`);
      sensitive.add(kind);
    };
    if (secrets !== undefined) for (const [i, kind] of secrets.params) mask(i, kind);
    names?.forEach((name, i) => {
      const kind = name === '' ? undefined : keyKind(policy, name);
      if (kind !== undefined) mask(i, kind);
    });
  }
  if (redacted.length === 0) return undefined;
  return { query: secrets?.text ?? query, params: masked ?? params?.slice(), redacted, sensitive: [...sensitive], values };
}

/** Shortest secret value looked for in error text: a shorter one would mask ordinary words. */
const MIN_ECHO = 4;

/** `text` with every occurrence of `values` (longest first) replaced by `****`. */
function withoutValues(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of values) if (out.includes(v)) out = out.split(v).join(MASK);
  return out;
}

/**
 * A server's error may quote the statement or a value from it (MySQL: `… near 'BY 'pw'' at line
 * 1`, `Duplicate entry 'pw' for key …`; PostgreSQL: `Key (password)=(pw) already exists.`): the
 * secret values masked in the request are masked in the same record's error too — its
 * `error_detail`, response headers and, for an error response, body. Returns the fields changed.
 */
export function maskErrorEchoes(out: { error?: string; error_detail?: string; response?: HttpMessage }, secretValues: readonly string[]): string[] {
  const values = [...new Set(secretValues.filter((v) => v.length >= MIN_ECHO))].sort((a, b) => b.length - a.length);
  if (values.length === 0) return [];
  const changed: string[] = [];
  if (out.error_detail !== undefined) {
    const detail = withoutValues(out.error_detail, values);
    if (detail !== out.error_detail) {
      out.error_detail = detail;
      changed.push('error_detail');
    }
  }
  const response = out.response;
  if (response === undefined) return changed;
  let headers: Record<string, string> | undefined;
  for (const name in response.headers) {
    const value = withoutValues(response.headers[name], values);
    if (value !== response.headers[name]) {
      (headers ??= { ...response.headers })[name] = value;
      changed.push(`response.headers.${name}`);
    }
  }
  let body: Uint8Array | undefined;
  if (out.error !== undefined && response.body.length > 0) {
    // A JSON body holds each value JSON-escaped.
    const text = Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength).toString('utf8');
    const masked = withoutValues(text, values.map((v) => JSON.stringify(v).slice(1, -1)));
    if (masked !== text) {
      body = Buffer.from(masked);
      changed.push('response.body');
    }
  }
  if (headers !== undefined || body !== undefined) out.response = { ...response, headers: headers ?? response.headers, body: body ?? response.body };
  return changed;
}
