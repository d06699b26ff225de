/**
 * Pattern detectors for secrets inside free text: private keys (`private-key.ts`), passwords in
 * URLs (`url-credentials.ts`), JWTs, tokens of known formats (GitHub, Slack, AWS access key ids,
 * Stripe, Google API keys, GitLab, npm, OpenAI, SendGrid, Google OAuth) and the credentials
 * after `Bearer` (`token-formats.ts`), IBANs (`iban.ts`), payment card numbers, e-mail
 * addresses, plus the policy's own patterns.
 *
 * Every detector is a hand-written scanner that looks at each character a bounded number of
 * times: a request body is attacker-controlled, and a backtracking regular expression over it
 * (the e-mail one over `'a' × 60 000 + '@'` took seconds) stalls every connection of the pod.
 *
 * Card numbers: 13–19 digits, single spaces or dashes allowed between digits, passing Luhn and
 * starting like an issued card (2–6). The prefix rule keeps 13-digit millisecond timestamps
 * (which pass Luhn one time in ten) from being masked.
 *
 * Text that may be URL-encoded (paths, query strings, form bodies, header values such as
 * `grpc-message`) is scanned with every percent-escape (`%20`, `percent-escape.ts`) taken as a
 * separator: its hex digits never join a card's digits and never keep a JWT from starting right
 * after it, and only the secret's own characters are masked (`card%20****0004`, `tok%20****`).
 * Between two digits of a card `%20` and `%2D` are the space and dash they encode
 * (`4111%201111%201111%201111` is a card), and in a query string or form body so is `+` (a space
 * there). An e-mail's local part ends at an escape of a character no address holds (`%20bob@…`
 * starts at `bob`).
 *
 * `KEY=VALUE` and `KEY: VALUE` under a secret KEY (`password=wspw5`, a connection string's
 * `Password=connpw77;`) are found by `text-pairs.ts`, and only VALUE is masked.
 *
 * Text cut short (a body truncated by the capture limit or the scan budget, `cut`) may end in
 * the first part of a secret: a token at the very end that starts like a JWT (`eyJ` and
 * base64url, with at most two dots) is masked as a JWT, and a run of 13–18 digits at the very
 * end that starts like an issued card as a card (whole: its last digits are not the card's).
 * Shorter digit runs stay: they are not told apart from the numbers that end cut text. A token of
 * a known format cut short (its prefix and part of the rest), and `Bearer` followed by part of
 * its credentials, at the very end are masked as what they start; a private key's BEGIN line
 * without its END line, everything after it.
 */
import { findIbans } from './iban.ts';
import { byteEscapedBefore, escapeAround } from './percent-escape.ts';
import { MASK, type MaskPolicy, type SensitiveKind } from './policy.ts';
import { findPrivateKeys } from './private-key.ts';
import { scanMeter } from './scan-meter.ts';
import { findKeyValueText, shortestKeyValue, type KeyValueSpan } from './text-pairs.ts';
import {
  findBearerTokens,
  findCutToken,
  findPrefixedTokens,
  indexOfShapeStart,
  indexOfTokenStart,
  PREFIX_START,
  SHAPE_START,
  SHORTEST_SHAPE,
  SHORTEST_TOKEN,
  tokenStarts,
  type TokenSpan,
} from './token-formats.ts';
import { findUrlPasswords, URL_SEPARATOR } from './url-credentials.ts';
import { findPatternSpans } from './user-patterns.ts';
import { nextMatch } from './next-match.ts';

export { MASK };

const CARD_PREFIX = /^(?:4|5[1-5]|2[2-7]|3[0-9]|6)/;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Whether `text[i, i + 3)` is `%20` or `%2D`: a space or dash, percent-encoded. */
function encodedSeparatorAt(text: string, i: number): boolean {
  if (text.charCodeAt(i) !== 37 || text.charCodeAt(i + 1) !== 50) return false;
  const c = text.charCodeAt(i + 2);
  return c === 48 || c === 68 || c === 100;
}

/** Most characters a card candidate spans: 19 digits and 18 separators of three characters. */
const CARD_MAX_CHARS = 19 + 18 * 3;

/**
 * Digits only (separators removed) of a plausible card number, else undefined. Separators are
 * those `findCardCandidates` lets through: space, dash, `+`, `%20`, `%2D`.
 */
