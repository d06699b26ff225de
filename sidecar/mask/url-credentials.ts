/**
 * Passwords inside URLs: `postgres://shop:PW@db:5432/x`, `https://user:PW@example.com/`,
 * `redis://:PW@cache:6379`. Only the password is masked (`postgres://shop:****@db:5432/x`): the
 * scheme, user, host and path keep the call readable.
 *
 * Found from each `://` (or its percent-encoded form `%3A%2F%2F`, a URL inside a query string
 * or form value): a scheme of at most 32 characters before it, then the authority up to the
 * first character that ends one (`/`, `?`, `#`, whitespace, a quote, `<`, `>`; in the encoded
 * form also `&`, `+` and the encoded `/`, `?`, `#`, space). The password runs from the first
 * `:` of the authority to its last `@`, so a password holding a raw `@` or `:` is masked whole
 * rather than cut. The next search starts where the authority ended, so every character is
 * looked at a bounded number of times.
 */
import type { Span } from './detectors.ts';
import { percentByte } from './percent-escape.ts';
import { scanMeter } from './scan-meter.ts';

/** What a URL with credentials holds: the text a caller may search for before scanning. */
export const URL_SEPARATOR = '://';
/** `://` percent-encoded, in any case. */
const ENCODED_SEPARATOR = /%3a%2f%2f/gi;
const ENCODED_LENGTH = 9;
const MAX_SCHEME = 32;
/** An authority longer than this is cut here: a password is looked for within it only. */
const MAX_AUTHORITY = 1024;

const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** `[A-Za-z0-9+.-]`: RFC 3986 scheme characters. */
const isSchemeChar = (c: number): boolean => isAlpha(c) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;

/** Whether the character at `i` ends an authority (before any encoded-form rule). */
function endsAuthority(text: string, i: number, c: number): boolean {
  if (c <= 32 || c === 127) return true;
  switch (c) {
    case 47: // /
    case 63: // ?
    case 35: // #
    case 60: // <
    case 62: // >
    case 96: // `
      return true;
    case 34: // " ends it unless escaped (the raw text of a JSON string)
      return text.charCodeAt(i - 1) !== 92;
    case 92: {
      // An escaped newline, return or tab of a JSON string's raw text.
      const next = text.charCodeAt(i + 1);
      return next === 110 || next === 114 || next === 116;
    }
    default:
      return false;
  }
}

/** The passwords of `scheme://user:password@host` URLs in `text`: sorted, disjoint spans. */
export function findUrlPasswords(text: string): Span[] {
  const spans: Span[] = [];
  const n = text.length;
  const percent = text.includes('%');
  let nextPlain = -2;
  let nextEncoded = percent ? -2 : -1;
  let from = 0;
  for (;;) {
    if (nextPlain !== -1 && nextPlain < from) nextPlain = text.indexOf(URL_SEPARATOR, from);
    if (nextEncoded !== -1 && nextEncoded < from) {
      ENCODED_SEPARATOR.lastIndex = from;
      nextEncoded = ENCODED_SEPARATOR.test(text) ? ENCODED_SEPARATOR.lastIndex - ENCODED_LENGTH : -1;
    }
    if (nextPlain === -1 && nextEncoded === -1) return spans;
    const encoded = nextPlain === -1 || (nextEncoded !== -1 && nextEncoded < nextPlain);
    const p = encoded ? nextEncoded : nextPlain;
    const authorityStart = p + (encoded ? ENCODED_LENGTH : URL_SEPARATOR.length);
    from = authorityStart;
    scanMeter.steps++;

    // The scheme: 1-32 scheme characters right before the separator, starting with a letter.
    let s = p;
    while (s > 0 && p - s < MAX_SCHEME && isSchemeChar(text.charCodeAt(s - 1))) s--;
    while (s < p && !isAlpha(text.charCodeAt(s))) s++;
    scanMeter.steps += p - s;
    if (s === p) continue;

    // The authority: the first `:` and the last `@` before it ends.
    let colon = -1;
    let colonLength = 0;
    let at = -1;
    let i = authorityStart;
    const limit = Math.min(n, authorityStart + MAX_AUTHORITY);
    while (i < limit) {
      const c = text.charCodeAt(i);
      if (endsAuthority(text, i, c)) break;
      if (c === 58) {
        if (colon === -1) {
          colon = i;
          colonLength = 1;
        }
      } else if (c === 64) at = i;
      else if (encoded) {
        if (c === 38 || c === 43) break; // & (the next form field), + (a space)
        if (c === 37) {
          const b = percentByte(text, i);
          if (b === 0x2f || b === 0x3f || b === 0x23 || b === 0x20) break;
          if (b === 0x3a && colon === -1) {
            colon = i;
            colonLength = 3;
          } else if (b === 0x40) at = i;
          if (b !== -1) {
            i += 3;
            continue;
          }
        }
      }
      i++;
    }
    scanMeter.steps += i - authorityStart;
    from = i;
    if (colon !== -1 && at > colon + colonLength) spans.push({ start: colon + colonLength, end: at });
  }
}

/**
 * An HTTP authority (`Host`, `:authority`, the record's `authority`) holding user information,
 * which HTTP forbids there (RFC 9110 §4.2.4) but a misconfigured client may still send:
 * `u:pw@host` keeps the user (`u:****@host`), a user information without a colon (a token used
 * as the user name) is masked whole (`****@host`). Undefined when there is none.
 */
export function maskAuthorityUserinfo(authority: string): string | undefined {
  const at = authority.lastIndexOf('@');
  if (at <= 0) return undefined;
  scanMeter.steps += at;
  const colon = authority.indexOf(':');
  return colon !== -1 && colon < at ? `${authority.slice(0, colon + 1)}****${authority.slice(at)}` : `****${authority.slice(at)}`;
}
