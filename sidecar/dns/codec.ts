/**
 * The DNS message decoder (RFC 1035 §4.1, EDNS per RFC 6891): header, questions and resource
 * records, with names through `names.ts` and readable data through `rdata.ts`.
 *
 * Decoding only: forwarding never depends on it (the sidecar relays the bytes it received),
 * so nothing needs to be encoded. Every read is bounds-checked; any message, however hostile,
 * gives a value — a decoded message or the reason it is malformed — and never throws. The work
 * is linear in the message size: counts are trusted only as far as the bytes go.
 */
import { readName } from './names.ts';
import { renderRData, type RData } from './rdata.ts';
import { TYPE } from './types.ts';

export const HEADER_BYTES = 12;

export interface DnsFlags {
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly z: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
}

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface DnsRecord {
  readonly name: string;
  readonly type: number;
  /** For OPT, the requester's UDP payload size. */
  readonly class: number;
  /** For OPT, the extended rcode, version and flags (RFC 6891 §6.1.3). */
  readonly ttl: number;
  readonly data: RData;
}

export interface DnsMessage {
  readonly id: number;
  readonly flags: DnsFlags;
  /** The header's 4-bit rcode, extended by an OPT record's upper 8 bits when there is one. */
  readonly rcode: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authority: readonly DnsRecord[];
  readonly additional: readonly DnsRecord[];
}

export type DecodeResult = { readonly ok: true; readonly message: DnsMessage } | { readonly ok: false; readonly error: string };

/** The transaction id, readable from any message of two bytes or more (pairing needs nothing else). */
export function messageId(bytes: Uint8Array): number | undefined {
  return bytes.length >= 2 ? (bytes[0] << 8) | bytes[1] : undefined;
}

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

export function decodeFlags(word: number): DnsFlags {
  return {
    qr: (word & 0x8000) !== 0,
    opcode: (word >> 11) & 0xf,
    aa: (word & 0x0400) !== 0,
    tc: (word & 0x0200) !== 0,
    rd: (word & 0x0100) !== 0,
    ra: (word & 0x0080) !== 0,
    z: (word & 0x0040) !== 0,
    ad: (word & 0x0020) !== 0,
    cd: (word & 0x0010) !== 0,
  };
}

class Malformed {
  readonly error: string;
  constructor(error: string) {
    this.error = error;
  }
}

function readQuestion(bytes: Uint8Array, pos: number, index: number): { question: DnsQuestion; next: number } | Malformed {
  const name = readName(bytes, pos);
  if (!name.ok) return new Malformed(`question ${index}: ${name.error}`);
  if (name.next + 4 > bytes.length) return new Malformed(`question ${index}: type and class cut short`);
  return { question: { name: name.name, type: u16(bytes, name.next), class: u16(bytes, name.next + 2) }, next: name.next + 4 };
}

function readRecord(bytes: Uint8Array, pos: number, where: string): { record: DnsRecord; next: number } | Malformed {
  const name = readName(bytes, pos);
  if (!name.ok) return new Malformed(`${where}: ${name.error}`);
  const at = name.next;
  if (at + 10 > bytes.length) return new Malformed(`${where}: fixed fields cut short`);
  const type = u16(bytes, at);
  const rdlength = u16(bytes, at + 8);
  const start = at + 10;
  if (start + rdlength > bytes.length) return new Malformed(`${where}: data of ${rdlength} bytes runs past the end of the message`);
  return {
    record: { name: name.name, type, class: u16(bytes, at + 2), ttl: u32(bytes, at + 4), data: renderRData(bytes, type, start, start + rdlength) },
    next: start + rdlength,
  };
}

function readSection(bytes: Uint8Array, pos: number, count: number, section: string, out: DnsRecord[]): number | Malformed {
  for (let i = 0; i < count; i++) {
    const r = readRecord(bytes, pos, `${section} ${i}`);
    if (r instanceof Malformed) return r;
    out.push(r.record);
    pos = r.next;
  }
  return pos;
}

/**
 * Decodes one message. Bytes after the last record are tolerated (some servers pad), a count
 * that promises more than the bytes hold is malformed.
 */
export function decodeMessage(bytes: Uint8Array): DecodeResult {
  if (bytes.length < HEADER_BYTES) return { ok: false, error: `${bytes.length} bytes is shorter than the 12-byte header` };
  const flags = decodeFlags(u16(bytes, 2));
  const counts = [u16(bytes, 4), u16(bytes, 6), u16(bytes, 8), u16(bytes, 10)];
  const questions: DnsQuestion[] = [];
  let pos = HEADER_BYTES;
  for (let i = 0; i < counts[0]; i++) {
    const q = readQuestion(bytes, pos, i);
    if (q instanceof Malformed) return { ok: false, error: q.error };
    questions.push(q.question);
    pos = q.next;
  }
  const sections: DnsRecord[][] = [[], [], []];
  const names = ['answer', 'authority', 'additional'];
  for (let s = 0; s < 3; s++) {
    const next = readSection(bytes, pos, counts[s + 1], names[s], sections[s]);
    if (next instanceof Malformed) return { ok: false, error: next.error };
    pos = next;
  }
  let rcode = u16(bytes, 2) & 0xf;
  const opt = sections[2].find((r) => r.type === TYPE.OPT);
  if (opt) rcode |= (opt.ttl >>> 24) << 4;
  return { ok: true, message: { id: u16(bytes, 0), flags, rcode, questions, answers: sections[0], authority: sections[1], additional: sections[2] } };
}