export function cardDigits(candidate: string): string | undefined {
  const n = candidate.length;
  if (n > CARD_MAX_CHARS) return undefined;
  let digits = '';
  for (let i = 0; i < n; i++) {
    const c = candidate.charCodeAt(i);
    if (isDigit(c)) digits += candidate[i];
    else if (c === 37 && encodedSeparatorAt(candidate, i)) i += 2;
    else if (c !== 32 && c !== 45 && c !== 43) return undefined;
  }
  if (digits.length < 13 || digits.length > 19) return undefined;
  if (!CARD_PREFIX.test(digits) || !luhnValid(digits)) return undefined;
  return digits;
}

const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** `[A-Za-z0-9_-]`: the base64url alphabet of JWT segments. */
const isB64Url = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 95 || c === 45;
/** `\w`: a JWT starts at a word boundary. */
const isWord = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 95;
/** The local part of an e-mail: `[A-Za-z0-9._%+-]`. */
const isLocal = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
/** A domain label character: `[A-Za-z0-9-]`. */
const isLabel = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 45;

/** A match: `[start, end)` in the text. */
export interface Span {
  start: number;
  end: number;
}

/** End of the base64url run starting at `i`. */
function b64End(text: string, i: number): number {
  const n = text.length;
  while (i < n && isB64Url(text.charCodeAt(i))) {
    scanMeter.steps++;
    i++;
  }
  return i;
}

/** How every JWT starts (the base64url of `{"`). */
export const JWT_START = 'eyJ';

/**
 * JWTs: `eyJ` + 4 or more base64url, `.`, `eyJ` + 4 or more, `.`, base64url (possibly empty),
 * starting at a word boundary or right after a percent-escape (`tok%20eyJ…`). A failed candidate
 * is skipped past its first segment: any other start inside that segment would end at the same
 * place and fail the same way.
 */
export function findJwts(text: string): Span[] {
  const spans: Span[] = [];
  let from = 0;
  for (;;) {
    const p = text.indexOf(JWT_START, from);
    if (p === -1) return spans;
    scanMeter.steps++;
    if (p > 0 && isWord(text.charCodeAt(p - 1)) && byteEscapedBefore(text, p) === -1) {
      from = p + 1;
      continue;
    }
    const q = b64End(text, p + 3);
    if (q - p < 7 || text.charCodeAt(q) !== 46) {
      from = q > p + 3 ? q : p + 1;
      continue;
    }
    if (!text.startsWith(JWT_START, q + 1)) {
      from = q + 1;
      continue;
    }
    const r = b64End(text, q + 4);
    if (r - q - 1 < 7 || text.charCodeAt(r) !== 46) {
      // The second segment may itself start a token.
      from = q + 1;
      continue;
    }
    const end = b64End(text, r + 1);
    spans.push({ start: p, end });
    from = end;
  }
}

export function isJwt(s: string): boolean {
  const spans = findJwts(s);
  return spans.length === 1 && spans[0].start === 0 && spans[0].end === s.length;
}

/**
 * Where a JWT cut by the end of the text starts, or -1: `eyJ` and at least one more base64url
 * character, at a word boundary (or right after a percent-escape), then base64url and at most
 * two dots up to the very end; a second part, when there is one, starts like a JWT's
 * (`eyJ`, or as much of it as the cut left). Looks at the trailing run of base64url and dots
 * once backwards and once forwards.
 */
export function findCutJwt(text: string): number {
  const n = text.length;
  let s = n;
  // The last three dots of the run: a start has at most two after it, the first of them
  // ending its first part.
  let last = -1;
  let secondLast = -1;
  let third = -1;
  while (s > 0) {
    const c = text.charCodeAt(s - 1);
    if (c === 46) {
      if (last === -1) last = s - 1;
      else if (secondLast === -1) secondLast = s - 1;
      else if (third === -1) third = s - 1;
    } else if (!isB64Url(c)) break;
    s--;
  }
  scanMeter.steps += n - s;
  let from = third === -1 ? s : third + 1;
  for (;;) {
    const p = text.indexOf(JWT_START, from);
    if (p === -1 || p + JWT_START.length >= n) return -1;
    scanMeter.steps++;
    from = p + 1;
    if (p > 0 && isWord(text.charCodeAt(p - 1)) && byteEscapedBefore(text, p) === -1) continue;
    const dot = secondLast > p ? secondLast : last > p ? last : -1;
    if (dot === -1) return p;
    if (dot === p + JWT_START.length) continue;
    // The second part: `eyJ…`, or as much of `eyJ` as the cut left.
    let k = dot + 1;
    while (k < n && k - dot - 1 < JWT_START.length && text.charCodeAt(k) === JWT_START.charCodeAt(k - dot - 1)) k++;
    if (k - dot - 1 === JWT_START.length || k === n) return p;
  }
}

