/**
 * Credentials known by their own shape in free text, whatever key (if any) they sit under:
 *
 * - tokens with a fixed, registered prefix: GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and at
 *   least 36 letters and digits; `github_pat_` and at least 22 letters, digits and `_`), Slack
 *   (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-` and at least 10 letters, digits and `-`), AWS
 *   access key ids (`AKIA` or `ASIA` and exactly 16 upper-case letters and digits), Stripe
 *   secret and restricted keys (`sk_live_`, `sk_test_`, `rk_live_`, `rk_test_` and at least 24
 *   letters and digits; not the publishable `pk_…`, public by design), Google API keys (`AIza`
 *   and exactly 35 letters, digits, `_` and `-`), GitLab access tokens (`glpat-` and at least 20
 *   letters, digits, `_` and `-`), npm tokens (`npm_` and exactly 36 letters and digits), OpenAI
 *   API keys (`sk-proj-`, `sk-svcacct-`, `sk-admin-` and at least 20 letters, digits, `_` and
 *   `-`, or `sk-` and exactly 48 letters and digits; Stripe's `sk_…` is Stripe's), SendGrid API
 *   keys (`SG.`, exactly 22 letters, digits, `_` and `-`, `.`, exactly 43 more), Google OAuth
 *   access tokens (`ya29.` and at least 20 letters, digits, `_` and `-`). Each starts a word (not
 *   right after a letter, digit or `_`, but right after a percent-escape), and is masked whole:
 *   `github_token`, `slack_token`, `aws_key_id`, `stripe_key`, `google_api_key`, `gitlab_token`,
 *   `npm_token`, `openai_key`, `sendgrid_key`, `google_oauth_token`. A format of an exact length
 *   also ends the word there (`npm_` and 37 is no npm token);
 * - `Bearer <credentials>` outside an `Authorization` header (a body, a log line in a body, a
 *   header that is not a sensitive one, a query value): the word `Bearer` (or `bearer`,
 *   `BEARER`) starting a word (not after a letter, digit, `_` or `-`: `standard-bearer`,
 *   `forbearer` are words), then spaces and tabs, one or more in any mix (a tab-separated log
 *   line, `Bearer\t<token>`, or a value aligned with spaces; `%20` and `%09` in URL-encoded
 *   text, `+` in a query or form; a line break is no separator: the next line says something
 *   else), then a token68 (`[A-Za-z0-9-._~+/]`, `=` padding; in URL-encoded text the escapes
 *   of those). Only the credentials are masked, `Bearer ****`, as `bearer_token`, and only when
 *   they look like some: at least 6 characters holding a digit, one of `-_~+/`, padding, or a
 *   capital after a small letter. So prose keeps its words (`the bearer of this card`, `Bearer
 *   authentication`, `bearer tokens`), and so does a challenge's parameter (`Bearer
 *   realm="shop"`, `Bearer error="invalid_token"`).
 *
 * Whether text holds any token is two native searches (`tokenStarts`): one for the starts of
 * the first formats and `Bearer` (`TOKEN_STARTS`: `earer`, `EARER`, `gh?_`, `github_pat_`,
 * `xox?-`, `AKIA`, `ASIA`, `?k_live_`, `?k_test_`, `AIza`), one for the other formats in their
 * whole shapes (`glpat-` and 20 of its characters, `npm_` and 36, `sk-proj-`…, `sk-` and 48,
 * `SG.` and 22 and `.`, `ya29.` and 20), with the starts of private keys (`private-key.ts`) in
 * the same expression. Two because one expression of them all runs about twice as slow on prose
 * as both do (the engine skips ahead over text by the characters every alternative may start
 * with, and stops doing so well past a handful of them); their shapes because their prefixes are
 * common in words (`risk-free`, `npm_config_cache`). The finders search for the prefixes again
 * only in text that holds a start, look at the characters of a candidate once and go on after
 * it: linear in the text. `mayHoldToken` is those searches alone, for callers to skip text that
 * holds none; `body-prefilter.ts` and `scanTriggers` (`detectors.ts`) look for the same starts.
 *
 * Text cut short (`findCutToken`): a prefix and at least one character after it reaching the
 * very end (`…ghp_x7Gq`, `…sk-proj-ab`), or `Bearer` and spaces or tabs and at least one
 * credential character, is masked as what it starts.
 */
