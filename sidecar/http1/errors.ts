/**
 * Stable codes for what the HTTP/1 capture can report. Parse failures are values handed to the
 * session (the bytes are still forwarded); only broken internal invariants are thrown, and the
 * session turns those into parse errors at its boundary.
 */
import { MeshtapError } from '../../lib/errors.ts';

export const HTTP1_ERR = {
  START_LINE: 'SC_ERR_HTTP1_START_LINE',
  HEADER: 'SC_ERR_HTTP1_HEADER',
  HEAD_TOO_LARGE: 'SC_ERR_HTTP1_HEAD_TOO_LARGE',
  CONTENT_LENGTH: 'SC_ERR_HTTP1_CONTENT_LENGTH',
  TRANSFER_ENCODING: 'SC_ERR_HTTP1_TRANSFER_ENCODING',
  CHUNK_SIZE: 'SC_ERR_HTTP1_CHUNK_SIZE',
  CHUNK_FRAMING: 'SC_ERR_HTTP1_CHUNK_FRAMING',
  UPGRADE_OVERFLOW: 'SC_ERR_HTTP1_UPGRADE_OVERFLOW',
  STATE: 'SC_ERR_HTTP1_STATE',
} as const;

export type Http1ErrorCode = (typeof HTTP1_ERR)[keyof typeof HTTP1_ERR];

/** A parse failure as a value: the connection is still forwarded, capture stops. */
export interface Http1ParseError {
  code: Http1ErrorCode;
  message: string;
}

/** An illegal state transition: a bug in the capture code, never the peer's fault. */
export function stateError(message: string): MeshtapError {
  return new MeshtapError(HTTP1_ERR.STATE, message);
}