/**
 * Card candidates: a digit not preceded by a digit or `.`, then 12–18 more digits each
 * optionally after one separator (a space or dash, `%20` or `%2D`, and `+` when `plusIsSpace`),
 * not followed by a digit; the longest such run wins. A digit of a percent-escape is not a
 * digit of the text: it starts no run, and the escape is a separator before one (`%204111…`,
 * `%2F4111…`). Each start looks at no more than 73 characters, so the scan is linear.
 */
const NEXT_DIGIT = /[0-9]/g;

/** The first digit at or after `from`, or -1: the regex engine finds it far faster than a loop. */
function indexOfDigit(text: string, from: number): number {
  // `test` (not `exec`) builds no match array; a one-character match ends at its index + 1.
  NEXT_DIGIT.lastIndex = from;
  return NEXT_DIGIT.test(text) ? NEXT_DIGIT.lastIndex - 1 : -1;
}

/** Most digits a card has (the run's possible ends are kept for each). */
const CARD_MAX_DIGITS = 19;
/** Scratch for `findCardCandidates` (one call at a time per thread): the run's possible ends. */
const cardEnds = new Int32Array(CARD_MAX_DIGITS);
const NO_SPANS: readonly Span[] = Object.freeze([]);
const NO_TOKENS: readonly TokenSpan[] = Object.freeze([]);

export function findCardCandidates(text: string, plusIsSpace = false): readonly Span[] {
  // Most texts hold no card: no array is made for them.
  let spans: Span[] | undefined;
  const n = text.length;
  const ends = cardEnds;
  let i = 0;
  // Counted locally and added once: a property write per character costs more than the scan.
  let steps = 0;
  // Whether the character before `i` is a digit or `.` (a card cannot start right after one).
  let blocked = false;
  while (i < n) {
    steps++;
    const c = text.charCodeAt(i);
    const digit = c >= 48 && c <= 57;
    if (!digit && !blocked) {
      // Most text has few digits: jump to the next one.
      const next = indexOfDigit(text, i + 1);
      const p = next === -1 ? n : next;
      steps += p - i - 1;
      blocked = p < n && text.charCodeAt(p - 1) === 46;
      i = p;
      continue;
    }
    if (!digit || blocked) {
      blocked = digit || c === 46;
      i++;
      continue;
    }
    const escape = escapeAround(text, i);
    if (escape !== -1) {
      // `%20` before a card: the run may start right after the escape.
      blocked = false;
      steps += escape + 3 - i;
      i = escape + 3;
      continue;
    }
    // A fixed scratch array and a count: `length = 0` on an array drops its storage each time.
    ends[0] = i + 1;
    let count = 1;
    let j = i + 1;
    while (count < CARD_MAX_DIGITS && j < n) {
      steps++;
      const d = text.charCodeAt(j);
      if (isDigit(d)) {
        j++;
        ends[count++] = j;
      } else if ((d === 32 || d === 45 || (d === 43 && plusIsSpace)) && isDigit(text.charCodeAt(j + 1))) {
        j += 2;
        ends[count++] = j;
      } else if (d === 37 && encodedSeparatorAt(text, j) && isDigit(text.charCodeAt(j + 3))) {
        j += 4;
        ends[count++] = j;
      } else break;
    }
    let match = -1;
    for (let k = count; k >= 13; k--) {
      const e = ends[k - 1];
      if (e >= n || !isDigit(text.charCodeAt(e))) {
        match = e;
        break;
      }
    }
    // Either way the next character follows a digit.
    blocked = true;
    if (match === -1) {
      i++;
      continue;
    }
    (spans ??= []).push({ start: i, end: match });
    i = match;
  }
  scanMeter.steps += steps;
  return spans ?? NO_SPANS;
}

