/**
 * The first bytes a client sidecar writes inside a fresh mesh connection: its connection id,
 * so both sidecars' records of the call carry the same `connection_id` (record ids stay
 * unique: they end in the observer). One length byte, then the id in ASCII (1-64 bytes of
 * [0-9A-Za-z_-]).
 */

export const MAX_CONNECTION_ID_BYTES = 64;
const ID = /^[0-9A-Za-z_-]{1,64}$/;

export function encodeConnectionIdFrame(id: string): Buffer {
  if (!ID.test(id)) throw new Error(`a connection id must be 1-${MAX_CONNECTION_ID_BYTES} characters of [0-9A-Za-z_-], got ${JSON.stringify(id)}`);
  return Buffer.concat([Buffer.from([id.length]), Buffer.from(id, 'latin1')]);
}

export type FrameResult =
  | { kind: 'need-more' }
  | { kind: 'invalid'; reason: string }
  /** `rest`: application bytes that followed the frame in the same read. */
  | { kind: 'frame'; id: string; rest: Buffer };

export function decodeConnectionIdFrame(bytes: Buffer): FrameResult {
  if (bytes.length === 0) return { kind: 'need-more' };
  const n = bytes[0];
  if (n === 0 || n > MAX_CONNECTION_ID_BYTES) return { kind: 'invalid', reason: `length byte ${n}` };
  if (bytes.length < 1 + n) return { kind: 'need-more' };
  const id = bytes.toString('latin1', 1, 1 + n);
  if (!ID.test(id)) return { kind: 'invalid', reason: 'id characters' };
  return { kind: 'frame', id, rest: bytes.subarray(1 + n) };
}
