/**
 * Masking of secrets in a record before it leaves the pod. Pure: returns a masked copy (the
 * input is not changed) with `redacted` (field paths whose values were replaced) and
 * `sensitive` (kinds of data found, masked or not) filled in.
 *
 * Bodies are masked on the captured (decoded) bytes:
 * - valid JSON: values under sensitive keys, plus JWTs/cards/e-mails inside other values, edited
 *   in place so the rest of the document stays byte-identical;
 * - form-urlencoded: values of sensitive keys;
 * - other UTF-8 text, and JSON cut short by the body limit: `"key": value` pairs by pattern,
 *   then JWTs/cards/e-mails;
 * - binary (not UTF-8): JWTs and cards overwritten with `*` byte for byte, so lengths and
 *   offsets inside the body do not move.
 */
import type { HttpMessage } from '../../record/record.ts';
import { MASK, maskText } from './detectors.ts';
import { maskJson } from './json-mask.ts';
import { DEFAULT_MASK_POLICY, normalizeKey, type MaskPolicy, type SensitiveKind } from './policy.ts';

export interface MaskableRecord {
  path?: string;
  request?: HttpMessage;
  response?: HttpMessage;
  redacted?: string[];
  sensitive?: string[];
}

export type Masked<T extends MaskableRecord> = T & { redacted: string[]; sensitive: string[] };

class Findings {
  readonly redacted = new Set<string>();
  readonly sensitive = new Set<string>();
  add(path: string, kind: SensitiveKind, masked: boolean): void {
    this.sensitive.add(kind);
    if (masked) this.redacted.add(path);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The body as text when it is UTF-8. A body cut by the capture limit may end inside a
 * multi-byte character: up to 3 trailing bytes are left out (the caller appends them back).
 */
function bodyText(body: Uint8Array, truncated: boolean): string | undefined {
  const cuts = truncated ? 3 : 0;
  for (let cut = 0; cut <= cuts && cut < body.length; cut++) {
    try {
      return utf8.decode(body.subarray(0, body.length - cut));
    } catch {
      // Try again without one more trailing byte.
    }
  }
  return undefined;
}

function maskAuthorization(value: string): string {
  const m = /^(\S+)(\s+)\S/.exec(value);
  return m === null ? MASK : `${m[1]}${m[2]}${MASK}`;
}

function maskCookie(value: string): string {
  return value
    .split(';')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq === -1 ? part : `${part.slice(0, eq + 1)}${MASK}`;
    })
    .join(';');
}

function maskSetCookie(value: string): string {
  return value
    .split('\n')
    .map((line) => {
      const semi = line.indexOf(';');
      const first = semi === -1 ? line : line.slice(0, semi);
      const eq = first.indexOf('=');
      const masked = eq === -1 ? MASK : `${first.slice(0, eq + 1)}${MASK}`;
      return semi === -1 ? masked : masked + line.slice(semi);
    })
    .join('\n');
}

function maskHeaders(
  headers: Record<string, string>,
  where: string,
  policy: MaskPolicy,
  f: Findings,
): Record<string, string> {
  let out: Record<string, string> | undefined;
  const set = (name: string, value: string): void => {
    out ??= { ...headers };
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  };
  for (const [name, value] of Object.entries(headers)) {
    const kind = policy.headers.get(name);
    if (kind !== undefined) {
      const path = `${where}.${name}`;
      maskText(value, policy, (k) => f.add(path, k, false));
      f.add(path, kind, true);
      const masked =
        name === 'authorization' || name === 'proxy-authorization'
          ? maskAuthorization(value)
          : name === 'cookie'
            ? maskCookie(value)
            : name === 'set-cookie'
              ? maskSetCookie(value)
              : MASK;
      set(name, masked);
      continue;
    }
    let changed = false;
    const masked = maskText(value, policy, (k, m) => {
      f.add(`${where}.${name}`, k, m);
      changed ||= m;
    });
    if (changed) set(name, masked);
  }
  return out ?? headers;
}

/** `a=1&password=x` style text: values of sensitive keys. */
function maskForm(text: string, where: string, policy: MaskPolicy, f: Findings): string {
  return text
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      let key = pair.slice(0, eq);
      try {
        key = decodeURIComponent(key.replace(/\+/g, ' '));
      } catch {
        // Keep the raw key when it is not valid percent-encoding.
      }
      const kind = policy.keys.get(normalizeKey(key));
      if (kind === undefined) return pair;
      f.add(`${where}.${key}`, kind, true);
      return `${pair.slice(0, eq + 1)}${MASK}`;
    })
    .join('&');
}

