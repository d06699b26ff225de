/**
 * Which result columns of a statement hold values read from secret columns under another name.
 * Rows are masked by column name (the JSON masker sees each row as an object keyed by the names
 * the server gave the columns), so `SELECT password FROM u` and `SELECT * FROM u` need nothing
 * here; but an alias or an expression renames the value: `SELECT password AS pw`, `SELECT
 * u.password pw`, `SELECT lower(password) AS p`, `SELECT coalesce(token, '') t`, MySQL's
 * ``password AS `p` ``. `secretResultColumns` reads the statement's select list (a SELECT's, each
 * branch of a UNION/EXCEPT/INTERSECT, `RETURNING` of INSERT/UPDATE/DELETE, the SELECT after
 * `WITH …`) and returns the result columns whose item names a secret column (as the masking
 * policy decides for SQL columns, `keyKind`) anywhere in it, a subquery's select list included:
 * - by name, as the server names them: an alias (`AS` optional; PostgreSQL folds an unquoted one
 *   to lower case and cuts it at 63 bytes, MySQL keeps it as written; quoted, backticks, MySQL's
 *   `AS 'x'`);
 * - by position (0-based), for each item before the first `*` of its list: an expression
 *   without an alias is named by the server after its text (MySQL: `lower(password)`) or its
 *   function (PostgreSQL: `lower`, `?column?`), so it is found by where it stands. Past a `*` the
 *   position is unknown and such an expression goes by that name, as the server would give it.
 * An item whose own output name is a secret name (`password`, `u.password`, `x AS api_key`) is
 * left to the JSON masker, which masks that column as it always has; in a later branch of a
 * UNION, whose names the server does not use, it goes by position.
 *
 * What the text cannot say is not resolved: a view's or a table's columns behind `*` (which the
 * server names after the columns, so the JSON masker sees their names), whole-row values
 * (`SELECT u FROM u`, `row_to_json(u)`), SQL-level `PREPARE … FROM`/`EXECUTE` and `DECLARE …
 * CURSOR`/`FETCH` (the rows come back to another statement). A subquery's or CTE's aliases do
 * count: a name one of them gives to a secret (`WITH s AS (SELECT password AS p FROM u) SELECT p
 * AS x FROM s`, `… FROM (SELECT password AS p FROM u) d`) is secret wherever the statement names
 * it, and a `*` over them is given those names; a column list renaming them (`WITH s(x) AS …`)
 * is not followed. A secret column named
 * anywhere in an item makes it secret (`CASE WHEN token IS NULL THEN 'no' END AS has_token` too):
 * more is masked rather than less. The conditions of a subquery (`WHERE token = …`) do not.
 *
 * The statement is attacker-controlled: it is read by the tokenizer of `sql-secrets.ts` (one pass,
 * or two when a backslash makes the escaping rules differ), then its tokens are walked at most
 * `MAX_PASSES` times, each token looked at a bounded number of times; a statement that names no
 * secret name of the policy (`namePrefilter`) is not tokenized at all.
 */
import { MASK } from './detectors.ts';
import { namePrefilter } from './key-kind.ts';
import { DEFAULT_MASK_POLICY, type MaskPolicy, type SensitiveKind } from './policy.ts';
import { scanMeter } from './scan-meter.ts';
import { T, columnNameKind, lastStatementMemo, releaseSqlTokens, sqlTokens, type SqlDialect, type SqlTokens } from './sql-secrets.ts';

/** Result columns derived from secret columns: by the name the server gives them, and by position. */
export interface SecretResultColumns {
  names: ReadonlyMap<string, SensitiveKind>;
  positions: ReadonlyMap<number, SensitiveKind>;
}

/** Whether a statement may name a secret column under a policy. */
const mayNameSecret = namePrefilter();

/** Walks of the tokens: a name a subquery gives a secret is found in the first, used in the next. */
const MAX_PASSES = 3;

/** Words that end a select list at its own depth. */
const LIST_END: ReadonlySet<string> = new Set([
  'FROM', 'INTO', 'WHERE', 'GROUP', 'HAVING', 'ORDER', 'LIMIT', 'OFFSET', 'UNION', 'EXCEPT', 'INTERSECT', 'MINUS', 'WINDOW', 'FETCH', 'FOR',
  'LOCK', 'PROCEDURE', 'QUALIFY',
]);

