/**
 * Credentials known by their own shape in free text, whatever key (if any) they sit under:
 *
 * - tokens with a fixed, registered prefix: GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and at
 *   least 36 letters and digits; `github_pat_` and at least 22 letters, digits and `_`), Slack
 *   (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-` and at least 10 letters, digits and `-`), AWS
 *   access key ids (`AKIA` or `ASIA` and exactly 16 upper-case letters and digits), Stripe
 *   secret and restricted keys (`sk_live_`, `sk_test_`, `rk_live_`, `rk_test_` and at least 24
 *   letters and digits; not the publishable `pk_…`, public by design), Google API keys (`AIza`
 *   and exactly 35 letters, digits, `_` and `-`). Each starts a word (not right after a letter,
 *   digit or `_`, but right after a percent-escape), and is masked whole: `github_token`,
 *   `slack_token`, `aws_key_id`, `stripe_key`, `google_api_key`;
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
 * Every finder starts from a native search for the starts (`TOKEN_STARTS`: `earer`, `EARER`,
 * `gh?_`, `github_pat_`, `xox?-`, `AKIA`, `ASIA`, `?k_live_`, `?k_test_`, `AIza`), looks at the
 * characters of a candidate once and goes on after it: linear in the text. `mayHoldToken` is that search alone, for callers to
 * skip text that holds none; `body-prefilter.ts` and `scanTriggers` (`detectors.ts`) look for
 * the same starts.
 *
 * Text cut short (`findCutToken`): a prefix and at least one character after it reaching the
 * very end (`…ghp_x7Gq`), or `Bearer` and spaces or tabs and at least one credential
 * character, is masked as what it starts.
 */
import type { Span } from './detectors.ts';
import { byteEscapedBefore, percentByte } from './percent-escape.ts';
import { scanMeter } from './scan-meter.ts';
import { isWordChar, startsWord } from './word-start.ts';

export type TokenKind = 'github_token' | 'slack_token' | 'aws_key_id' | 'stripe_key' | 'google_api_key' | 'bearer_token';

/** A token a finder found, and its kind. */
export interface TokenSpan extends Span {
  kind: TokenKind;
}

/**
 * What every token starts with (`Bearer` without its `B`): a text without any holds none. One
 * search by the regular expression engine (`mayHoldToken`, `indexOfTokenStart`); the finders
 * search for their own starts again only in text that holds one.
 */
// Stripe's `sk_`/`rk_` is checked by the finders (`prefixStart`): searching for `[rs]k_…` made
// the search about twice as slow on prose, full of `s` and `r`.
const PREFIXES_SOURCE = 'gh[pousr]_|github_pat_|xox[abprs]-|A(?:[KS]IA|Iza)|_(?:live|test)_';
const STARTS_SOURCE = `earer|EARER|${PREFIXES_SOURCE}`;
const TOKEN_STARTS = new RegExp(STARTS_SOURCE);
const TOKEN_STARTS_ALL = new RegExp(STARTS_SOURCE, 'g');
const PREFIX_STARTS = new RegExp(PREFIXES_SOURCE);
const PREFIXES = new RegExp(PREFIXES_SOURCE, 'g');
const BEARER = /earer|EARER/g;
const NO_TOKENS: readonly TokenSpan[] = Object.freeze([]);

/** The shortest whole token: `Bearer` and a space and 6 characters (an AWS key id is 20). */
export const SHORTEST_TOKEN = 13;
/** The shortest start a cut may leave: a prefix and one more character (`AKIAx`). */
const SHORTEST_CUT_TOKEN = 5;

/**
 * Whether `text` holds the start of any token (of a cut one too, when `cut`); `bearer: false`:
 * of a prefixed one (where the credentials after `Bearer` are not looked for).
 */
export function mayHoldToken(text: string, cut = false, bearer = true): boolean {
  return text.length >= (cut ? SHORTEST_CUT_TOKEN : SHORTEST_TOKEN) && (bearer ? TOKEN_STARTS : PREFIX_STARTS).test(text);
}

