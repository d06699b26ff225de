/**
 * Readable text for Redis commands and replies. Records carry text rather than RESP because
 * people read them next to HTTP bodies: commands as a `redis-cli` line, replies the way
 * `redis-cli` prints them (`(integer) 3`, `(nil)`, numbered lines for arrays), so someone who
 * knows Redis reads them without learning a format. Binary-safe: bytes that are not printable
 * ASCII are escaped, never decoded lossily, and what was cut says its true size.
 */
import type { RespKind, RespValue } from './resp-reader.ts';

/** One command argument: the bytes kept (a prefix when cut) and its true size. */
export interface CommandArg {
  data: Buffer;
  size: number;
  skipped?: number;
}

export const MASK = '****';
const ELLIPSIS = '\u2026';

const SIMPLE_ESCAPES: Record<number, string> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x07: '\\a', 0x08: '\\b', 0x22: '\\"', 0x5c: '\\\\' };

/**
 * Double-quoted, with `redis-cli` escapes (`\n`, `\"`, `\x00`, ...); at most about `limit`
 * characters of content (`cut` when bytes were left out).
 */
export function quoteLimited(data: Uint8Array, limit = Infinity): { text: string; cut: boolean } {
  const parts: string[] = [];
  let used = 0;
  let i = 0;
  for (; i < data.length; i++) {
    const b = data[i];
    const e = SIMPLE_ESCAPES[b] ?? (b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`);
    if (used + e.length > limit) break;
    parts.push(e);
    used += e.length;
  }
  return { text: `"${parts.join('')}"`, cut: i < data.length };
}

export function quoteBytes(data: Uint8Array): string {
  return quoteLimited(data).text;
}

/** Printable ASCII kept, anything else as `\xHH` (for methods and keys, shown unquoted). */
export function plainText(data: Uint8Array): string {
  let out = '';
  for (const b of data) {
    if (b >= 0x20 && b <= 0x7e && b !== 0x5c) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function needsQuotes(data: Uint8Array): boolean {
  if (data.length === 0) return true;
  for (const b of data) if (b <= 0x20 || b >= 0x7f || b === 0x22 || b === 0x27 || b === 0x5c) return true;
  return false;
}

/** `… [N bytes]` after a value that was cut, with the bytes that passed unseen. */
function cutNote(kept: number, size: number, skipped: number | undefined): string {
  if (kept >= size && !skipped) return '';
  const missed = skipped ? `, ${skipped} not captured` : '';
  return `${ELLIPSIS} [${size} bytes${missed}]`;
}

/** Room kept for the `… [N bytes]` note when a value is cut to fit the body limit. */
const NOTE_ROOM = 48;

export function renderArg(arg: CommandArg, limit = Infinity): string {
  const cut = arg.data.length < arg.size || (arg.skipped ?? 0) > 0;
  if (!cut && !needsQuotes(arg.data) && arg.data.length <= limit) return arg.data.toString('latin1');
  const q = quoteLimited(arg.data, limit);
  return q.text + cutNote(q.cut ? 0 : arg.data.length, arg.size, arg.skipped);
}

/**
 * Arguments joined by single spaces; masked positions shown as `****`. With a byte budget,
 * long values are cut so that their `… [N bytes]` note still fits.
 */
export function renderCommand(args: readonly CommandArg[], masked: ReadonlySet<number> = new Set(), budget = Infinity): string {
  const parts: string[] = [];
  let left = budget;
  for (let i = 0; i < args.length; i++) {
    if (left <= NOTE_ROOM && i > 0) {
      parts.push(`${ELLIPSIS} [${args.length - i} more arguments]`);
      break;
    }
    const text = masked.has(i) ? MASK : renderArg(args[i], Math.max(8, left - NOTE_ROOM));
    parts.push(text);
    left -= text.length + 1;
  }
  return parts.join(' ');
}

/** The `reply-type` a record shows for a value. */
export function replyType(v: RespValue): string {
  const names: Record<RespKind, string> = {
    simple: 'simple',
    error: 'error',
    blob_error: 'error',
    integer: 'integer',
    bulk: 'bulk',
    null: 'null',
    array: 'array',
    map: 'map',
    set: 'set',
    double: 'double',
    boolean: 'boolean',
    bignum: 'bignum',
    verbatim: 'verbatim',
    push: 'push',
    attribute: 'map',
  };
  return names[v.kind];
}

/** Text of an error reply (simple or blob), for `error_detail`. */
export function errorText(v: RespValue): string | undefined {
  if (v.kind === 'error') return v.text ?? '';
  if (v.kind === 'blob_error') return (v.data ?? Buffer.alloc(0)).toString('utf8');
  return undefined;
}

function lineText(v: RespValue): string {
  const text = v.text ?? '';
  return v.size !== undefined ? text + cutNote(0, v.size, undefined) : text;
}

/** What is left of the text budget while a reply is rendered. */
interface Budget {
  left: number;
}

function stringText(v: RespValue, budget: Budget): string {
  const data = v.data ?? Buffer.alloc(0);
  const q = quoteLimited(data, Math.max(8, budget.left - NOTE_ROOM));
  return q.text + cutNote(q.cut ? 0 : data.length, v.size ?? data.length, v.skipped);
}

const EMPTY: Partial<Record<RespKind, string>> = { array: '(empty array)', push: '(empty array)', set: '(empty set)', map: '(empty hash)', attribute: '(empty hash)' };

function replyLines(v: RespValue, budget: Budget): string[] {
  if (v.items !== undefined) return aggregateLines(v, budget);
  const lines = leafLines(v, budget);
  for (const line of lines) budget.left -= line.length + 1;
  return lines;
}

function leafLines(v: RespValue, budget: Budget): string[] {
  switch (v.kind) {
    case 'simple':
      return [lineText(v)];
    case 'error':
      return [`(error) ${lineText(v)}`];
    case 'blob_error':
      return [`(error) ${(v.data ?? Buffer.alloc(0)).toString('utf8')}${cutNote(v.data?.length ?? 0, v.size ?? 0, v.skipped)}`];
    case 'integer':
      return [`(integer) ${lineText(v)}`];
    case 'double':
      return [`(double) ${lineText(v)}`];
    case 'bignum':
      return [`(big number) ${lineText(v)}`];
    case 'boolean':
      return [v.text === 't' ? '(true)' : '(false)'];
    case 'null':
      return ['(nil)'];
    case 'bulk':
      return [stringText(v, budget)];
    case 'verbatim': {
      const data = v.data ?? Buffer.alloc(0);
      const room = Math.max(8, budget.left - NOTE_ROOM);
      const shown = data.length > room ? data.subarray(0, room) : data;
      const lines = shown.toString('utf8').split('\n');
      lines[lines.length - 1] += cutNote(shown.length, v.size ?? data.length, v.skipped);
      return lines;
    }
    case 'array':
    case 'set':
    case 'push':
    case 'map':
    case 'attribute':
      return aggregateLines({ ...v, items: [] }, budget);
  }
}

function aggregateLines(v: RespValue, budget: Budget): string[] {
  const items = v.items ?? [];
  const dropped = v.dropped ?? 0;
  if (items.length === 0 && dropped === 0) return [EMPTY[v.kind] ?? '(empty array)'];
  const out: string[] = [];
  const isMap = v.kind === 'map' || v.kind === 'attribute';
  const entries = isMap ? Math.ceil(items.length / 2) : items.length;
  const width = String(isMap ? (v.count ?? entries) : items.length + dropped).length;
  let e = 0;
  for (; e < entries; e++) {
    if (budget.left <= NOTE_ROOM) break;
    const label = String(e + 1).padStart(width, ' ');
    let head: string;
    let body: string[];
    if (isMap) {
      const key = items[2 * e];
      const value = items[2 * e + 1];
      head = `${label}# ${replyLines(key, budget).join(' ')} => `;
      budget.left -= label.length + 6;
      body = value === undefined ? ['(missing)'] : replyLines(value, budget);
    } else {
      head = `${label}) `;
      budget.left -= label.length + 2;
      body = replyLines(items[e], budget);
    }
    out.push(head + body[0]);
    const pad = ' '.repeat(head.length);
    for (let k = 1; k < body.length; k++) out.push(pad + body[k]);
    // Leaves account for their own text; indentation is paid here.
    budget.left -= pad.length * (body.length - 1) + 1;
  }
  const unshown = entries - e;
  if (unshown > 0) out.push(`${ELLIPSIS} [${unshown} more ${isMap ? 'entries' : 'elements'} not shown]`);
  if (dropped > 0) out.push(`${ELLIPSIS} [${dropped} more ${isMap ? 'keys and values' : 'elements'} not kept]`);
  return out;
}

/**
 * A reply as `redis-cli` prints it (attributes are not shown). With a byte budget, long strings
 * and long aggregates are cut so that their notes still fit.
 */
export function renderReply(v: RespValue, budget = Infinity): string {
  const b: Budget = { left: budget };
  return replyLines(v, b).join('\n');
}

/** `text` as UTF-8 of at most `maxBytes` bytes, never splitting a character. */
export function capText(text: string, maxBytes: number): { body: Buffer; truncated: boolean } {
  const full = Buffer.from(text, 'utf8');
  if (full.length <= maxBytes) return { body: full, truncated: false };
  let end = Math.max(0, maxBytes);
  // Back off over continuation bytes so the cut lands between characters.
  while (end > 0 && (full[end] & 0xc0) === 0x80) end--;
  return { body: full.subarray(0, end), truncated: true };
}

/** Whether any string in the value was cut (kept less than its size or skipped bytes). */
export function valueCut(v: RespValue): boolean {
  if (v.skipped) return true;
  // Line values carry `size` only when their text was cut.
  if (v.size !== undefined && (v.data === undefined || v.data.length < v.size)) return true;
  if (v.dropped) return true;
  return (v.items ?? []).some(valueCut);
}