const SET_OPS: ReadonlySet<string> = new Set(['UNION', 'EXCEPT', 'INTERSECT', 'MINUS']);

/** Statements whose own select list (or RETURNING list) is what the server sends back. */
const VERBS: ReadonlySet<string> = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'MERGE']);

/** Words between SELECT and its first item. */
const MODIFIERS: ReadonlySet<string> = new Set([
  'DISTINCT', 'ALL', 'DISTINCTROW', 'HIGH_PRIORITY', 'STRAIGHT_JOIN', 'SQL_SMALL_RESULT', 'SQL_BIG_RESULT', 'SQL_BUFFER_RESULT',
  'SQL_NO_CACHE', 'SQL_CACHE', 'SQL_CALC_FOUND_ROWS',
]);

/** Keywords that are no alias and end no expression an alias could follow (`x IS NULL`, `DATE '…'`). */
const RESERVED: ReadonlySet<string> = new Set([
  'ALL', 'AND', 'ANY', 'ARRAY', 'AS', 'ASC', 'ASYMMETRIC', 'BETWEEN', 'BINARY', 'BOTH', 'CASE', 'CAST', 'COLLATE', 'DATE', 'DESC',
  'DISTINCT', 'DIV', 'ELSE', 'END', 'ESCAPE', 'EXISTS', 'FALSE', 'FILTER', 'FROM', 'GROUP', 'ILIKE', 'IN', 'INTERVAL', 'IS', 'ISNULL',
  'LIKE', 'MOD', 'NOT', 'NOTNULL', 'NULL', 'OR', 'OVER', 'REGEXP', 'RLIKE', 'SIMILAR', 'SOME', 'SOUNDS', 'SYMMETRIC', 'THEN', 'TIME',
  'TIMESTAMP', 'TRUE', 'UNKNOWN', 'WHEN', 'WITHIN', 'XOR',
]);

/** Functions with secret words in their names that read no column (`SELECT session_user AS u`). */
const NOT_SOURCES: ReadonlySet<string> = new Set(['session_user', 'current_user']);

/** PostgreSQL cuts identifiers at NAMEDATALEN - 1 bytes. */
const PG_NAME_BYTES = 63;
/** Longer names are not looked at (a MySQL expression's text stands for its name up to 256 characters). */
const MAX_NAME = 256;

const DOT = 46;
const STAR = 42;
const OPEN = 40;
const CLOSE = 41;
const COMMA = 44;
const SEMI = 59;
const LBRACKET = 91;
const RBRACKET = 93;

/** How the top level of an item reads so far (before a `::` cast, and not counting the alias). */
const S = { Start: 0, Ref: 1, RefDot: 2, Call: 3, Case: 4, CaseEnd: 5, Other: 6, Star: 7 } as const;
type Shape = (typeof S)[keyof typeof S];

interface Item {
  /** First and last token of the item, or -1. */
  first: number;
  last: number;
  /** The last two tokens at the item's own depth. */
  lastTop: number;
  prevTop: number;
  /** The token after the item's last `AS` at its own depth, or -1; `afterAs` while awaiting it. */
  alias: number;
  afterAs: boolean;
  shape: Shape;
  /** The shape before the last top-level token (what the item was if that token is an alias). */
  shapeBefore: Shape;
  /** The column reference's last name, or the function's name. */
  nameTok: number;
  cases: number;
  brackets: number;
  /** After a top-level `::` (PostgreSQL): the shape is kept, `castType` the type's first word. */
  cast: boolean;
  castType: number;
  castAwait: boolean;
  /** The secret a token of the item read, alias candidates left out. */
  kind: SensitiveKind | undefined;
  /** The last secret name token at the item's own depth and its kind: the alias, if the item ends with it. */
  held: number;
  heldKind: SensitiveKind | undefined;
}

interface List {
  depth: number;
  /** The list whose rows the server sends back; `first`: the first such list of its statement (it names the columns). */
  result: boolean;
  first: boolean;
  /** Past its items (FROM, WHERE, …) until its depth closes. */
  after: boolean;
  index: number;
  /** A `*` item seen: the positions of the items after it are unknown. */
  star: boolean;
  /** Skipping `DISTINCT ON (…)`. */
  skipping: boolean;
  /** An item of the list read a secret: so does the item of the enclosing list it stands in. */
  secret: SensitiveKind | undefined;
  item: Item;
}

