/**
 * Recognising a PostgreSQL client from the first bytes it sends. A PostgreSQL client always
 * speaks first with an untyped packet: Int32 length then Int32 code. Only the four codes the
 * server accepts there count, each with a length it allows, so eight bytes decide: other
 * protocols (HTTP, TLS, Redis, …) never start with a length word followed by one of them.
 */
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, MAX_STARTUP_LENGTH, PROTOCOL_3_0, SSL_REQUEST_CODE } from './messages.ts';

export function detectPostgres(firstBytes: Uint8Array): 'postgres' | 'need-more' | undefined {
  const b = firstBytes;
  if (b.length < 8) {
    // A startup packet is at most 10000 bytes long: its length's two high bytes are zero.
    if (b.length >= 1 && b[0] !== 0) return undefined;
    if (b.length >= 2 && b[1] !== 0) return undefined;
    return 'need-more';
  }
  const length = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  const code = ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0;
  return startupPacketKnown(length, code) ? 'postgres' : undefined;
}

/** Whether an untyped packet of `length` bytes opening with `code` is one a server accepts first. */
export function startupPacketKnown(length: number, code: number): boolean {
  if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) return length === 8;
  if (code === CANCEL_REQUEST_CODE) return length === 16;
  // StartupMessage 3.x: at least "user\0x\0\0" after the code (the user parameter is required).
  return code >>> 16 === PROTOCOL_3_0 >>> 16 && (code & 0xffff) < 0x100 && length >= 8 + 8 && length <= MAX_STARTUP_LENGTH;
}
