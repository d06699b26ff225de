/**
 * `"key": value` pairs in text that is not a whole JSON document (JSON cut by the body limit or
 * the scan budget, JSON inside logs or other text). A hand-written scanner: every `"` may start
 * a key, but a key is at most 128 characters, and a value is consumed once, so each character
 * is looked at a bounded number of times.
 */
import { MASK } from './detectors.ts';
import type { Findings } from './findings.ts';
import { keyKind } from './key-kind.ts';
import type { MaskPolicy } from './policy.ts';
import { scanMeter } from './scan-meter.ts';

const MAX_KEY = 128;

const isWs = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;

/** End (after the closing quote) of a key string starting at the quote `q`, or -1. */
function keyEnd(text: string, q: number): number {
  const n = text.length;
  let units = 0;
  let i = q + 1;
  while (i < n && units <= MAX_KEY) {
    scanMeter.steps++;
    const c = text.charCodeAt(i);
    if (c === 34) return units === 0 ? -1 : i + 1;
    if (c === 10) return -1;
    if (c === 92) {
      if (i + 1 >= n || text.charCodeAt(i + 1) === 10) return -1;
      i += 2;
    } else i++;
    units++;
  }
  return -1;
}

/** End of a string value starting at the quote `q`: after its closing quote, or the end of the text. */
function stringEnd(text: string, q: number): { end: number; closed: boolean } {
  const n = text.length;
  let i = q + 1;
  while (i < n) {
    scanMeter.steps++;
    const c = text.charCodeAt(i);
    if (c === 34) return { end: i + 1, closed: true };
    i += c === 92 ? 2 : 1;
  }
  return { end: n, closed: false };
}

/** End of an object or array starting at `q` (brackets counted outside strings), or the end of the text. */
function containerEnd(text: string, q: number): number {
  const n = text.length;
  let depth = 0;
  let i = q;
  while (i < n) {
    scanMeter.steps++;
    const c = text.charCodeAt(i);
    if (c === 34) {
      i = stringEnd(text, i).end;
      continue;
    }
    if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return n;
}

/** End of a bare value (number, `true`, `false`, `null`) starting at `i`, or -1. */
function bareEnd(text: string, i: number): number {
  for (const lit of ['true', 'false', 'null']) if (text.startsWith(lit, i)) return i + lit.length;
  const n = text.length;
  let j = i;
  const c = text.charCodeAt(j);
  if (c === 45) j++;
  if (j >= n || text.charCodeAt(j) < 48 || text.charCodeAt(j) > 57) return -1;
  while (j < n) {
    const d = text.charCodeAt(j);
    if ((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45) {
      scanMeter.steps++;
      j++;
    } else break;
  }
  return j;
}

function unescapeKey(raw: string): string {
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

export function maskKeyValuePairs(text: string, where: string, policy: MaskPolicy, f: Findings): string {
  let out = '';
  let last = 0;
  let from = 0;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q === -1) break;
    scanMeter.steps++;
    from = q + 1;
    const ke = keyEnd(text, q);
    if (ke === -1) continue;
    let i = ke;
    while (i < text.length && isWs(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== 58 /* : */) continue;
    i++;
    while (i < text.length && isWs(text.charCodeAt(i))) i++;
    scanMeter.steps += i - ke;
    const rawKey = text.slice(q + 1, ke - 1);
    const kind = keyKind(policy, unescapeKey(rawKey));
    const c = text.charCodeAt(i);
    let end: number;
    let closed = true;
    if (c === 34) ({ end, closed } = stringEnd(text, i));
    else if (c === 123 || c === 91) {
      if (kind === undefined) {
        // Not a secret: its own pairs are looked at one by one.
        from = i + 1;
        continue;
      }
      end = containerEnd(text, i);
      closed = end < text.length || text.charCodeAt(end - 1) === 125 || text.charCodeAt(end - 1) === 93;
    } else {
      end = bareEnd(text, i);
      if (end === -1) continue;
    }
    from = end;
    if (kind === undefined) continue;
    f.add(`${where}.$..${rawKey}`, kind, true);
    out += `${text.slice(last, i)}"${MASK}${closed ? '"' : ''}`;
    last = end;
  }
  return last === 0 ? text : out + text.slice(last);
}