import type { Span } from './detectors.ts';
import { byteEscapedBefore, percentByte } from './percent-escape.ts';
import { PRIVATE_KEY_STARTS } from './private-key.ts';
import { scanMeter } from './scan-meter.ts';
import { isWordChar, startsWord } from './word-start.ts';

export type TokenKind =
  | 'github_token'
  | 'slack_token'
  | 'aws_key_id'
  | 'stripe_key'
  | 'google_api_key'
  | 'gitlab_token'
  | 'npm_token'
  | 'openai_key'
  | 'sendgrid_key'
  | 'google_oauth_token'
  | 'bearer_token';

/** A token a finder found, and its kind. */
export interface TokenSpan extends Span {
  kind: TokenKind;
}

/**
 * What the first formats' tokens start with (`Bearer` without its `B`). One search by the
 * regular expression engine (`tokenStarts`, `indexOfTokenStart`); the finders search for their
 * own starts again only in text that holds one.
 */
// Stripe's `sk_`/`rk_` is checked by the finders (`prefixStart`): searching for `[rs]k_…` made
// the search about twice as slow on prose, full of `s` and `r`.
const PREFIXES_SOURCE = 'gh[pousr]_|github_pat_|xox[abprs]-|A(?:[KS]IA|Iza)|_(?:live|test)_';
const STARTS_SOURCE = `earer|EARER|${PREFIXES_SOURCE}`;
const TOKEN_STARTS = new RegExp(STARTS_SOURCE);
const TOKEN_STARTS_ALL = new RegExp(STARTS_SOURCE, 'g');
const PREFIX_STARTS = new RegExp(PREFIXES_SOURCE);
const PREFIXES = new RegExp(PREFIXES_SOURCE, 'g');
/** The other formats' prefixes, for their finders (which read the rest). */
const SHAPED_PREFIXES_SOURCE = 'glpat-|npm_|sk-|SG\\.|ya29\\.';
/** Every prefix: the finders' search in text that holds one of the other formats' shapes. */
const ALL_PREFIXES = new RegExp(`${PREFIXES_SOURCE}|${SHAPED_PREFIXES_SOURCE}`, 'g');
const SHAPED_PREFIXES = new RegExp(SHAPED_PREFIXES_SOURCE, 'g');
/**
 * The other formats in their whole shapes (see the top): every whole token of theirs holds its
 * shape, where a search for their prefixes alone would stop in ordinary words.
 */
const TOKEN_SHAPES = 'glpat-[\\w-]{20}|npm_[A-Za-z0-9]{36}|sk-(?:proj-|svcacct-|admin-|[A-Za-z0-9]{48})|SG\\.[\\w-]{22}\\.|ya29\\.[\\w-]{20}';
/** The second search: those shapes and the starts of private keys (`private-key.ts`). */
const SHAPES_SOURCE = `${TOKEN_SHAPES}|${PRIVATE_KEY_STARTS}`;
const SHAPES = new RegExp(SHAPES_SOURCE);
const SHAPES_ALL = new RegExp(SHAPES_SOURCE, 'g');
const BEARER = /earer|EARER/g;
const NO_TOKENS: readonly TokenSpan[] = Object.freeze([]);

/** The shortest whole token of the first formats: `Bearer` and a space and 6 characters (an AWS key id is 20). */
export const SHORTEST_TOKEN = 13;
/** The shortest whole token of the other formats: `ya29.` and 20 characters (a private key is longer). */
export const SHORTEST_SHAPE = 25;
/** The shortest start a cut may leave: a prefix and one more character (`sk-x`, `SG.x`). */
const SHORTEST_CUT_TOKEN = 4;
/** How far back a cut token may start: `SG.` and 22, `.` and 42 (the longest cut any format leaves). */
const CUT_WINDOW = 3 + 22 + 1 + 42;

/** What `tokenStarts` found: a start of the first formats' or `Bearer` (`TOKEN_STARTS`). */
export const PREFIX_START = 1;
/** What `tokenStarts` found: one of the other formats' shapes, or a private key's start (in cut text, also a prefix of theirs at its end). */
export const SHAPE_START = 2;

