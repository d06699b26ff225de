/**
 * Where a secret found by its shape may begin: at a word's start — the start of the text, or
 * after anything but a letter, digit or `_` — or right after a percent-escape (`tok%20ghp_…`,
 * the escape being a separator). The token formats and the IBAN finder share this rule, so a
 * format cannot be masked in one place and missed in another.
 */
import { byteEscapedBefore } from './percent-escape.ts';

/** `[A-Za-z0-9_]`. */
export function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** Whether a secret may start at `p` in `text` (see above). */
export function startsWord(text: string, p: number): boolean {
  return p === 0 || !isWordChar(text.charCodeAt(p - 1)) || byteEscapedBefore(text, p) !== -1;
}