const newItem = (): Item => ({
  first: -1,
  last: -1,
  lastTop: -1,
  prevTop: -1,
  alias: -1,
  afterAs: false,
  shape: S.Start,
  shapeBefore: S.Start,
  nameTok: -1,
  cases: 0,
  brackets: 0,
  cast: false,
  castType: -1,
  castAwait: false,
  kind: undefined,
  held: -1,
  heldKind: undefined,
});

/** A name a subquery gives a secret: as the server names it, and its kind. */
interface Derived {
  name: string;
  kind: SensitiveKind;
}

interface Out {
  names: Map<string, SensitiveKind>;
  positions: Map<number, SensitiveKind>;
  /** A result list held a `*`. */
  star: boolean;
}

/** ASCII letters to lower case (PostgreSQL folds no other character of an unquoted name). */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** The name cut to PostgreSQL's identifier length, on a character boundary. */
function pgCut(name: string): string {
  if (name.length <= PG_NAME_BYTES / 3 || Buffer.byteLength(name) <= PG_NAME_BYTES) return name;
  let out = '';
  let bytes = 0;
  for (const ch of name) {
    const b = Buffer.byteLength(ch);
    if (bytes + b > PG_NAME_BYTES) break;
    out += ch;
    bytes += b;
  }
  return out;
}

/** One walk of a text's tokens. */
class Walk {
  private readonly sql: string;
  private readonly dialect: SqlDialect;
  private readonly tok: SqlTokens;
  private readonly policy: MaskPolicy;
  private readonly derived: Map<string, Derived>;
  private readonly out: Out;
  private readonly lists: List[] = [];
  /** The current statement: its first token, verb, result lists so far, depth of query-level parentheses. */
  private first = 0;
  private verb: string | undefined;
  private results = 0;
  private queryDepth = 0;

  constructor(sql: string, dialect: SqlDialect, tok: SqlTokens, policy: MaskPolicy, derived: Map<string, Derived>, out: Out) {
    this.sql = sql;
    this.dialect = dialect;
    this.tok = tok;
    this.policy = policy;
    this.derived = derived;
    this.out = out;
  }

  private upper(k: number): string {
    const { type, start, end } = this.tok;
    return type[k] === T.Word && end[k] - start[k] <= 32 ? this.sql.slice(start[k], end[k]).toUpperCase() : '';
  }

  private punct(k: number): number {
    return k >= 0 && k < this.tok.count && this.tok.type[k] === T.Punct ? this.tok.num[k] : 0;
  }