/** Whether `text[i]` is a digit of the text itself (not a hex digit of a percent-escape). */
const textDigit = (text: string, i: number): boolean => isDigit(text.charCodeAt(i)) && escapeAround(text, i) === -1;

/**
 * Where a run of digits cut by the end of the text starts that may be the first 13–18 digits of
 * a card, or -1: separated as `findCardCandidates` separates them (`plusIsSpace` as there), not
 * preceded by a digit or `.`, starting like an issued card, and too short to be a whole one
 * judged by Luhn (a whole card is `findCardCandidates`'s). Looks back over 73 characters at most.
 */
export function findCutCard(text: string, plusIsSpace = false): number {
  const n = text.length;
  if (n === 0 || !textDigit(text, n - 1)) return -1;
  let start = n - 1;
  let digits = 1;
  while (digits <= CARD_MAX_DIGITS) {
    scanMeter.steps++;
    const c = text.charCodeAt(start - 1);
    if (textDigit(text, start - 1)) start--;
    else if ((c === 32 || c === 45 || (c === 43 && plusIsSpace)) && textDigit(text, start - 2)) start -= 2;
    else if (start >= 4 && encodedSeparatorAt(text, start - 3) && textDigit(text, start - 4)) start -= 4;
    else break;
    digits++;
  }
  // Longer than a card, or as long as a whole one; `.` before the digits: a decimal fraction.
  if (digits < 13 || digits >= CARD_MAX_DIGITS || text.charCodeAt(start - 1) === 46) return -1;
  let leading = '';
  for (let i = start; leading.length < 2; i++) if (textDigit(text, i)) leading += text[i];
  return CARD_PREFIX.test(leading) ? start : -1;
}

/**
 * E-mail addresses, found from each `@`: the local part is the run of local characters right
 * before it (not reaching back into the previous match; a percent-escape counts as the
 * character it encodes, so `to%20bob@…` starts at `bob` and `%41lice@…` at `%41`), the domain the
 * dot-separated labels after it, ending with the last label that starts with two letters. Every
 * character is looked at once backwards and once forwards at most.
 */
export function findEmails(text: string): Span[] {
  const spans: Span[] = [];
  const n = text.length;
  let floor = 0;
  let from = 0;
  for (;;) {
    const at = text.indexOf('@', from);
    if (at === -1) return spans;
    scanMeter.steps++;
    from = at + 1;
    let s = at;
    while (s > floor) {
      scanMeter.steps++;
      const escaped = byteEscapedBefore(text, s);
      if (escaped !== -1) {
        if (s - 3 < floor || !isLocal(escaped)) break;
        s -= 3;
      } else if (isLocal(text.charCodeAt(s - 1))) s--;
      else break;
    }
    // Characters before this `@` are never part of a later local part.
    floor = at + 1;
    if (s === at) continue;
    let i = at + 1;
    let labels = 0;
    let end = -1;
    for (;;) {
      const ls = i;
      while (i < n && isLabel(text.charCodeAt(i))) {
        scanMeter.steps++;
        i++;
      }
      if (i === ls) break;
      labels++;
      if (labels >= 2) {
        let letters = ls;
        while (letters < i && isAlpha(text.charCodeAt(letters))) letters++;
        if (letters - ls >= 2) end = letters;
      }
      if (i + 1 < n && text.charCodeAt(i) === 46 && isLabel(text.charCodeAt(i + 1))) i++;
      else break;
    }
    if (end === -1) continue;
    spans.push({ start: s, end });
    floor = end;
    from = Math.max(from, end);
  }
}

export type Hit = (kind: SensitiveKind, masked: boolean) => void;

/** A span `maskedSpans` replaced: the text keeps `keep` characters at its end (a card's last four). */
export interface MaskedSpan extends Span {
  keep: number;
}

function fill(s: string, sameLength: boolean, keepTail = 0): string {
  return sameLength ? '*'.repeat(s.length - keepTail) + s.slice(s.length - keepTail) : keepTail > 0 ? MASK + s.slice(-keepTail) : MASK;
}

/**
 * Replace `spans` (sorted, disjoint) of `text` through `replace` (given the span's text and the
 * span); the text itself when none changed. `replaced`: where to note each replaced span, with
 * the `keep` its replacement keeps (the text keeps its length then, see `maskedSpans`).
 */
