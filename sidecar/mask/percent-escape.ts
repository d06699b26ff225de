/**
 * Percent-escapes (`%` and two hex digits, one byte of URL-encoded text) as the text detectors
 * see them: paths, query strings, form bodies and header values such as `grpc-message` carry
 * their text encoded, and a detector that took the escape's hex digits for text would miss a
 * secret right after one (`card%204111…`, `tok%20eyJ…`). An escape is recognised on its own
 * characters alone: `%` is no hex digit, so escapes never overlap and a look at the three
 * characters around a position says whether it is in one.
 */

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