  /** A name token: a word, a quoted name; in MySQL a double-quoted string holding a bare name (ANSI_QUOTES). */
  private isName(k: number): boolean {
    const t = this.tok.type[k];
    if (t === T.Word || t === T.QuotedName) return true;
    if (t !== T.Str || this.dialect !== 'mysql' || this.sql.charCodeAt(this.tok.start[k]) !== 34) return false;
    const cs = this.tok.contentStart[k];
    const ce = this.tok.contentEnd[k];
    if (ce <= cs || ce - cs > 128) return false;
    for (let i = cs; i < ce; i++) {
      const c = this.sql.charCodeAt(i);
      if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c >= 128)) return false;
    }
    return true;
  }

  /** A token's name as written: a word's text, a quoted name's or string's content with doubled quotes undone. */
  private written(k: number): string | undefined {
    const { type, start, end, contentStart, contentEnd } = this.tok;
    if (type[k] === T.Word) {
      if (end[k] - start[k] > MAX_NAME) return undefined;
      scanMeter.steps += end[k] - start[k];
      return this.sql.slice(start[k], end[k]);
    }
    if (contentEnd[k] - contentStart[k] > 2 * MAX_NAME) return undefined;
    scanMeter.steps += contentEnd[k] - contentStart[k];
    // The opening quote (after a prefix such as MySQL's `_utf8mb4`).
    const quote = this.sql[contentStart[k] - 1];
    const content = this.sql.slice(contentStart[k], contentEnd[k]);
    return content.includes(quote) ? content.split(quote + quote).join(quote) : content;
  }

  /** The name the server gives a column a name token names (an alias, a column). */
  private serverName(k: number): string | undefined {
    const name = this.written(k);
    if (name === undefined || name === '' || this.dialect === 'mysql') return name;
    return pgCut(this.tok.type[k] === T.Word ? asciiLower(name) : name);
  }

  /** How names are compared: PostgreSQL's names as it folds them, MySQL's column names in any case. */
  private key(name: string): string {
    return this.dialect === 'mysql' ? name.toLowerCase() : name;
  }

  /** The secret a name token reads, if it is a column (not a function, a qualifier, an alias or a type). */
  private sourceKind(k: number): SensitiveKind | undefined {
    const next = this.punct(k + 1);
    if (next === OPEN || next === DOT) return undefined;
    const prev = k - 1;
    if (prev >= this.first && (this.upper(prev) === 'AS' || (this.tok.type[prev] === T.Op && this.sql.startsWith('::', this.tok.start[prev])))) return undefined;
    const { type, start, end, contentStart, contentEnd } = this.tok;
    const s = type[k] === T.Word ? start[k] : contentStart[k];
    const e = type[k] === T.Word ? end[k] : contentEnd[k];
    if (e - s > 128 || e <= s) return undefined;
    scanMeter.steps += e - s;
    const name = this.sql.slice(s, e);
    if (NOT_SOURCES.has(name.toLowerCase())) return undefined;
    const kind = columnNameKind(name, this.policy);
    if (kind !== undefined || this.derived.size === 0) return kind;
    const server = this.serverName(k);
    return server === undefined ? undefined : this.derived.get(this.key(server))?.kind;
  }

  /** Whether token `k` ends an expression an alias may follow. */
  private endsExpression(k: number): boolean {
    const t = this.tok.type[k];
    if (t === T.Word) return !RESERVED.has(this.upper(k));
    if (t === T.QuotedName || t === T.Str || t === T.Num || t === T.Param) return true;
    const p = this.punct(k);
    return p === CLOSE || p === RBRACKET;
  }

  /** The item's alias without AS: its last top-level token, when a name follows an expression. */
  private implicitAlias(it: Item): number {
    const k = it.lastTop;
    const p = it.prevTop;
    if (k === -1 || p === -1 || !this.endsExpression(p)) return -1;
    const t = this.tok.type[k];
    if (t === T.Word) return RESERVED.has(this.upper(k)) ? -1 : k;
    if (t === T.QuotedName) return k;
    // MySQL: `SELECT x 'alias'`; two strings in a row are one string.
    return t === T.Str && this.dialect === 'mysql' && this.tok.type[p] !== T.Str ? k : -1;
  }

  /** The name the server gives an expression without an alias (a guess beyond a column or a function). */
  private expressionName(it: Item, shape: Shape): string | undefined {
    if (this.dialect === 'mysql') {
      if (shape === S.Ref) return this.serverName(it.nameTok);
      const { start, end } = this.tok;
      const length = end[it.last] - start[it.first];
      if (length > MAX_NAME) return undefined;
      scanMeter.steps += length;
      return this.sql.slice(start[it.first], end[it.last]);
    }
    if (shape === S.Ref || (shape === S.Call && this.upper(it.nameTok) !== 'CAST')) return this.serverName(it.nameTok);
    if (it.cast) return it.castType === -1 ? undefined : this.serverName(it.castType);
    if (shape === S.Case || shape === S.CaseEnd) return 'case';
    return shape === S.Call ? undefined : '?column?';
  }

  private endItem(list: List): void {
    const it = list.item;
    const index = list.index;
    list.index++;
    list.item = newItem();
    if (it.first === -1) return;
    if (it.shape === S.Star) {
      list.star = true;
      if (list.result) this.out.star = true;
      return;
    }
    const alias = it.alias !== -1 ? it.alias : this.implicitAlias(it);
    let kind = it.kind;
    if (it.held !== -1 && it.held !== alias) kind ??= it.heldKind;
    if (kind === undefined) return;
    list.secret ??= kind;
    const shape = alias !== -1 && alias === it.lastTop && it.alias === -1 ? it.shapeBefore : it.shape;
    // A name the server takes from the text (an alias, a column) is certain; an expression's is a guess.
    let name: string | undefined;
    let certain = true;
    if (alias !== -1) name = this.serverName(alias);
    else if (shape === S.Ref && !it.cast) name = this.serverName(it.nameTok);
    else {
      name = this.expressionName(it, shape);
      certain = false;
    }
    if (!list.result) {
      if (name !== undefined && !this.derived.has(this.key(name))) this.derived.set(this.key(name), { name, kind });
      return;
    }
    // The JSON masker masks a column whose name is a secret name; the first branch of a UNION names the columns.
    if (list.first && certain && name !== undefined && columnNameKind(name, this.policy) !== undefined) return;
    if (!list.star) {
      if (!this.out.positions.has(index)) this.out.positions.set(index, kind);
      if (!certain) return;
    }
    if (name !== undefined && list.first && !this.out.names.has(name)) this.out.names.set(name, kind);
  }

  /** The list ends (its depth closed, another statement, the text's end): its secret goes to the item it stands in. */
  private pop(): void {
    scanMeter.steps++;
    const list = this.lists.pop() as List;
    if (!list.after) this.endItem(list);
    const outer = this.lists[this.lists.length - 1];
    if (list.secret !== undefined && outer !== undefined && !outer.after) outer.item.kind ??= list.secret;
  }

  private endStatement(): void {
    while (this.lists.length > 0) this.pop();
    this.verb = undefined;
    this.results = 0;
    this.queryDepth = 0;
  }

  /** Token `k` at `depth` (its own, `after` past it) inside the current item of `list`. */
  private add(list: List, k: number, depth: number, after: number): void {
    const it = list.item;
    const type = this.tok.type[k];
    const punct = type === T.Punct ? this.tok.num[k] : 0;
    if (it.first === -1 && list.index === 0) {
      // SELECT DISTINCT ON (…) / ALL / MySQL's modifiers, before the first item.
      if (list.skipping) {
        if (punct === CLOSE && after === list.depth) list.skipping = false;
        return;
      }
      const w = this.upper(k);
      if (MODIFIERS.has(w)) return;
      if (w === 'ON' && this.punct(k + 1) === OPEN && k - 1 >= this.first && this.upper(k - 1) === 'DISTINCT') {
        list.skipping = true;
        return;
      }
    }
    if (it.first === -1) it.first = k;
    it.last = k;
    if (this.isName(k)) {
      const kind = this.sourceKind(k);
      if (kind !== undefined) {
        if (depth !== list.depth) it.kind ??= kind;
        else {
          if (it.held !== -1) it.kind ??= it.heldKind;
          it.held = k;
          it.heldKind = kind;
        }
      }
    }
    if (depth !== list.depth && !(punct === CLOSE && after === list.depth)) return;
    // The item's own depth.
    it.prevTop = it.lastTop;
    it.lastTop = k;
    it.shapeBefore = it.shape;
    if (it.afterAs) {
      it.afterAs = false;
      it.alias = this.isName(k) || type === T.Str ? k : -1;
      return;
    }
    const w = this.upper(k);
    if (w === 'AS' && it.brackets === 0) {
      it.afterAs = true;
      return;
    }
    if (it.alias !== -1) return;
    if (punct === LBRACKET) it.brackets++;
    else if (punct === RBRACKET && it.brackets > 0) it.brackets--;
    else if (it.brackets > 0) return;
    if (type === T.Op && this.sql.startsWith('::', this.tok.start[k])) {
      it.cast = true;
      it.castAwait = true;
      return;
    }
    if (it.castAwait) {
      it.castAwait = false;
      if (type === T.Word) it.castType = k;
    }
    if (it.cast || punct === LBRACKET || punct === RBRACKET) return;
    const name = this.isName(k);
    switch (it.shape) {
      case S.Start:
        if (w === 'CASE') {
          it.shape = S.Case;
          it.cases = 1;
        } else if (punct === STAR) it.shape = S.Star;
        else if (name) {
          it.shape = S.Ref;
          it.nameTok = k;
        } else it.shape = S.Other;
        break;
      case S.Ref:
        it.shape = punct === DOT ? S.RefDot : punct === OPEN ? S.Call : S.Other;
        break;
      case S.RefDot:
        if (name) {
          it.shape = S.Ref;
          it.nameTok = k;
        } else it.shape = punct === STAR ? S.Star : S.Other;
        break;
      case S.Call:
        if (!(punct === OPEN || punct === CLOSE || w === 'OVER' || w === 'FILTER' || w === 'WITHIN' || w === 'GROUP' || (name && this.upper(it.prevTop) === 'OVER'))) it.shape = S.Other;
        break;
      case S.Case:
        if (w === 'CASE') it.cases++;
        else if (w === 'END' && --it.cases === 0) it.shape = S.CaseEnd;
        break;
      default:
        it.shape = S.Other;
    }
  }

  /** Is the `(` at `k` (at `depth`) a query's own parenthesis: `(SELECT …) UNION (SELECT …)`? */
  private queryParen(k: number, depth: number): boolean {
    if (depth !== this.queryDepth || (this.verb !== undefined && this.verb !== 'SELECT')) return false;
    const prev = k - 1;
    if (prev < this.first) return true;
    if (this.punct(prev) === OPEN) return true;
    // After the CTEs of `WITH …`: `) (SELECT …)`.
    if (this.verb === undefined && depth === 0 && this.punct(prev) === CLOSE) return true;
    const w = this.upper(prev);
    if (SET_OPS.has(w)) return true;
    return (w === 'ALL' || w === 'DISTINCT') && prev - 1 >= this.first && SET_OPS.has(this.upper(prev - 1));
  }

  run(): void {
    const { count, type, num } = this.tok;
    let depth = 0;
    for (let k = 0; k < count; k++) {
      const punct = type[k] === T.Punct ? num[k] : 0;
      if (punct === SEMI) {
        this.endStatement();
        depth = 0;
        this.first = k + 1;
        continue;
      }
      const after = punct === OPEN ? depth + 1 : punct === CLOSE ? Math.max(0, depth - 1) : depth;
      const w = type[k] === T.Word ? this.upper(k) : '';
      // The statement's verb: what its first word (after `WITH …`) says it returns.
      if (k === this.first) {
        if (punct === OPEN) this.verb = 'SELECT';
        else if (w !== 'WITH') this.verb = VERBS.has(w) ? w : 'OTHER';
      } else if (this.verb === undefined && depth === 0 && VERBS.has(w)) this.verb = w;
      if (punct === OPEN && this.queryParen(k, depth)) {
        this.verb ??= 'SELECT';
        this.queryDepth = depth + 1;
      }
      if (punct === CLOSE) {
        while (this.lists.length > 0 && this.lists[this.lists.length - 1].depth > after) this.pop();
        if (after < this.queryDepth) this.queryDepth = after;
      }
      // The current list's item ends at `,`, its items at FROM, WHERE, … (not `IS DISTINCT FROM`, `WITHIN GROUP`).
      let top = this.lists[this.lists.length - 1];
      if (top !== undefined && !top.after && depth === top.depth) {
        if (punct === COMMA) {
          this.endItem(top);
          continue;
        }
        if (LIST_END.has(w) && !top.skipping) {
          const prev = this.upper(k - 1);
          if (!((w === 'FROM' && prev === 'DISTINCT') || (w === 'GROUP' && prev === 'WITHIN'))) {
            this.endItem(top);
            top.after = true;
          }
        }
      }
      const opens = w === 'SELECT' || w === 'RETURNING';
      if (opens) {
        // A sibling (the next branch of a UNION, RETURNING after INSERT … SELECT) ends the list before it.
        while (top !== undefined && top.depth >= depth) {
          this.pop();
          top = this.lists[this.lists.length - 1];
        }
      }
      if (top !== undefined && !top.after) this.add(top, k, depth, after);
      if (opens) {
        const result = w === 'SELECT' ? this.verb === 'SELECT' && depth === this.queryDepth : this.verb !== 'SELECT' && this.verb !== 'OTHER' && this.verb !== undefined && depth === 0;
        if (result) this.results++;
        this.lists.push({ depth, result, first: result && this.results === 1, after: false, index: 0, star: false, skipping: false, secret: undefined, item: newItem() });
      }
      depth = after;
    }
    this.endStatement();
    scanMeter.steps += count;
  }
}