function applySpans<S extends Span>(text: string, spans: readonly S[], replace: (m: string, s: S) => string, replaced?: MaskedSpan[], keep = 0): string {
  if (spans.length === 0) return text;
  let out = '';
  let last = 0;
  let changed = false;
  for (const s of spans) {
    const m = text.slice(s.start, s.end);
    const r = replace(m, s);
    if (r === m) continue;
    changed = true;
    out += text.slice(last, s.start) + r;
    last = s.end;
    replaced?.push({ start: s.start, end: s.end, keep });
  }
  return changed ? out + text.slice(last) : text;
}

/** The shortest text any detector but the key/value one can match: an e-mail like `a@b.cd` (cards need 13, JWTs 16). */
export const MIN_MATCH_LENGTH = 6;

const NEXT_PAIR_SEPARATOR = /[=:]/g;

/** The first `=` or `:` at or after `from`, or -1. */
function indexOfPairSeparator(text: string, from: number): number {
  NEXT_PAIR_SEPARATOR.lastIndex = from;
  return NEXT_PAIR_SEPARATOR.test(text) ? NEXT_PAIR_SEPARATOR.lastIndex - 1 : -1;
}

/**
 * For a caller that would cut many pieces out of one text to scan each with `maskText` (the
 * JSON masker's string values): whether `text[start, end)` holds anything a detector of
 * `maskText` starts from — `eyJ` (JWTs), a digit (cards, and the check digits of every IBAN;
 * also every percent-encoded URL separator, `%3A%2F%2F`), `://` (passwords in URLs), `@`
 * (e-mails, when detected), a token's start (`earer`, `gh?_`, `xox?-`, `AKIA`…:
 * `token-formats.ts`, in a range as long as a token), the shape of a token of the other formats
 * or a private key's start (`glpat-` and 20 characters…, `-----BEGIN`: the second search of
 * `token-formats.ts`, in a range as long as the shortest of them),
 * `=` or `:` (`KEY=VALUE` pairs, in a range as long as the shortest the policy masks) — or the
 * policy has patterns, which can match anything. A range that holds none would come back from
 * `maskText` unchanged, so it need not be cut out. Ranges asked about left to right read the
 * text about once.
 */
export function scanTriggers(text: string, policy: MaskPolicy): (start: number, end: number) => boolean {
  if (policy.patterns.length > 0) return () => true;
  const nextJwt = nextMatch((from) => text.indexOf(JWT_START, from));
  const nextDigit = nextMatch((from) => indexOfDigit(text, from));
  const nextUrl = nextMatch((from) => text.indexOf(URL_SEPARATOR, from));
  const nextAt = nextMatch((from) => text.indexOf('@', from));
  const shortestPair = shortestKeyValue(policy);
  // Made when first asked: most ranges have another trigger, or none of a pair's (or a token's) length.
  let nextPair: ((from: number) => number) | undefined;
  let nextToken: ((from: number) => number) | undefined;
  let nextShape: ((from: number) => number) | undefined;
  return (start, end) => {
    if (end - start >= MIN_MATCH_LENGTH) {
      const jwt = nextJwt(start);
      if (jwt !== -1 && jwt + JWT_START.length <= end) return true;
      const digit = nextDigit(start);
      if (digit !== -1 && digit < end) return true;
      const url = nextUrl(start);
      if (url !== -1 && url + URL_SEPARATOR.length <= end) return true;
      if (policy.detectEmails) {
        const at = nextAt(start);
        if (at !== -1 && at < end) return true;
      }
      if (end - start >= SHORTEST_TOKEN) {
        nextToken ??= nextMatch((from) => indexOfTokenStart(text, from));
        const token = nextToken(start);
        if (token !== -1 && token < end) return true;
      }
      if (end - start >= SHORTEST_SHAPE) {
        nextShape ??= nextMatch((from) => indexOfShapeStart(text, from));
        const shape = nextShape(start);
        if (shape !== -1 && shape < end) return true;
      }
    }
    if (end - start < shortestPair) return false;
    nextPair ??= nextMatch((from) => indexOfPairSeparator(text, from));
    const pair = nextPair(start);
    return pair !== -1 && pair < end;
  };
}

