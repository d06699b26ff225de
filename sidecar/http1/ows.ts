/**
 * Optional whitespace (SP / HTAB, RFC 9110 §5.6.3) trimmed from both ends of `s[from, to)`,
 * without a regex, in one slice (none when nothing is cut from the whole string).
 */
export function trimOws(s: string, from = 0, to = s.length): string {
  let a = from;
  let b = to;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