const KEY_VALUE = /"((?:[^"\\\n]|\\.){1,128})"(\s*:\s*)("(?:[^"\\]|\\.)*(?:"|$)|-?\d[\d.eE+-]*|true|false|null|[[{])/g;

/** Pattern fallback for JSON that does not parse (cut by the body limit, or embedded in text). */
function maskKeyValuePairs(text: string, where: string, policy: MaskPolicy, f: Findings): string {
  if (!text.includes('"')) return text;
  return text.replace(KEY_VALUE, (whole, key: string, sep: string, val: string) => {
    const kind = policy.keys.get(normalizeKey(key));
    if (kind === undefined || val === '[' || val === '{') return whole;
    f.add(`${where}.$..${key}`, kind, true);
    const closed = val.startsWith('"') ? val.length > 1 && val.endsWith('"') : true;
    return `"${key}"${sep}"${MASK}${closed ? '"' : ''}`;
  });
}

function isJsonType(ct: string): boolean {
  return ct.includes('json');
}

function maskBody(msg: HttpMessage, side: string, policy: MaskPolicy, f: Findings): Uint8Array {
  const body = msg.body;
  if (body.length === 0) return body;
  const where = `${side}.body`;
  const ct = (msg.content_type ?? '').toLowerCase();
  const text = bodyText(body, msg.truncated);
  if (text === undefined) {
    // Binary: overwrite matches byte for byte in a latin1 view (offsets equal byte offsets).
    const latin1 = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
    const masked = maskText(latin1, { ...policy, maskEmails: false, detectEmails: false }, (k, m) => f.add(where, k, m), true);
    return masked === latin1 ? body : Buffer.from(masked, 'latin1');
  }
  const tail = body.subarray(Buffer.byteLength(text, 'utf8'));
  let out = text;
  const first = text.trimStart().charCodeAt(0);
  const looksJson = first === 123 || first === 91;
  let done = false;
  if (isJsonType(ct) || (looksJson && !ct.includes('form'))) {
    const findings: Array<{ path: string; kind: SensitiveKind; masked: boolean }> = [];
    const masked = maskJson(text, policy, findings);
    if (masked !== undefined) {
      for (const x of findings) f.add(`${where}.${x.path}`, x.kind, x.masked);
      out = masked;
      done = true;
    }
  }
  if (!done) {
    if (ct.includes('x-www-form-urlencoded')) out = maskForm(out, where, policy, f);
    else out = maskKeyValuePairs(out, where, policy, f);
    out = maskText(out, policy, (k, m) => f.add(where, k, m));
  }
  if (out === text) return body;
  const encoded = Buffer.from(out, 'utf8');
  return tail.length === 0 ? encoded : Buffer.concat([encoded, tail]);
}

function maskPath(path: string, policy: MaskPolicy, f: Findings): string {
  const q = path.indexOf('?');
  let base = q === -1 ? path : path.slice(0, q);
  let query = q === -1 ? undefined : path.slice(q + 1);
  if (query !== undefined) query = maskForm(query, 'path.query', policy, f);
  base = maskText(base, policy, (k, m) => f.add('path', k, m));
  if (query !== undefined) query = maskText(query, policy, (k, m) => f.add('path', k, m));
  return query === undefined ? base : `${base}?${query}`;
}

function maskMessage(msg: HttpMessage, side: 'request' | 'response', policy: MaskPolicy, f: Findings): HttpMessage {
  const out: HttpMessage = { ...msg };
  out.headers = maskHeaders(msg.headers, `${side}.headers`, policy, f);
  if (msg.trailers !== undefined) out.trailers = maskHeaders(msg.trailers, `${side}.trailers`, policy, f);
  try {
    out.body = maskBody(msg, side, policy, f);
  } catch {
    // Better an empty body than an unmasked one.
    out.body = new Uint8Array(0);
    f.add(`${side}.body`, 'secret', true);
  }
  return out;
}

export function maskRecord<T extends MaskableRecord>(record: T, policy: MaskPolicy = DEFAULT_MASK_POLICY): Masked<T> {
  const redacted = record.redacted ?? [];
  const sensitive = record.sensitive ?? [];
  if (!policy.enabled) return { ...record, redacted: [...redacted], sensitive: [...sensitive] };
  const f = new Findings();
  const out = { ...record } as Masked<T>;
  if (record.path !== undefined) out.path = maskPath(record.path, policy, f);
  if (record.request !== undefined) out.request = maskMessage(record.request, 'request', policy, f);
  if (record.response !== undefined) out.response = maskMessage(record.response, 'response', policy, f);
  out.redacted = [...new Set([...redacted, ...f.redacted])];
  out.sensitive = [...new Set([...sensitive, ...f.sensitive])];
  return out;
}