/**
 * The detectors in order over `text`, each on what the ones before it left: private keys, URL
 * passwords, JWTs, tokens of known formats, IBANs, cards, `KEY=VALUE` pairs (`text-pairs.ts`)
 * and the credentials after `Bearer` (not when `pairs` is false: both read the words around a value),
 * what a cut left at the end (`cut`), e-mails, the policy's patterns. `replaced`: note each
 * replaced span (with `sameLength`, so that spans stay where they were in `text`).
 */
function detect(text: string, policy: MaskPolicy, hit: Hit, sameLength: boolean, formEncoded: boolean, cut: boolean, pairs: boolean, replaced?: MaskedSpan[]): string {
  let out = text;
  // Two searches for every token start and private key start (`token-formats.ts`), on the text
  // as given: masking adds none.
  const starts = tokenStarts(text, cut, pairs);
  const tokens = starts !== 0;
  const shapes = (starts & SHAPE_START) !== 0;
  // First: a key's material may hold anything the others look for (digits, `AKIA…`), and goes whole.
  const keys = shapes ? findPrivateKeys(out, cut, formEncoded) : NO_SPANS;
  if (keys.length > 0) {
    out = applySpans(
      out,
      keys,
      (m) => {
        hit('private_key', true);
        return fill(m, sameLength);
      },
      replaced,
    );
  }
  // Each replacer is made only when its detector found something (most text has nothing).
  if (out.length >= MIN_MATCH_LENGTH) {
    // Before the e-mails: once masked, `user:****@example.com` is no e-mail address for the detector below.
    const urls = findUrlPasswords(out);
    if (urls.length > 0) {
      out = applySpans(
        out,
        urls,
        (m) => {
          hit('url_password', true);
          return fill(m, sameLength);
        },
        replaced,
      );
    }
    if (out.includes(JWT_START)) {
      const jwts = findJwts(out);
      if (jwts.length > 0) {
        out = applySpans(
          out,
          jwts,
          (m) => {
            hit('jwt', policy.maskJwts);
            return policy.maskJwts ? fill(m, sameLength) : m;
          },
          replaced,
        );
      }
    }
    // Before the cards: `AKIA` and 16 digits is a key id, not a card after a word.
    const prefixed = tokens ? findPrefixedTokens(out, shapes) : NO_TOKENS;
    if (prefixed.length > 0) {
      out = applySpans(
        out,
        prefixed,
        (m, s: TokenSpan) => {
          hit(s.kind, true);
          return fill(m, sameLength);
        },
        replaced,
      );
    }
    // Before the cards: the digits of an IBAN (a Belgian one holds 14 in a row) may pass Luhn.
    const ibans = findIbans(out);
    if (ibans.length > 0) {
      out = applySpans(
        out,
        ibans,
        (m) => {
          hit('iban', true);
          return fill(m, sameLength);
        },
        replaced,
      );
    }
    // A card is at least 13 digits: shorter text (most header values) cannot hold one.
    if (out.length >= 13) {
      const cards = findCardCandidates(out, formEncoded);
      if (cards.length > 0) {
        out = applySpans(
          out,
          cards,
          (m) => {
            if (cardDigits(m) === undefined) return m;
            hit('card', policy.maskCards);
            return policy.maskCards ? fill(m, sameLength, 4) : m;
          },
          replaced,
          4,
        );
      }
    }
  }
  // After the detectors above: a JWT or a card under a secret key is reported as what it is,
  // and the rest of the value (a card's last four) goes with the key's kind.
  const values = pairs ? findKeyValueText(out, policy, formEncoded) : undefined;
  if (values !== undefined && values.length > 0) {
    out = applySpans(
      out,
      values,
      (m, s: KeyValueSpan) => {
        hit(s.kind, true);
        return fill(m, sameLength);
      },
      replaced,
    );
  }
  // After the pairs: `Authorization: Bearer …` in text is the key's (`authorization`).
  const bearers = (starts & PREFIX_START) !== 0 && pairs ? findBearerTokens(out, formEncoded) : NO_TOKENS;
  if (bearers.length > 0) {
    out = applySpans(
      out,
      bearers,
      (m, s: TokenSpan) => {
        hit(s.kind, true);
        return fill(m, sameLength);
      },
      replaced,
    );
  }
  if (cut) out = maskCutEnd(out, policy, hit, sameLength, formEncoded, tokens, replaced);
  if (out.length >= MIN_MATCH_LENGTH && policy.detectEmails && out.includes('@')) {
    const emails = findEmails(out);
    if (emails.length > 0) {
      out = applySpans(
        out,
        emails,
        (m) => {
          hit('email', policy.maskEmails);
          return policy.maskEmails ? fill(m, sameLength) : m;
        },
        replaced,
      );
    }
  }
  if (policy.patterns.length > 0) {
    out = applySpans(
      out,
      findPatternSpans(out, policy.patterns),
      (m) => {
        hit('pattern', true);
        return fill(m, sameLength);
      },
      replaced,
    );
  }
  return out;
}

