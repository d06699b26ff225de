/**
 * Resource record data rendered for people: addresses, names, MX, SRV, SOA and TXT fields by
 * name; anything else (or anything malformed) as hex, so rendering never fails and never
 * hides bytes. Names inside rdata may be compressed, so they are read against the whole message.
 */
import { readName } from './names.ts';
import { TYPE } from './types.ts';

export type RData = string | readonly string[] | Readonly<Record<string, string | number | boolean>>;

function hex(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('hex');
}

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/** RFC 5952 text: lower-case, leading zeros dropped, the longest run of two or more zero groups as `::`. */
export function ipv6Text(bytes: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(u16(bytes, at + i * 2));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const text = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return text(0, 8);
  return `${text(0, bestStart)}::${text(bestStart + bestLen, 8)}`;
}

/** TXT and other character-strings: printable ASCII as is, other bytes as `\DDD`, like dig. */
function characterString(bytes: Uint8Array, start: number, length: number): string {
  let out = '';
  for (let i = start; i < start + length; i++) {
    const b = bytes[i];
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${String(b).padStart(3, '0')}`;
  }
  return out;
}

/** A name that must end exactly at `end` (the rdata's bounds), or undefined. */
function nameWithin(bytes: Uint8Array, at: number, end: number): { name: string; next: number } | undefined {
  const r = readName(bytes, at);
  return r.ok && r.next <= end ? { name: r.name, next: r.next } : undefined;
}

/**
 * The record's data between `start` and `end` (already checked to lie inside `bytes`).
 * Malformed data of a known type falls back to hex.
 */
export function renderRData(bytes: Uint8Array, type: number, start: number, end: number): RData {
  const len = end - start;
  switch (type) {
    case TYPE.A:
      if (len === 4) return `${bytes[start]}.${bytes[start + 1]}.${bytes[start + 2]}.${bytes[start + 3]}`;
      break;
    case TYPE.AAAA:
      if (len === 16) return ipv6Text(bytes, start);
      break;
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
    case TYPE.DNAME: {
      const n = nameWithin(bytes, start, end);
      if (n && n.next === end) return n.name;
      break;
    }
    case TYPE.MX: {
      if (len < 3) break;
      const n = nameWithin(bytes, start + 2, end);
      if (n && n.next === end) return { preference: u16(bytes, start), exchange: n.name };
      break;
    }
    case TYPE.SRV: {
      if (len < 7) break;
      const n = nameWithin(bytes, start + 6, end);
      if (n && n.next === end) return { priority: u16(bytes, start), weight: u16(bytes, start + 2), port: u16(bytes, start + 4), target: n.name };
      break;
    }
    case TYPE.SOA: {
      const m = nameWithin(bytes, start, end);
      const r = m && nameWithin(bytes, m.next, end);
      if (!m || !r || end - r.next !== 20) break;
      const at = r.next;
      return {
        mname: m.name,
        rname: r.name,
        serial: u32(bytes, at),
        refresh: u32(bytes, at + 4),
        retry: u32(bytes, at + 8),
        expire: u32(bytes, at + 12),
        minimum: u32(bytes, at + 16),
      };
    }
    case TYPE.TXT: {
      const strings: string[] = [];
      let pos = start;
      while (pos < end && pos + 1 + bytes[pos] <= end) {
        strings.push(characterString(bytes, pos + 1, bytes[pos]));
        pos += 1 + bytes[pos];
      }
      if (pos === end && strings.length > 0) return strings;
      break;
    }
    case TYPE.SVCB:
    case TYPE.HTTPS: {
      if (len < 3) break;
      // Names in SVCB are never compressed (RFC 9460 §2.2); a pointer here is malformed.
      const n = nameWithin(bytes, start + 2, end);
      if (n && n.next > start + 2) return { priority: u16(bytes, start), target: n.name === '' ? '.' : n.name, params: hex(bytes, n.next, end) };
      break;
    }
    default:
      break;
  }
  return hex(bytes, start, end);
}