/**
 * The result columns of `sql` whose values come from secret columns under the policy, by the
 * name the server gives them and by position; undefined when there are none (always when the
 * policy is disabled, or the text names no secret name).
 */
export function secretResultColumns(sql: string, dialect: SqlDialect, policy: MaskPolicy = DEFAULT_MASK_POLICY): SecretResultColumns | undefined {
  return readResultColumns(sql, dialect, policy);
}

const readResultColumns = lastStatementMemo((sql: string, dialect: SqlDialect, policy: MaskPolicy): SecretResultColumns | undefined => {
  let result: SecretResultColumns | undefined;
  if (mayNameSecret(policy)(sql)) {
    const out: Out = { names: new Map(), positions: new Map(), star: false };
    const derived = new Map<string, Derived>();
    // The dialect's usual reading first; the other one too when a backslash makes them differ.
    const readings = sql.includes('\\') ? [dialect === 'mysql', dialect !== 'mysql'] : [dialect === 'mysql'];
    for (const escapes of readings) {
      const tok = sqlTokens(sql, dialect, escapes);
      for (let pass = 0; pass < MAX_PASSES; pass++) {
        const known = derived.size;
        const walked: Out = { names: new Map(), positions: new Map(), star: false };
        new Walk(sql, dialect, tok, policy, derived, walked).run();
        if (pass === MAX_PASSES - 1 || derived.size === known) {
          for (const [name, kind] of walked.names) if (!out.names.has(name)) out.names.set(name, kind);
          for (const [i, kind] of walked.positions) if (!out.positions.has(i)) out.positions.set(i, kind);
          out.star ||= walked.star;
          break;
        }
      }
    }
    releaseSqlTokens();
    // A `*` over a subquery or CTE returns the names it gave secrets.
    if (out.star) for (const d of derived.values()) if (!out.names.has(d.name) && columnNameKind(d.name, policy) === undefined) out.names.set(d.name, d.kind);
    if (out.names.size > 0 || out.positions.size > 0) result = { names: out.names, positions: out.positions };
  }
  return result;
});