/** Where the first token start at or after `from` is, or -1 (for `scanTriggers`). */
export function indexOfTokenStart(text: string, from: number): number {
  let at = from;
  for (;;) {
    TOKEN_STARTS_ALL.lastIndex = at;
    if (!TOKEN_STARTS_ALL.test(text)) return -1;
    // `test` gives the end of the match; each alternative ends in a character saying which it is.
    const end = TOKEN_STARTS_ALL.lastIndex;
    const p = prefixStart(text, end, prefixLength(text, end), from);
    if (p !== -1) return p;
    at = end;
  }
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
/** `[A-Za-z0-9_-]`: the body of a Google API key. */
const isWordDash = (c: number): boolean => isWord(c) || c === 45;

/**
 * The length of the start `TOKEN_STARTS` or `PREFIXES` matched, given the end of the match:
 * `_` ends `gh?_` (4; `[pousr]` before it), `github_pat_` (11) or `?k_live_` / `?k_test_` (8;
 * `e` or `t` before it, and `t` only there and in `pat_`), `-` ends `xox?-` (5), `A` ends
 * `A?IA` (4), `a` ends `AIza` (4), `r` or `R` ends `earer` / `EARER` (5).
 */
function prefixLength(text: string, end: number): number {
  const last = text.charCodeAt(end - 1);
  switch (last) {
    case 95: {
      const before = text.charCodeAt(end - 2);
      if (before === 116 && text.startsWith('github_pat_', end - 11)) return 11;
      return before === 101 || before === 116 ? 8 : 4;
    }
    case 45:
      return 5;
    default:
      return last === 65 || last === 97 ? 4 : 5;
  }
}

/**
 * Where the prefix of `length` characters ending at `end` starts, or -1 when the search matched
 * a part of none starting at or after `from`: `_live_` and `_test_` are Stripe's only after
 * `sk` or `rk` (and, as the search would have found `sk_live_`, not before where it began).
 */
function prefixStart(text: string, end: number, length: number, from: number): number {
  const p = end - length;
  if (length !== 8) return p;
  const c = text.charCodeAt(p);
  return p >= from && (c === 115 || c === 114) && text.charCodeAt(p + 1) === 107 ? p : -1;
}


/** End of the run of characters `ok` accepts from `i`. */
function runEnd(text: string, i: number, ok: (c: number) => boolean): number {
  const n = text.length;
  let e = i;
  while (e < n && ok(text.charCodeAt(e))) e++;
  scanMeter.steps += e - i;
  return e;
}

type PrefixedKind = Exclude<TokenKind, 'bearer_token'>;

/** A prefixed token's format: the characters after its prefix, and whether a run of them is one. */
interface TokenFormat {
  kind: PrefixedKind;
  body: (c: number) => boolean;
  /** The run of its characters from `from` to `to` in `text` makes a token. */
  fits: (text: string, from: number, to: number) => boolean;
  /**
   * The most characters a cut may leave after the prefix (`findCutToken`): fewer than a whole
   * token has (a whole one is `findPrefixedTokens`'s); a Slack token's count up to the window
   * (dashes that end a whole one's run are not counted there).
   */
  cut: number;
}

/** How far back a cut token may start: `gh?_` and 35 characters (the longest cut any format leaves). */
const CUT_WINDOW = 4 + 35;

const GITHUB: TokenFormat = { kind: 'github_token', body: isAlnum, fits: (_, from, to) => to - from >= 36, cut: 35 };
const GITHUB_PAT: TokenFormat = { kind: 'github_token', body: isAlnumUnderscore, fits: (_, from, to) => to - from >= 22, cut: 21 };
const SLACK: TokenFormat = { kind: 'slack_token', body: isAlnumDash, fits: (_, from, to) => to - from >= 10, cut: CUT_WINDOW - 5 };
/** Exactly 16, and the word ends there: a longer run (a base32 blob) is no key id. */
const AWS_KEY_ID: TokenFormat = { kind: 'aws_key_id', body: isUpperDigit, fits: (text, from, to) => to - from === 16 && !(to < text.length && isWord(text.charCodeAt(to))), cut: 15 };
const STRIPE: TokenFormat = { kind: 'stripe_key', body: isAlnum, fits: (_, from, to) => to - from >= 24, cut: 23 };
/** Exactly 35, and the word ends there (the run takes every word character and `-`, so it does). */
const GOOGLE_API_KEY: TokenFormat = { kind: 'google_api_key', body: isWordDash, fits: (_, from, to) => to - from === 35, cut: 34 };
/** A Google API key's length: `AIza` and its 35 characters. */
const GOOGLE_API_KEY_LENGTH = 4 + 35;

/** The format of the prefix ending in `last` (`_`, `-`, `A`, else `a`) of `length` characters. */
function formatOf(last: number, length: number): TokenFormat {
  if (last === 95) return length === 4 ? GITHUB : length === 8 ? STRIPE : GITHUB_PAT;
  if (last === 45) return SLACK;
  return last === 65 ? AWS_KEY_ID : GOOGLE_API_KEY;
}

/**
 * The prefixed tokens of `text` (GitHub, Slack, AWS access key ids, Stripe, Google API keys):
 * sorted, disjoint spans, each the prefix and the token's characters after it. A candidate that
 * fails is skipped past the characters it ran over: no token starts among them (a start there
 * follows a letter, digit or `_`, so starts no word, or is a Slack token's after a `-`, whose
 * characters would be a part of the failed one's, too few as well), but for a Google API key
 * after a `-` in a failed one's run: its characters run to the same end, so it can only be the
 * 39 characters ending there, looked at once.
 */
export function findPrefixedTokens(text: string): readonly TokenSpan[] {
  let spans: TokenSpan[] | undefined;
  let from = 0;
  for (;;) {
    PREFIXES.lastIndex = from;
    if (!PREFIXES.test(text)) return spans ?? NO_TOKENS;
    scanMeter.steps++;
    const end = PREFIXES.lastIndex;
    const length = prefixLength(text, end);
    const p = prefixStart(text, end, length, from);
    from = end;
    if (p === -1 || !startsWord(text, p)) continue;
    const format = formatOf(text.charCodeAt(end - 1), length);
    let e = runEnd(text, end, format.body);
    // A dash ending a Slack token's run ends the sentence, not the token.
    if (format.kind === 'slack_token') while (e > end && text.charCodeAt(e - 1) === 45) e--;
    from = e;
    if (format.fits(text, end, e)) (spans ??= []).push({ start: p, end: e, kind: format.kind });
    else if (format === GOOGLE_API_KEY && e - GOOGLE_API_KEY_LENGTH > p && text.startsWith('AIza', e - GOOGLE_API_KEY_LENGTH) && startsWord(text, e - GOOGLE_API_KEY_LENGTH)) {
      (spans ??= []).push({ start: e - GOOGLE_API_KEY_LENGTH, end: e, kind: format.kind });
    }
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
 * the last 39 characters for a prefix, and back over the trailing credential characters once
 * for a `Bearer`.
 */
export function findCutToken(text: string, plusIsSpace = false): { start: number; kind: TokenKind } | undefined {
  const n = text.length;
  if (n < SHORTEST_CUT_TOKEN) return undefined;
  // The first start in the window whose characters reach the end.
  let from = Math.max(0, n - CUT_WINDOW);
  for (;;) {
    PREFIXES.lastIndex = from;
    if (!PREFIXES.test(text)) break;
    scanMeter.steps++;
    const end = PREFIXES.lastIndex;
    const length = prefixLength(text, end);
    const p = prefixStart(text, end, length, from);
    // Past the start of what was matched (`_live_` is 6 of Stripe's 8).
    from = end - (length === 8 ? 6 : length) + 1;
    if (p === -1 || end >= n || !startsWord(text, p)) continue;
    const format = formatOf(text.charCodeAt(end - 1), length);
    if (n - end <= format.cut && runEnd(text, end, format.body) === n) return { start: p, kind: format.kind };
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