/**
 * Which starts `text` holds (`PREFIX_START`, `SHAPE_START`, both or none): the two searches, each
 * once (see the top). `cut`: the text was cut short, so the start of one at its very end counts
 * (for the other formats a prefix in the last characters, which a search that short finds at
 * once); `bearer: false`: `Bearer` is not looked for (where the credentials after it are not).
 */
export function tokenStarts(text: string, cut = false, bearer = true): number {
  const n = text.length;
  if (n < (cut ? SHORTEST_CUT_TOKEN : SHORTEST_TOKEN)) return 0;
  const found = (bearer ? TOKEN_STARTS : PREFIX_STARTS).test(text) ? PREFIX_START : 0;
  if (!cut && n < SHORTEST_SHAPE) return found;
  if (SHAPES.test(text)) return found | SHAPE_START;
  if (!cut) return found;
  SHAPED_PREFIXES.lastIndex = Math.max(0, n - CUT_WINDOW);
  return SHAPED_PREFIXES.test(text) ? found | SHAPE_START : found;
}

/**
 * Whether `text` holds the start of any token (of a cut one too, when `cut`), or of a private
 * key; `bearer: false`: of a prefixed one (where the credentials after `Bearer` are not looked
 * for).
 */
export function mayHoldToken(text: string, cut = false, bearer = true): boolean {
  return tokenStarts(text, cut, bearer) !== 0;
}

/** Where the first start of the first formats (or `Bearer`) at or after `from` is, or -1 (for `scanTriggers`). */
export function indexOfTokenStart(text: string, from: number): number {
  let at = from;
  for (;;) {
    TOKEN_STARTS_ALL.lastIndex = at;
    if (!TOKEN_STARTS_ALL.test(text)) return -1;
    // `test` gives the end of the match; each alternative ends in a character saying which it is.
    const end = TOKEN_STARTS_ALL.lastIndex;
    const last = text.charCodeAt(end - 1);
    if (last === 114 || last === 82) return end - 5;
    const p = prefixStart(text, end, formatAt(text, end), from);
    if (p !== -1) return p;
    at = end;
  }
}

/**
 * Where the first of the other formats' shapes or a private key's start at or after `from`
 * starts, or -1 (for `scanTriggers`; the match is built only where there is one).
 */
