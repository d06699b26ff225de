/**
 * The JSON form of a record, as the HTTP API serves it (see collector/README.md). Stable: the
 * dashboard, the tap CLI and tests read it.
 *
 * - Field names and nesting are the record's (snake_case); absent optional fields are absent.
 * - ns times (`start`, `request_end`, `response_start`, `end`) are decimal strings, as the proto3
 *   JSON mapping does for int64: a JS number cannot hold them exactly.
 * - A body is `{ "text": "..." }` when its bytes are valid UTF-8, else `{ "base64": "..." }`.
 *   An empty body is `{ "text": "" }`.
 */
import type { CallRecord, HttpMessage } from './record.ts';
import { MeshtapError } from '../lib/errors.ts';
import { REC_ERR_BAD_RECORD } from './errors.ts';

export type BodyJson = { text: string } | { base64: string };

export type HttpMessageJson = Omit<HttpMessage, 'body'> & { body: BodyJson };

export type CallRecordJson = Omit<CallRecord, 'start' | 'request_end' | 'response_start' | 'end' | 'request' | 'response'> & {
  start: string;
  request_end?: string;
  response_start?: string;
  end: string;
  request?: HttpMessageJson;
  response?: HttpMessageJson;
};

// ignoreBOM keeps a leading byte-order mark in the text, so text -> bytes gives back the same bytes.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function bodyToJson(body: Uint8Array): BodyJson {
  try {
    return { text: strictUtf8.decode(body) };
  } catch {
    return { base64: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64') };
  }
}

export function bodyFromJson(body: BodyJson): Uint8Array {
  const buf = 'base64' in body ? Buffer.from(body.base64, 'base64') : Buffer.from(body.text, 'utf8');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function messageToJson(m: HttpMessage): HttpMessageJson {
  const { body, ...rest } = m;
  return { ...rest, body: bodyToJson(body) };
}

function messageFromJson(m: HttpMessageJson): HttpMessage {
  const { body, ...rest } = m;
  return { ...rest, body: bodyFromJson(body) };
}

export function recordToJson(r: CallRecord): CallRecordJson {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(r)) {
    if (value === undefined) continue;
    if (typeof value === 'bigint') out[key] = value.toString();
    else if (key === 'request' || key === 'response') out[key] = messageToJson(value as HttpMessage);
    else out[key] = value;
  }
  return out as CallRecordJson;
}

/** `"key":` for each key seen, so that a record's keys are quoted once per process, not once per record. */
const quotedKeys = new Map<string, string>();

function quotedKey(key: string): string {
  let q = quotedKeys.get(key);
  if (q === undefined) {
    q = `${JSON.stringify(key)}:`;
    if (quotedKeys.size < 4096) quotedKeys.set(key, q);
  }
  return q;
}

/** A value's JSON text as `JSON.stringify` writes it inside an object; undefined when the key is left out. */
function valueText(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      // Objects, arrays, and nested bigints (which `recordToJson` leaves for JSON.stringify to refuse).
      return JSON.stringify(v);
  }
}

function bodyText(body: Uint8Array): string {
  const j = bodyToJson(body);
  return 'text' in j ? `{"text":${JSON.stringify(j.text)}}` : `{"base64":"${j.base64}"}`;
}

function messageText(m: HttpMessage): string {
  // `messageToJson` spreads the other keys first and sets `body` last: the same order here.
  let out = '{';
  for (const key of Object.keys(m)) {
    if (key === 'body') continue;
    const v = valueText(m[key as keyof HttpMessage]);
    if (v === undefined) continue;
    out += out.length === 1 ? quotedKey(key) + v : `,${quotedKey(key)}${v}`;
  }
  return `${out}${out.length === 1 ? '' : ','}"body":${bodyText(m.body)}}`;
}

/**
 * `JSON.stringify(recordToJson(r))`, the same text, built without the intermediate object: the
 * top-level keys in the record's own order, each value through `JSON.stringify` (nested
 * objects included) except the ns times, numbers, booleans and bodies, which are written
 * directly. The tests hold it to `JSON.stringify(recordToJson(r))` on fixed and random records.
 */
export function recordJsonString(r: CallRecord): string {
  let out = '{';
  const record = r as unknown as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const value = record[key];
    let v: string | undefined;
    if (value === undefined) continue;
    if (typeof value === 'bigint') v = `"${value.toString()}"`;
    else if ((key === 'request' || key === 'response') && value !== null) v = messageText(value as HttpMessage);
    else v = valueText(value);
    if (v === undefined) continue;
    out += out.length === 1 ? quotedKey(key) + v : `,${quotedKey(key)}${v}`;
  }
  return `${out}}`;
}

const TIME_KEYS = new Set(['start', 'request_end', 'response_start', 'end']);

/** The record back from its JSON form (for stores that keep JSON, and for API clients). */
export function recordFromJson(j: CallRecordJson): CallRecord {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(j)) {
    if (value === undefined) continue;
    if (TIME_KEYS.has(key)) {
      if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
        throw new MeshtapError(REC_ERR_BAD_RECORD, `record ${key} must be a decimal string, got ${JSON.stringify(value)}`);
      }
      out[key] = BigInt(value);
    } else if (key === 'request' || key === 'response') {
      out[key] = messageFromJson(value as HttpMessageJson);
    } else {
      out[key] = value;
    }
  }
  return out as unknown as CallRecord;
}
