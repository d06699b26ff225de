/**
 * Percent-escapes (`%` and two hex digits, one byte of URL-encoded text) as the text detectors
 * see them: paths, query strings, form bodies and header values such as `grpc-message` carry
 * their text encoded, and a detector that took the escape's hex digits for text would miss a
 * secret right after one (`card%204111…`, `tok%20eyJ…`). An escape is recognised on its own
 * characters alone: `%` is no hex digit, so escapes never overlap and a look at the three
 * characters around a position says whether it is in one.
 *
 * A key/value pair inside a query or form value is often encoded whole
 * (`next=%2Fcb%3Ftoken%3D…`, `data=%7B%22password%22%3A…`): `decodePercentEscapes` gives the
 * key/value finder the text it stands for, with where each character was written, so that what
 * it masks there maps back to the encoded characters.
 */
import { scanMeter } from './scan-meter.ts';

/** The value of hex digit `c`, or -1. */
export function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** The byte `%XX` at `i` stands for, or -1 when `text[i, i + 3)` is no percent-escape. */
export function percentByte(text: string, i: number): number {
  if (i < 0 || i + 2 >= text.length || text.charCodeAt(i) !== 37) return -1;
  const hi = hexValue(text.charCodeAt(i + 1));
  const lo = hexValue(text.charCodeAt(i + 2));
  return hi === -1 || lo === -1 ? -1 : hi * 16 + lo;
}

/** The byte of the percent-escape ending right before `end` (`text[end - 3, end)`), or -1. */
export function byteEscapedBefore(text: string, end: number): number {
  return end < 3 ? -1 : percentByte(text, end - 3);
}

/**
 * Where the percent-escape holding the hex digit at `i` starts, or -1 when `text[i]` is not one
 * of an escape's hex digits.
 */
export function escapeAround(text: string, i: number): number {
  if (i >= 1 && percentByte(text, i - 1) !== -1) return i - 1;
  if (i >= 2 && percentByte(text, i - 2) !== -1) return i - 2;
  return -1;
}

/** `%3D` or `%3A` (any case): an `=` or a `:` percent-encoded, what an encoded pair needs. */
const ENCODED_PAIR_SEPARATOR = /%3[ADad]/;

/**
 * Whether `text` holds `=` or `:` percent-encoded (`next=%2Fcb%3Ftoken%3D…`), so that a
 * key/value pair may be hidden in it: one native search.
 */
export function hasEncodedPairSeparator(text: string): boolean {
  return ENCODED_PAIR_SEPARATOR.test(text);
}

/**
 * `text` with its percent-escapes decoded, each to the one character of its byte (`%3D` to `=`,
 * `%22` to `"`, `%0A` to a line break; the bytes of a multi-byte character each to a character
 * of their own, as no key or separator needs them), and `+` to a space when `plusIsSpace` (a
 * query string or form body); with, for each character of the result, where it starts in `text`
 * (`at[result.length]` is `text.length`), so that a span found in the result maps back to the
 * characters it was written with. A `%` that starts no escape is kept; doubly encoded text
 * (`%253D`) is decoded once (`%3D`). One pass.
 */
export function decodePercentEscapes(text: string, plusIsSpace: boolean): { text: string; at: Int32Array } {
  const n = text.length;
  const at = new Int32Array(n + 1);
  let out = '';
  let k = 0;
  let i = 0;
  while (i < n) {
    const p = text.indexOf('%', i);
    const stop = p === -1 ? n : p;
    if (stop > i) {
      const run = text.slice(i, stop);
      out += plusIsSpace && run.includes('+') ? run.replaceAll('+', ' ') : run;
      for (let j = i; j < stop; j++) at[k++] = j;
    }
    if (p === -1) break;
    const b = percentByte(text, p);
    at[k++] = p;
    if (b === -1) {
      out += '%';
      i = p + 1;
    } else {
      out += String.fromCharCode(b);
      i = p + 3;
    }
  }
  scanMeter.steps += n;
  at[k] = n;
  return { text: out, at: at.subarray(0, k + 1) };
}