export function indexOfShapeStart(text: string, from: number): number {
  SHAPES_ALL.lastIndex = from;
  const m = SHAPES_ALL.exec(text);
  return m === null ? -1 : m.index;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isUpper = (c: number): boolean => c >= 65 && c <= 90;
const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isAlnum = (c: number): boolean => isDigit(c) || isUpper(c) || isLower(c);
const isWord = isWordChar;
/** `[A-Za-z0-9_]`: the body of a fine-grained GitHub token. */
const isAlnumUnderscore = isWord;
/** `[A-Za-z0-9-]`: the body of a Slack token. */
const isAlnumDash = (c: number): boolean => isAlnum(c) || c === 45;
/** `[A-Z0-9]`: the body of an AWS access key id. */
const isUpperDigit = (c: number): boolean => isUpper(c) || isDigit(c);
/** `[A-Za-z0-9_-]`: the body of a Google API key, a GitLab token, an OpenAI project key, a SendGrid key's parts, a Google OAuth token. */
const isWordDash = (c: number): boolean => isWord(c) || c === 45;

/** End of the run of characters `ok` accepts from `i`. */
function runEnd(text: string, i: number, ok: (c: number) => boolean): number {
  const n = text.length;
  let e = i;
  while (e < n && ok(text.charCodeAt(e))) e++;
  scanMeter.steps += e - i;
  return e;
}

/**
 * The last run of `[A-Za-z0-9_-]` measured (`wordDashEnd`): from any position inside it the run
 * ends at the same place, so a candidate that starts inside one that failed (after one of its
 * dashes) is measured without reading it again. Reset by each finder (`resetRuns`).
 */
let runFrom = -1;
let runTo = -1;

function resetRuns(): void {
  runFrom = -1;
  runTo = -1;
}

/** End of the run of `[A-Za-z0-9_-]` from `i` (see `runFrom`). */
function wordDashEnd(text: string, i: number): number {
  if (i >= runFrom && i <= runTo) return runTo;
  runFrom = i;
  runTo = runEnd(text, i, isWordDash);
  return runTo;
}

type PrefixedKind = Exclude<TokenKind, 'bearer_token'>;

/** A prefixed token's format: its prefix, the characters after it, and whether a run of them is one. */
interface TokenFormat {
  kind: PrefixedKind;
  /** How long the prefix is (`sk_live_`: 8, of which the search matches the last 6). */
  prefix: number;
  /** How much of the prefix the search matches. */
  match: number;
  /** Where the token's characters from `from` (right after the prefix) end. */
  run: (text: string, from: number) => number;
  /** The run from `from` to `to` in `text` makes a token. */
  fits: (text: string, from: number, to: number) => boolean;
  /**
   * The most characters a cut may leave after the prefix (`findCutToken`): fewer than a whole
   * token has (a whole one is `findPrefixedTokens`'s); a Slack token's count up to the window
   * (dashes that end a whole one's run are not counted there).
   */
  cut: number;
  /** Its run may hold `-` or `.`, after which another token's word may start. */
  separators: boolean;
}

const run = (ok: (c: number) => boolean) => (text: string, from: number): number => runEnd(text, from, ok);
const atLeast = (length: number) => (_: string, from: number, to: number): boolean => to - from >= length;
/** Exactly `length`, and the word ends there: a longer run (a base32 blob) is no token. */
const exactly = (length: number) => (text: string, from: number, to: number): boolean => to - from === length && !(to < text.length && isWord(text.charCodeAt(to)));

const GITHUB: TokenFormat = { kind: 'github_token', prefix: 4, match: 4, run: run(isAlnum), fits: atLeast(36), cut: 35, separators: false };
const GITHUB_PAT: TokenFormat = { kind: 'github_token', prefix: 11, match: 11, run: run(isAlnumUnderscore), fits: atLeast(22), cut: 21, separators: false };
const SLACK: TokenFormat = { kind: 'slack_token', prefix: 5, match: 5, run: run(isAlnumDash), fits: atLeast(10), cut: CUT_WINDOW - 5, separators: true };
const AWS_KEY_ID: TokenFormat = { kind: 'aws_key_id', prefix: 4, match: 4, run: run(isUpperDigit), fits: exactly(16), cut: 15, separators: false };
const STRIPE: TokenFormat = { kind: 'stripe_key', prefix: 8, match: 6, run: run(isAlnum), fits: atLeast(24), cut: 23, separators: false };
/** Exactly 35 (the run takes every word character and `-`, so the word ends there). */
const GOOGLE_API_KEY: TokenFormat = { kind: 'google_api_key', prefix: 4, match: 4, run: wordDashEnd, fits: (_, from, to) => to - from === 35, cut: 34, separators: true };
const GITLAB: TokenFormat = { kind: 'gitlab_token', prefix: 6, match: 6, run: wordDashEnd, fits: atLeast(20), cut: 19, separators: true };
const NPM: TokenFormat = { kind: 'npm_token', prefix: 4, match: 4, run: run(isAlnum), fits: exactly(36), cut: 35, separators: false };
const GOOGLE_OAUTH: TokenFormat = { kind: 'google_oauth_token', prefix: 5, match: 5, run: wordDashEnd, fits: atLeast(20), cut: 19, separators: true };

/** What follows `sk-` in an OpenAI key that is not a legacy one (`sk-` and 48 letters and digits). */
const OPENAI_KINDS = ['proj-', 'svcacct-', 'admin-'];
const OPENAI_LEGACY = exactly(48);
/** The length of the kind (`proj-`…) at `from`, or 0: a legacy key. */
function openAiKind(text: string, from: number): number {
  for (const k of OPENAI_KINDS) if (text.startsWith(k, from)) return k.length;
  return 0;
}
const OPENAI: TokenFormat = {
  kind: 'openai_key',
  prefix: 3,
  match: 3,
  run: (text, from) => {
    const k = openAiKind(text, from);
    return k === 0 ? runEnd(text, from, isAlnum) : wordDashEnd(text, from + k);
  },
  fits: (text, from, to) => {
    const k = openAiKind(text, from);
    return k === 0 ? OPENAI_LEGACY(text, from, to) : to - from - k >= 20;
  },
  cut: 47,
  separators: true,
};

/** A SendGrid key's parts: 22 characters, `.`, 43. */
const SENDGRID_ID = 22;
const SENDGRID_SECRET = 43;
const SENDGRID: TokenFormat = {
  kind: 'sendgrid_key',
  prefix: 3,
  match: 3,
  // Its first part, and when that is whole and a `.` follows, the second.
  run: (text, from) => {
    const e = wordDashEnd(text, from);
    return e - from === SENDGRID_ID && text.charCodeAt(e) === 46 ? wordDashEnd(text, e + 1) : e;
  },
  fits: (text, from, to) => to - from === SENDGRID_ID + 1 + SENDGRID_SECRET && text.charCodeAt(from + SENDGRID_ID) === 46,
  cut: SENDGRID_ID + 1 + SENDGRID_SECRET - 1,
  separators: true,
};

/**
 * The format of the prefix the search matched, given the end of the match; each alternative
 * ends in a character saying which it may be, and the one before it tells those apart: `_` ends
 * `gh?_` (`[pousr]` before it), `github_pat_`, `?k_live_` / `?k_test_` (`e` or `t` before it,
 * and `t` only there and in `pat_`) and `npm_` (`m`); `-` ends `xox?-`, `glpat-` (`t`) and `sk-`
 * (`k`); `.` ends `SG.` (`G`) and `ya29.` (`9`); `A` ends `A?IA`, `a` ends `AIza`.
 */
function formatAt(text: string, end: number): TokenFormat {
  const last = text.charCodeAt(end - 1);
  const before = text.charCodeAt(end - 2);
  switch (last) {
    case 95:
      if (before === 109) return NPM;
      if (before === 116 && text.startsWith('github_pat_', end - 11)) return GITHUB_PAT;
      return before === 101 || before === 116 ? STRIPE : GITHUB;
    case 45:
      return before === 116 ? GITLAB : before === 107 ? OPENAI : SLACK;
    case 46:
      return before === 71 ? SENDGRID : GOOGLE_OAUTH;
    default:
      return last === 65 ? AWS_KEY_ID : GOOGLE_API_KEY;
  }
}

/**
 * Where the prefix of `format` ending at `end` starts, or -1 when the search matched a part of
 * none starting at or after `from`: `_live_` and `_test_` are Stripe's only after `sk` or `rk`
 * (and, as the search would have found `sk_live_`, not before where it began).
 */
function prefixStart(text: string, end: number, format: TokenFormat, from: number): number {
  const p = end - format.prefix;
  if (format !== STRIPE) return p;
  const c = text.charCodeAt(p);
  return p >= from && (c === 115 || c === 114) && text.charCodeAt(p + 1) === 107 ? p : -1;
}

/** The first `-` or `.` in `text[from, to)`, or `to`: where, inside a run that is no token, another token's word may start. */
function firstSeparator(text: string, from: number, to: number): number {
  let i = from;
  while (i < to && isWord(text.charCodeAt(i))) i++;
  scanMeter.steps += i - from;
  return i;
}

/**
 * The prefixed tokens of `text` (the first formats; with `shapes`, the other formats too, which
 * only text holding one of their shapes can hold: `tokenStarts`): sorted, disjoint spans, each
 * the prefix and the token's characters after it. A candidate that fails is skipped past the
 * characters it ran over up to its first `-` or `.` (no token starts among letters, digits and
 * `_`, which no word starts after); a candidate after it inside the same run of `[A-Za-z0-9_-]`
 * is measured without reading the run again (`wordDashEnd`), so each character is read a
 * bounded number of times.
 */
export function findPrefixedTokens(text: string, shapes = true): readonly TokenSpan[] {
  const prefixes = shapes ? ALL_PREFIXES : PREFIXES;
  let spans: TokenSpan[] | undefined;
  let from = 0;
  resetRuns();
  for (;;) {
    prefixes.lastIndex = from;
    if (!prefixes.test(text)) return spans ?? NO_TOKENS;
    scanMeter.steps++;
    const end = prefixes.lastIndex;
    const format = formatAt(text, end);
    const p = prefixStart(text, end, format, from);
    from = end;
    if (p === -1 || !startsWord(text, p)) continue;
    let e = format.run(text, end);
    // A dash ending a Slack token's run ends the sentence, not the token.
    if (format === SLACK) while (e > end && text.charCodeAt(e - 1) === 45) e--;
    if (format.fits(text, end, e)) {
      (spans ??= []).push({ start: p, end: e, kind: format.kind });
      from = e;
    } else from = format.separators ? firstSeparator(text, end, e) : e;
  }
}

/** The byte of the percent-escape at `i` when it encodes a token68 character or `=`, else -1. */
function escapedToken68(text: string, i: number): number {
  const b = percentByte(text, i);
  return b === 0x2b || b === 0x2f || b === 0x3d || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e ? b : -1;
}

/** `[A-Za-z0-9-._~+/]` (`+` not where it is a space). */
const isToken68 = (c: number, plusIsSpace: boolean): boolean => isAlnum(c) || c === 45 || c === 46 || c === 95 || c === 126 || c === 47 || (c === 43 && !plusIsSpace);

/** A space or a tab (and `+` where it is a space): what separates `Bearer` from its credentials. */
const isBlank = (c: number, plusIsSpace: boolean): boolean => c === 32 || c === 9 || (c === 43 && plusIsSpace);

/** Whether the percent-escape at `i` encodes a space or a tab (`%20`, `%09`). */
function escapedBlank(text: string, i: number): boolean {
  const b = percentByte(text, i);
  return b === 0x20 || b === 0x09;
}

/**
 * Where the spaces and tabs after a `Bearer` ending at `i` end (`%20` and `%09` count as one,
 * and `+` where it is a space), or `i` when none follows.
 */
function spacesEnd(text: string, i: number, plusIsSpace: boolean): number {
  const n = text.length;
  let j = i;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (isBlank(c, plusIsSpace)) j++;
    else if (c === 37 && escapedBlank(text, j)) j += 3;
    else break;
  }
  scanMeter.steps += j - i;
  return j;
}