/** The columns of a result to mask, by index: by position, or by the name the server gave them. */
export function columnsToMask(secrets: SecretResultColumns, names: ReadonlyArray<string> | undefined): Map<number, SensitiveKind> {
  const out = new Map(secrets.positions);
  names?.forEach((name, i) => {
    const kind = secrets.names.get(name);
    if (kind !== undefined && !out.has(i)) out.set(i, kind);
  });
  return out;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A row value's path as the JSON masker writes it: `response.body.$.rows[0].pw`, `….rows[0]["?column?"]`. */
export function rowValuePath(row: number, key: string): string {
  return `response.body.$.rows[${row}]${IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`;
}

/**
 * The values of the given columns (by index; `keys[i]` names column i in a row object, `$i+1`
 * when unknown) replaced by `****` in each row, whatever they held (NULL too, as the JSON
 * masker does). A masked value may be longer than the value: rows that no longer fit in
 * `maxRowBytes` (each row's JSON and a separator, as the result sessions count them) are
 * dropped from the end (`cut`), and `bytes` is what the rows kept take. Returns the paths
 * replaced in the rows kept and the kinds.
 */
export function maskResultRows(
  rows: Array<Record<string, string | null>>,
  keys: readonly string[],
  columns: ReadonlyMap<number, SensitiveKind>,
  maxRowBytes: number,
): { redacted: string[]; sensitive: SensitiveKind[]; bytes: number | undefined; cut: boolean } {
  const redacted: string[] = [];
  const sensitive = new Set<SensitiveKind>();
  if (columns.size === 0 || rows.length === 0) return { redacted, sensitive: [], bytes: undefined, cut: false };
  const order = [...columns.keys()].sort((a, b) => a - b);
  let bytes = 0;
  let kept = 0;
  for (const row of rows) {
    let changed = false;
    for (const i of order) {
      const key = keys[i] ?? `$${i + 1}`;
      if (Object.hasOwn(row, key)) {
        row[key] = MASK;
        changed = true;
      }
    }
    const size = Buffer.byteLength(JSON.stringify(row)) + 1;
    if (bytes + size > maxRowBytes) break;
    bytes += size;
    if (changed) {
      for (const i of order) {
        const key = keys[i] ?? `$${i + 1}`;
        if (Object.hasOwn(row, key)) {
          redacted.push(rowValuePath(kept, key));
          sensitive.add(columns.get(i) as SensitiveKind);
        }
      }
    }
    kept++;
  }
  const cut = kept < rows.length;
  rows.length = kept;
  return { redacted, sensitive: [...sensitive], bytes, cut };
}