/**
 * The start of a JWT, a token of a known format (`tokens`: the text may hold one) or a card cut
 * by the end of `text` masked, as what it starts (see the top; a private key cut short is
 * `findPrivateKeys`'s).
 */
function maskCutEnd(text: string, policy: MaskPolicy, hit: Hit, sameLength: boolean, formEncoded: boolean, tokens: boolean, replaced?: MaskedSpan[]): string {
  const jwt = text.includes(JWT_START) ? findCutJwt(text) : -1;
  if (jwt !== -1) {
    hit('jwt', policy.maskJwts);
    if (!policy.maskJwts) return text;
    replaced?.push({ start: jwt, end: text.length, keep: 0 });
    return text.slice(0, jwt) + fill(text.slice(jwt), sameLength);
  }
  const token = tokens ? findCutToken(text, formEncoded) : undefined;
  if (token !== undefined) {
    hit(token.kind, true);
    replaced?.push({ start: token.start, end: text.length, keep: 0 });
    return text.slice(0, token.start) + fill(text.slice(token.start), sameLength);
  }
  const card = findCutCard(text, formEncoded);
  if (card === -1) return text;
  hit('card', policy.maskCards);
  if (!policy.maskCards) return text;
  replaced?.push({ start: card, end: text.length, keep: 0 });
  return text.slice(0, card) + fill(text.slice(card), sameLength);
}

/**
 * Mask private keys, passwords in URLs, values under secret keys, JWTs, tokens of known formats,
 * the credentials after `Bearer`, IBANs and cards (and e-mails when the policy says so) in `text`,
 * reporting every finding. `sameLength` keeps the byte length (for binary bodies, where offsets
 * matter); `formEncoded` says the text is a query string or a form body, where `+` is a space;
 * `cut` says the text was cut short (a truncated body), so that what starts a JWT, a card, a
 * token or a private key at its very end is masked too. What each detector starts from is also
 * what `scanTriggers` and `body-prefilter.ts` look for to skip text: a detector added here adds
 * its trigger there.
 */
export function maskText(text: string, policy: MaskPolicy, hit: Hit, sameLength = false, formEncoded = false, cut = false): string {
  return detect(text, policy, hit, sameLength, formEncoded, cut, true);
}

/**
 * What a value that is masked whole anyway (a sensitive header's) holds, reported through `hit`
 * for `sensitive` (a JWT or a GitHub token in `Authorization: Bearer …`). Its own `name=value`
 * pairs and the credentials after its `Bearer` are not looked for: the header's name already
 * says what the value is (`Cookie: session=…` is a cookie, `Authorization: Bearer …` an
 * `authorization`).
 */
export function reportText(text: string, policy: MaskPolicy, hit: Hit): void {
  detect(text, policy, hit, false, false, false, false);
}

/**
 * What `maskText` would replace in `text`, as spans of `text` itself (sorted; overlapping
 * replacements merged), for a caller that masks another spelling of the same text (the JSON
 * masker, which scans a string's escapes decoded and replaces the escaped characters). Each
 * finding is reported through `hit` as `maskText` reports it.
 */
export function maskedSpans(text: string, policy: MaskPolicy, hit: Hit, formEncoded = false, cut = false): MaskedSpan[] {
  const replaced: MaskedSpan[] = [];
  detect(text, policy, hit, true, formEncoded, cut, true, replaced);
  if (replaced.length < 2) return replaced;
  replaced.sort((a, b) => a.start - b.start);
  const merged: MaskedSpan[] = [replaced[0]];
  for (let i = 1; i < replaced.length; i++) {
    const s = replaced[i];
    const top = merged[merged.length - 1];
    if (s.start < top.end) merged[merged.length - 1] = { start: top.start, end: Math.max(top.end, s.end), keep: 0 };
    else merged.push(s);
  }
  return merged;
}