/** Whether `Bearer` (any of its three spellings) starts at `p`, a word's start, given where `earer`/`EARER` is (`p + 1`). */
function bearerAt(text: string, p: number): boolean {
  if (p < 0) return false;
  const b = text.charCodeAt(p);
  const upper = text.charCodeAt(p + 1) === 69;
  if (!(b === 66 || (b === 98 && !upper))) return false;
  if (p === 0 || byteEscapedBefore(text, p) !== -1) return true;
  const c = text.charCodeAt(p - 1);
  // `standard-bearer`, `torch_bearer`, `forbearer` are words.
  return !isWord(c) && c !== 45;
}

/** Credentials after a `Bearer`: where they are, and whether they look like credentials. */
interface Credentials extends Span {
  looks: boolean;
}

/**
 * The credentials after a `Bearer` ending at `after`, or undefined: the token68 and its padding
 * after the spaces, unless it is a challenge's parameter (`realm="x"`); `looks`: they look like
 * credentials (see the top).
 */
function bearerCredentials(text: string, after: number, plusIsSpace: boolean): Credentials | undefined {
  const n = text.length;
  const start = spacesEnd(text, after, plusIsSpace);
  if (start === after) return undefined;
  let e = start;
  let digit = false;
  let symbol = false;
  let camel = false;
  let prevLower = false;
  let length = 0;
  while (e < n) {
    const c = text.charCodeAt(e);
    if (isToken68(c, plusIsSpace)) {
      if (isDigit(c)) digit = true;
      else if (isUpper(c)) camel ||= prevLower;
      else if (c !== 46 && !isLower(c)) symbol = true;
      prevLower = isLower(c);
      e++;
    } else {
      const b = c === 37 ? escapedToken68(text, e) : -1;
      if (b === -1 || b === 0x3d) break;
      symbol ||= b !== 0x2e;
      prevLower = false;
      e += 3;
    }
    length++;
  }
  // A sentence's full stops are no part of the credentials.
  while (e > start && text.charCodeAt(e - 1) === 46) {
    e--;
    length--;
  }
  let end = e;
  let padding = 0;
  for (;;) {
    if (text.charCodeAt(end) === 61) end++;
    else if (escapedToken68(text, end) === 0x3d) end += 3;
    else break;
    padding++;
  }
  scanMeter.steps += end - start;
  if (e === start) return undefined;
  // `realm="shop"`, `error=invalid_token`: a challenge's parameter, a lower-case name and one `=`.
  if (padding === 1 && end < n && (text.charCodeAt(end) === 34 || isToken68(text.charCodeAt(end), plusIsSpace)) && isParameterName(text, start, e)) return undefined;
  return { start, end, looks: length >= 6 && (digit || symbol || camel || padding > 0) };
}

