/**
 * The Loki line of a call record: the record in the collector's JSON form (`../record-json.ts`,
 * the same the HTTP API serves: ns times as decimal strings, bodies as `{"text": ...}` or
 * `{"base64": ...}`), cut to fit Loki's line limit.
 */
import { Buffer } from 'node:buffer';
import type { CallRecord } from '../../record/record.ts';
import { recordJsonString, recordToJson } from '../../record/record-json.ts';

/** Loki's default `max_line_size` is 256KB, which Loki reads as 256 000 bytes. */
export const DEFAULT_MAX_LINE_BYTES = 256_000;

export interface LokiLine {
  line: string;
  /** UTF-8 length of `line`. */
  bytes: number;
  /** True when something was cut or dropped to fit; the line then carries `"truncated_for_loki":true`. */
  truncated: boolean;
}

/** Bytes a string takes inside a JSON document (quotes excluded), as JSON.stringify escapes it. */
function jsonEscapedLength(code: number): number {
  if (code === 0x22 || code === 0x5c) return 2;
  if (code < 0x20) return code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d ? 2 : 6;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code < 0x10000) return 3;
  return 4;
}

/** The longest prefix of `text` (whole code points) whose JSON-escaped form fits in `budget` bytes. */
function cutText(text: string, budget: number): string {
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const code = text.codePointAt(i)!;
    const cost = jsonEscapedLength(code);
    if (used + cost > budget) break;
    used += cost;
    i += code > 0xffff ? 2 : 1;
  }
  return text.slice(0, i);
}

function escapedSize(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

interface BodySlot {
  /** The `{text}` or `{base64}` object of one message. */
  body: Record<string, string>;
  key: 'text' | 'base64';
  text: string;
  cost: number;
}

function bodySlots(json: Record<string, unknown>): BodySlot[] {
  const slots: BodySlot[] = [];
  for (const side of ['request', 'response']) {
    const message = json[side] as { body?: Record<string, string> } | undefined;
    if (!message?.body) continue;
    // A copy, so cutting never touches the JSON form shared with other outputs.
    const key = 'base64' in message.body ? 'base64' : 'text';
    const text = message.body[key] ?? '';
    message.body = { [key]: text };
    slots.push({ body: message.body, key, text, cost: escapedSize(text) });
  }
  return slots;
}

function fitBody(slot: BodySlot, budget: number): string {
  if (slot.cost <= budget) return slot.text;
  if (slot.key === 'base64') {
    // Whole 4-character groups keep the prefix valid base64 of a prefix of the bytes.
    return slot.text.slice(0, Math.floor(Math.max(0, budget) / 4) * 4);
  }
  return cutText(slot.text, Math.max(0, budget));
}

const cap = (s: unknown, n: number): unknown => (typeof s === 'string' && s.length > n ? s.slice(0, n) : s);

/** The fields that say what the call was, each bounded, for records too big even without bodies. */
function skeleton(json: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const scalars = [
    'id', 'protocol', 'observer', 'connection_id', 'ordinal', 'start', 'request_end', 'response_start', 'end', 'elapsed_us',
    'method', 'path', 'authority', 'status_code', 'grpc_status', 'bytes_in', 'bytes_out', 'error', 'error_detail', 'close_reason',
    'trace_id', 'span_id', 'parent_span_id',
  ];
  for (const key of scalars) {
    if (json[key] !== undefined) out[key] = cap(json[key], key === 'path' ? 1024 : 256);
  }
  for (const side of ['src', 'dst']) {
    const ep = json[side] as Record<string, unknown> | undefined;
    if (!ep) continue;
    const small: Record<string, unknown> = {};
    for (const key of ['ip', 'port', 'namespace', 'workload', 'pod', 'service']) {
      if (ep[key] !== undefined) small[key] = cap(ep[key], 256);
    }
    out[side] = small;
  }
  for (const key of ['redacted', 'sensitive']) {
    const list = json[key];
    if (Array.isArray(list)) out[key] = list.slice(0, 32).map((v) => cap(v, 128));
  }
  out.truncated_for_loki = true;
  return out;
}

/**
 * The record's Loki line, at most `maxLineBytes` UTF-8 bytes and always valid JSON.
 * Over the limit, bodies are cut first (shared fairly between request and response); if the
 * rest alone is still too big, headers, trailers and endpoint labels go; then only a bounded
 * skeleton of the record is kept.
 */
export function buildLokiLine(record: CallRecord, maxLineBytes: number = DEFAULT_MAX_LINE_BYTES): LokiLine {
  const full = recordJsonString(record);
  const fullBytes = Buffer.byteLength(full);
  if (fullBytes <= maxLineBytes) return { line: full, bytes: fullBytes, truncated: false };

  const json: Record<string, unknown> = { ...recordToJson(record) };

  json.truncated_for_loki = true;
  for (const side of ['request', 'response']) {
    if (json[side]) json[side] = { ...(json[side] as object) };
  }
  const slots = bodySlots(json);
  for (const slot of slots) slot.body[slot.key] = '';
  let rest = JSON.stringify(json);
  let restBytes = Buffer.byteLength(rest);

  if (restBytes > maxLineBytes) {
    for (const key of ['request', 'response']) {
      const message = json[key] as Record<string, unknown> | undefined;
      if (!message) continue;
      if (message.headers !== undefined) message.headers = {};
      if (message.trailers !== undefined) message.trailers = {};
    }
    for (const side of ['src', 'dst']) {
      const ep = json[side] as Record<string, unknown> | undefined;
      if (ep?.labels !== undefined) {
        const { labels: _labels, ...rest } = ep;
        json[side] = rest;
      }
    }
    rest = JSON.stringify(json);
    restBytes = Buffer.byteLength(rest);
  }

  if (restBytes <= maxLineBytes) {
    // Share what is left between the bodies: the smaller one gets up to half, the other the rest.
    let available = maxLineBytes - restBytes;
    const ordered = [...slots].sort((a, b) => a.cost - b.cost);
    ordered.forEach((slot, index) => {
      const share = index === ordered.length - 1 ? available : Math.floor(available / (ordered.length - index));
      const kept = fitBody(slot, share);
      slot.body[slot.key] = kept;
      available -= escapedSize(kept);
    });
    const line = JSON.stringify(json);
    const bytes = Buffer.byteLength(line);
    if (bytes <= maxLineBytes) return { line, bytes, truncated: true };
    // Unreachable when the arithmetic above is right; the empty-body form is known to fit.
    for (const slot of slots) slot.body[slot.key] = '';
    const fallback = JSON.stringify(json);
    return { line: fallback, bytes: Buffer.byteLength(fallback), truncated: true };
  }

  const small = JSON.stringify(skeleton(json));
  const smallBytes = Buffer.byteLength(small);
  if (smallBytes <= maxLineBytes) return { line: small, bytes: smallBytes, truncated: true };
  const minimal = JSON.stringify({ id: cap(json.id, 64), truncated_for_loki: true });
  return { line: minimal, bytes: Buffer.byteLength(minimal), truncated: true };
}
