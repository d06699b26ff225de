/**
 * `multipart/form-data` bodies: the content of a part whose field name is sensitive is
 * masked whole; other parts go through the key/value and text detectors. Works on the bytes
 * as latin1 (one character per byte), so binary file parts survive untouched and sensitive
 * fields next to them are still found.
 */
import { maskText, MASK } from './detectors.ts';
import type { Findings } from './findings.ts';
import { keyKind } from './key-kind.ts';
import type { MaskPolicy } from './policy.ts';
import { scanMeter } from './scan-meter.ts';
import { maskKeyValuePairs } from './text-pairs.ts';

/** RFC 2046: a boundary is 1–70 characters. */
const MAX_BOUNDARY = 70;

/** The boundary of a `multipart/*` content type, or undefined. */
export function multipartBoundary(contentType: string): string | undefined {
  const lower = contentType.toLowerCase();
  if (!lower.trimStart().startsWith('multipart/')) return undefined;
  const at = lower.indexOf('boundary=');
  if (at === -1) return undefined;
  let value = contentType.slice(at + 'boundary='.length);
  const semi = value.indexOf(';');
  if (semi !== -1) value = value.slice(0, semi);
  value = value.trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return value.length >= 1 && value.length <= MAX_BOUNDARY ? value : undefined;
}

/** The `name` parameter of a part's Content-Disposition header. */
function partName(headerText: string): string | undefined {
  for (const line of headerText.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon === -1 || line.slice(0, colon).trim().toLowerCase() !== 'content-disposition') continue;
    for (const param of line.slice(colon + 1).split(';')) {
      const p = param.trim();
      if (p.slice(0, 5).toLowerCase() !== 'name=') continue;
      const v = p.slice(5).trim();
      return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
    }
  }
  return undefined;
}

/**
 * Mask a multipart body given as latin1 text. Returns undefined when the boundary never
 * appears (the caller then treats the body as other text). `cut`: the body was cut short, so
 * the text that reaches its end is scanned as cut text (`maskText`).
 */
export function maskMultipart(latin1: string, boundary: string, where: string, policy: MaskPolicy, f: Findings, cut = false): string | undefined {
  const delimiter = `--${boundary}`;
  const first = latin1.indexOf(delimiter);
  if (first === -1) return undefined;
  const n = latin1.length;
  let out = latin1.slice(0, first);
  let pos = first;
  scanMeter.steps += first;
  for (;;) {
    // `pos` is at a delimiter: copy it and the rest of its line.
    const lineEnd = latin1.indexOf('\n', pos);
    const partStart = lineEnd === -1 ? n : lineEnd + 1;
    out += latin1.slice(pos, partStart);
    scanMeter.steps += partStart - pos;
    if (latin1.startsWith('--', pos + delimiter.length) || partStart >= n) {
      // The closing delimiter: the epilogue is kept as it is, but still scanned.
      out += maskText(latin1.slice(partStart), policy, (k, m) => f.add(where, k, m), false, false, cut);
      return out;
    }
    let next = latin1.indexOf(`\n${delimiter}`, partStart);
    const partEnd = next === -1 ? n : next > partStart && latin1.charCodeAt(next - 1) === 13 ? next - 1 : next;
    const part = latin1.slice(partStart, partEnd);
    scanMeter.steps += part.length;
    const blank = /\r?\n\r?\n/.exec(part);
    const headerLength = blank === null ? part.length : blank.index + blank[0].length;
    const headers = part.slice(0, headerLength);
    const content = part.slice(headerLength);
    const name = blank === null ? undefined : partName(headers);
    const kind = name === undefined ? undefined : keyKind(policy, name);
    // The last part of a body cut short ends at the cut.
    const last = cut && next === -1;
    out += maskText(headers, policy, (k, m) => f.add(where, k, m), false, false, last && content.length === 0);
    if (kind !== undefined && name !== undefined) {
      f.add(`${where}.${name}`, kind, true);
      out += content.length === 0 ? '' : MASK;
    } else {
      const paired = maskKeyValuePairs(content, where, policy, f);
      out += maskText(paired, policy, (k, m) => f.add(where, k, m), false, false, last);
    }
    if (next === -1) return out;
    out += latin1.slice(partEnd, next + 1);
    next += 1;
    pos = next;
  }
}