/** `[a-z][a-z_-]*`: how the parameters of a challenge are named (`realm`, `error_description`). */
function isParameterName(text: string, start: number, end: number): boolean {
  if (!isLower(text.charCodeAt(start))) return false;
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i);
    if (!isLower(c) && c !== 95 && c !== 45) return false;
  }
  return true;
}

/**
 * The credentials after each `Bearer` in `text` (see the top): sorted, disjoint spans of the
 * credentials alone; `plusIsSpace`: the text is a query string or form body. Credentials that
 * are already masked (`Bearer ****`) are no token68 and are not found again.
 */
export function findBearerTokens(text: string, plusIsSpace = false): readonly TokenSpan[] {
  let spans: TokenSpan[] | undefined;
  let from = 0;
  for (;;) {
    BEARER.lastIndex = from;
    if (!BEARER.test(text)) return spans ?? NO_TOKENS;
    scanMeter.steps++;
    const after = BEARER.lastIndex;
    from = after;
    if (!bearerAt(text, after - 6)) continue;
    const found = bearerCredentials(text, after, plusIsSpace);
    if (found === undefined) continue;
    from = found.end;
    if (found.looks) (spans ??= []).push({ start: found.start, end: found.end, kind: 'bearer_token' });
  }
}

/**
 * Where a token cut by the end of the text starts, and its kind, or undefined: a prefix at a
 * word's start followed by at least one (and fewer than a whole token's) of its characters up
 * to the very end, or a `Bearer`, its spaces or tabs and at least one credential character up
 * to the very end (the credentials alone, any of them: a cut leaves too few to judge). Looks at
 * the last 68 characters for a prefix (of any format: a search that short costs nothing), and
 * back over the trailing credential characters once for a `Bearer`.
 */
