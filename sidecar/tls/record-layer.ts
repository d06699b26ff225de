/**
 * The TLS record layer as far as a passive observer needs it before encryption starts:
 * walk records from the start of one direction and reassemble the plaintext handshake
 * stream (a handshake message may span records; a record may hold several messages).
 * Every read is bounds-checked; nothing here throws on any input.
 */

export const RECORD_CHANGE_CIPHER_SPEC = 20;
export const RECORD_ALERT = 21;
export const RECORD_HANDSHAKE = 22;
export const RECORD_APPLICATION_DATA = 23;
export const RECORD_HEARTBEAT = 24;

export const RECORD_HEADER_LEN = 5;
/** 2^14 plaintext plus the largest expansion TLS 1.2 allows (RFC 5246 §6.2.3). */
export const MAX_RECORD_LEN = 16384 + 2048;
/** Larger hellos exist in theory; in practice even post-quantum key shares stay far below. */
export const MAX_HELLO_LEN = 64 * 1024;

export type ParseFailure = { ok: false; reason: 'need-more' | 'not-tls' | 'malformed'; detail?: string };

export const needMore = (detail?: string): ParseFailure =>
  detail === undefined ? { ok: false, reason: 'need-more' } : { ok: false, reason: 'need-more', detail };
export const malformed = (detail: string): ParseFailure => ({ ok: false, reason: 'malformed', detail });
export const notTls = (detail: string): ParseFailure => ({ ok: false, reason: 'not-tls', detail });

export interface RecordHeader {
  type: number;
  version: number;
  length: number;
}

/** A record header is plausible when its type is a known content type and its version is 3.x. */
export function checkRecordHeader(b: Uint8Array, at: number): RecordHeader | string {
  const type = b[at];
  const major = b[at + 1];
  const length = (b[at + 3] << 8) | b[at + 4];
  if (type < RECORD_CHANGE_CIPHER_SPEC || type > RECORD_HEARTBEAT) return `record type ${type} is not a TLS content type`;
  if (major !== 3) return `record version ${major}.${b[at + 2]} is not TLS`;
  if (length > MAX_RECORD_LEN) return `record length ${length} exceeds ${MAX_RECORD_LEN}`;
  return { type, version: (major << 8) | b[at + 2], length };
}

/** A cursor over a byte range; every read returns undefined instead of reading past the end. */
export class Reader {
  readonly b: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(b: Uint8Array, start = 0, end = b.length) {
    this.b = b;
    this.pos = start;
    this.end = Math.min(end, b.length);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number | undefined {
    if (this.remaining < 1) return undefined;
    return this.b[this.pos++];
  }

  u16(): number | undefined {
    if (this.remaining < 2) return undefined;
    const v = (this.b[this.pos] << 8) | this.b[this.pos + 1];
    this.pos += 2;
    return v;
  }

  bytes(n: number): Uint8Array | undefined {
    if (n < 0 || this.remaining < n) return undefined;
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A sub-reader over the next `n` bytes (a length-prefixed vector's body). */
  sub(n: number): Reader | undefined {
    if (n < 0 || this.remaining < n) return undefined;
    const r = new Reader(this.b, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  skip(n: number): boolean {
    if (n < 0 || this.remaining < n) return false;
    this.pos += n;
    return true;
  }
}

/** One handshake message found in the reassembled stream. */
export interface HandshakeMessage {
  type: number;
  body: Uint8Array;
}

/** What `readPlaintextFlight` saw, in order, up to where it stopped. */
export type FlightItem =
  | { kind: 'handshake'; message: HandshakeMessage }
  | { kind: 'alert'; level: number; description: number }
  | { kind: 'change-cipher-spec' }
  | { kind: 'encrypted'; type: number };

/**
 * Walks the records at the start of one direction and yields, in order, the complete
 * handshake messages, plaintext alerts and ChangeCipherSpecs, stopping at the first record it
 * cannot read in clear. `complete` is false when the bytes end inside a record or message.
 * `error` describes a structural problem; items before it are still valid.
 */
export function readPlaintextFlight(bytes: Uint8Array): { items: FlightItem[]; complete: boolean; error?: string } {
  const items: FlightItem[] = [];
  const hs: Uint8Array[] = [];
  let hsLen = 0;
  let at = 0;
  const pendingHandshake = (): Uint8Array => (hs.length === 1 ? hs[0] : Buffer.concat(hs, hsLen));
  // Pull every complete message out of the reassembly buffer.
  const drain = (): string | undefined => {
    for (;;) {
      if (hsLen < 4) return undefined;
      const buf = pendingHandshake();
      const len = (buf[1] << 16) | (buf[2] << 8) | buf[3];
      if (len > MAX_HELLO_LEN) return `handshake message length ${len} exceeds ${MAX_HELLO_LEN}`;
      if (hsLen < 4 + len) {
        hs.length = 0;
        hs.push(buf);
        return undefined;
      }
      items.push({ kind: 'handshake', message: { type: buf[0], body: buf.subarray(4, 4 + len) } });
      const rest = buf.subarray(4 + len);
      hs.length = 0;
      hsLen = rest.length;
      if (hsLen > 0) hs.push(rest);
    }
  };
  while (at < bytes.length) {
    if (bytes.length - at < RECORD_HEADER_LEN) return { items, complete: false };
    const h = checkRecordHeader(bytes, at);
    if (typeof h === 'string') return { items, complete: false, error: h };
    if (h.type !== RECORD_HANDSHAKE && hsLen > 0) {
      return { items, complete: false, error: `record type ${h.type} inside a fragmented handshake message` };
    }
    if (bytes.length - at - RECORD_HEADER_LEN < h.length) return { items, complete: false };
    const fragment = bytes.subarray(at + RECORD_HEADER_LEN, at + RECORD_HEADER_LEN + h.length);
    at += RECORD_HEADER_LEN + h.length;
    if (h.type === RECORD_HANDSHAKE) {
      if (h.length === 0) return { items, complete: false, error: 'empty handshake record' };
      hs.push(fragment);
      hsLen += fragment.length;
      const err = drain();
      if (err !== undefined) return { items, complete: false, error: err };
    } else if (h.type === RECORD_ALERT) {
      // A plaintext alert is exactly two bytes; anything else is an encrypted one.
      if (h.length !== 2) {
        items.push({ kind: 'encrypted', type: h.type });
        return { items, complete: true };
      }
      items.push({ kind: 'alert', level: fragment[0], description: fragment[1] });
    } else if (h.type === RECORD_CHANGE_CIPHER_SPEC) {
      items.push({ kind: 'change-cipher-spec' });
    } else {
      items.push({ kind: 'encrypted', type: h.type });
      return { items, complete: true };
    }
  }
  return { items, complete: hsLen === 0 };
}

/** Bytes as text for names (SNI, ALPN) without ever failing on odd bytes. */
export function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}
