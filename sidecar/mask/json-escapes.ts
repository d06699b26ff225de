/**
 * The text of JSON strings as the text detectors see it: escapes decoded. Encoders escape
 * characters a secret may sit next to (Go `<`, `>` and `&` as `\u003c`…, Python every non-ASCII
 * character, PHP `/` as `\/`, any of them a newline as `\n`), and read as written an escape
 * would hide the secret after it: `\u0020` is four hex digits that join a card's digits, the `n`
 * of `\n` a letter that keeps a JWT from starting (`tok\neyJ…`), and `https:\/\/` no URL.
 *
 * So the detectors run on the decoded text (`\u0020` is the space it encodes, `\"` a quote), and
 * each span they replace is mapped back to the escaped text: the mask replaces the characters
 * the secret was written with (an escape inside it too) and nothing else, so the escapes around
 * it stay and the document stays valid JSON (`card\u0020****1111`). Decoding is one pass, and
 * text without a backslash is scanned as it is.
 */
import { maskedSpans, maskText, MASK, type Hit } from './detectors.ts';
import { hexValue } from './percent-escape.ts';
import type { MaskPolicy } from './policy.ts';
import { scanMeter } from './scan-meter.ts';

/** The code unit `\uXXXX` at `i` (the backslash) stands for, or -1. */
function unicodeEscape(raw: string, i: number): number {
  if (i + 6 > raw.length) return -1;
  let v = 0;
  for (let k = i + 2; k < i + 6; k++) {
    const h = hexValue(raw.charCodeAt(k));
    if (h === -1) return -1;
    v = v * 16 + h;
  }
  return v;
}

/** The character the two-character escape `\c` stands for, or -1. */
function shortEscape(c: number): number {
  switch (c) {
    case 34: // "
    case 92: // \
    case 47: // /
      return c;
    case 98: // b
      return 8;
    case 102: // f
      return 12;
    case 110: // n
      return 10;
    case 114: // r
      return 13;
    case 116: // t
      return 9;
    default:
      return -1;
  }
}

/**
 * `raw` (the characters of JSON strings as written) with its escapes decoded, and for each
 * character of the result where it starts in `raw` (`at[text.length]` is `raw.length`). A
 * backslash that starts no escape (text cut inside one, or not JSON) is kept as a character.
 */
export function decodeJsonEscapes(raw: string): { text: string; at: Int32Array } {
  const n = raw.length;
  const at = new Int32Array(n + 1);
  let text = '';
  let k = 0;
  let i = 0;
  while (i < n) {
    const b = raw.indexOf('\\', i);
    const stop = b === -1 ? n : b;
    if (stop > i) {
      text += raw.slice(i, stop);
      for (let j = i; j < stop; j++) at[k++] = j;
    }
    if (b === -1) break;
    let c = shortEscape(raw.charCodeAt(b + 1));
    let length = 2;
    if (c === -1 && raw.charCodeAt(b + 1) === 117 /* u */) {
      c = unicodeEscape(raw, b);
      length = 6;
    }
    at[k++] = b;
    if (c === -1) {
      text += '\\';
      i = b + 1;
    } else {
      text += String.fromCharCode(c);
      i = b + length;
    }
  }
  scanMeter.steps += n;
  at[k] = n;
  return { text, at: at.subarray(0, k + 1) };
}

/**
 * `maskText` over the characters of JSON strings (`raw`: a string value between its quotes, or
 * a whole JSON text cut short), seeing through their escapes; `cut` as for `maskText`.
 */
export function maskJsonText(raw: string, policy: MaskPolicy, hit: Hit, cut = false): string {
  if (!raw.includes('\\')) return maskText(raw, policy, hit, false, false, cut);
  const { text, at } = decodeJsonEscapes(raw);
  const spans = maskedSpans(text, policy, hit, false, cut);
  if (spans.length === 0) return raw;
  let out = '';
  let last = 0;
  for (const s of spans) {
    const start = at[s.start];
    const end = at[s.end];
    out += raw.slice(last, start) + MASK + (s.keep > 0 ? raw.slice(at[s.end - s.keep], end) : '');
    last = end;
  }
  return out + raw.slice(last);
}