export function findCutToken(text: string, plusIsSpace = false): { start: number; kind: TokenKind } | undefined {
  const n = text.length;
  if (n < SHORTEST_CUT_TOKEN) return undefined;
  // The first start in the window whose characters reach the end.
  let from = Math.max(0, n - CUT_WINDOW);
  resetRuns();
  for (;;) {
    ALL_PREFIXES.lastIndex = from;
    if (!ALL_PREFIXES.test(text)) break;
    scanMeter.steps++;
    const end = ALL_PREFIXES.lastIndex;
    const format = formatAt(text, end);
    const p = prefixStart(text, end, format, from);
    // Past the start of what was matched (`_live_` is 6 of Stripe's 8).
    from = end - format.match + 1;
    if (p === -1 || end >= n || !startsWord(text, p)) continue;
    if (n - end <= format.cut && format.run(text, end) === n) return { start: p, kind: format.kind };
  }
  // `Bearer` and credentials reaching the end: back over the credential characters, the spaces,
  // then the word.
  let s = n;
  while (s > 0) {
    const c = text.charCodeAt(s - 1);
    if (isToken68(c, plusIsSpace) || c === 61) s--;
    else if (c === 37 && escapedToken68(text, s - 1) !== -1) s--;
    else {
      // The hex digits of another escape (`%20`) were taken for credential characters.
      if (c === 37 && percentByte(text, s - 1) !== -1) s += 2;
      break;
    }
  }
  scanMeter.steps += n - s;
  if (s === n) return undefined;
  let w = s;
  while (w > 0) {
    if (isBlank(text.charCodeAt(w - 1), plusIsSpace)) w--;
    else if (w >= 3 && escapedBlank(text, w - 3)) w -= 3;
    else break;
  }
  scanMeter.steps += s - w;
  if (w === s || w < 6) return undefined;
  const word = text.slice(w - 6, w);
  if (word !== 'Bearer' && word !== 'bearer' && word !== 'BEARER') return undefined;
  return bearerAt(text, w - 6) ? { start: s, kind: 'bearer_token' } : undefined;
}
