/**
 * What a server sent where an HTTP/1 status line was expected, when it does not even start like
 * one: another protocol answered — an HTTP/2-only server (gRPC, prior knowledge), a TLS port
 * given plaintext, a banner. The session counts every such byte for the record's `bytes_in` and
 * keeps the first few, from which the record's detail says in plain words what answered, so the
 * reader of a failed call does not have to decode the bytes to see that the client used the wrong
 * protocol.
 *
 * The description is made from the bytes only, never from how they were cut into chunks: the
 * same at every cut, and on both sidecars of a call whichever side's bytes they saw first.
 */
import { serverControlFrame } from '../http2/server-frame.ts';

/** Enough for an HTTP/2 frame header or a TLS record header, and a readable excerpt. */
const SAMPLE_BYTES = 32;
/** Bytes shown in hex in a detail. */
const HEX_BYTES = 16;

export class ForeignAnswer {
  /** Every byte the server sent from the start of the foreign answer, seen or skipped. */
  bytes = 0;
  private readonly sample = Buffer.alloc(SAMPLE_BYTES);
  private sampled = 0;
  /** Bytes passed unseen: what follows is counted but no longer continues the sample. */
  private gap = false;

  add(data: Uint8Array): void {
    this.bytes += data.byteLength;
    if (this.gap || this.sampled === SAMPLE_BYTES) return;
    const n = Math.min(data.byteLength, SAMPLE_BYTES - this.sampled);
    this.sample.set(data.subarray(0, n), this.sampled);
    this.sampled += n;
  }

  /** `n` bytes passed unseen (capture fell behind): counted only. */
  skipped(n: number): void {
    this.bytes += n;
    this.gap = true;
  }

  /** The record's detail (without the error code). */
  describe(): string {
    return describeForeignAnswer(this.sample.subarray(0, this.sampled), this.bytes);
  }
}

/** A TLS record header (type, version 3.x, a length TLS allows), named by its content type. */
function tlsRecordName(b: Uint8Array): string | undefined {
  if (b.length < 5 || b[1] !== 0x03 || b[2] > 0x04 || ((b[3] << 8) | b[4]) > 18432) return undefined;
  return b[0] === 0x15 ? 'alert' : b[0] === 0x16 ? 'handshake' : undefined;
}

/** Printable ASCII and line ends only: worth showing as text too. */
const PRINTABLE = /^[\x20-\x7e\r\n\t]+$/;

/**
 * Plain words for a foreign answer: `first` is its first bytes (as many as were seen), `total`
 * how many it had in all.
 */
export function describeForeignAnswer(first: Uint8Array, total = first.byteLength): string {
  const expected = 'where an HTTP/1 status line was expected';
  const frame = serverControlFrame(first);
  if (frame !== undefined) {
    return `the server answered in HTTP/2: an HTTP/2 ${frame} frame came ${expected} (the port takes HTTP/2 only, as gRPC servers do, and cannot answer an HTTP/1.1 request)`;
  }
  const record = tlsRecordName(first);
  if (record !== undefined) {
    return `the server answered with TLS: a TLS ${record} record came ${expected} (the port takes TLS; the request was sent in plaintext)`;
  }
  const buf = Buffer.from(first.buffer, first.byteOffset, first.byteLength);
  const hex = [...buf.subarray(0, HEX_BYTES)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  const more = total > HEX_BYTES ? ' …' : '';
  const text = buf.length > 0 && PRINTABLE.test(buf.toString('latin1')) ? ` ${JSON.stringify(buf.toString('latin1'))}${total > buf.length ? '…' : ''}` : '';
  return `the server's answer is not HTTP/1: no status line came where one was expected (first bytes: ${hex}${more}${text})`;
}
