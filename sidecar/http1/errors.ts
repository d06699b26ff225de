/**
 * Stable codes for what the HTTP/1 capture can report. Parse failures are values handed to the
 * session (the bytes are still forwarded); only broken internal invariants are thrown, and the
 * session turns those into parse errors at its boundary.
 */
import { defineErrors, type MeshtapError } from '../../lib/errors.ts';

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

const forwarded =
  'Nothing breaks: the bytes are forwarded unchanged and only capture of that connection stops (the record carries the code in `error_detail`). If a real client or server sends this, report it with the bytes.';

export const http1Errors = defineErrors(
  { component: 'sidecar', title: 'the HTTP/1 capture (parse errors are record values, never thrown)', prefix: 'SC_ERR_' },
  {
    [HTTP1_ERR.START_LINE]: { summary: 'A request or status line is malformed (bad method, target, version or status).', action: forwarded },
    [HTTP1_ERR.HEADER]: { summary: 'A header line is malformed (space before the colon, bare CR, control characters).', action: forwarded },
    [HTTP1_ERR.HEAD_TOO_LARGE]: { summary: 'A head or trailer section is larger than the limit (64 KiB unless configured).', action: forwarded },
    [HTTP1_ERR.CONTENT_LENGTH]: { summary: 'Content-Length values differ or are not digits.', action: forwarded },
    [HTTP1_ERR.TRANSFER_ENCODING]: { summary: 'A request\'s Transfer-Encoding does not end with `chunked`.', action: forwarded },
    [HTTP1_ERR.CHUNK_SIZE]: { summary: 'A chunk size line is not hex, too long or has too many digits.', action: forwarded },
    [HTTP1_ERR.CHUNK_FRAMING]: { summary: 'Chunk data does not end where its size says.', action: forwarded },
    [HTTP1_ERR.UPGRADE_OVERFLOW]: { summary: 'The client sent more than the held-bytes limit while waiting for the answer to an upgrade request.', action: forwarded },
    [HTTP1_ERR.STATE]: {
      summary: 'An illegal state transition in the capture code: a bug, never the peer\'s fault.',
      action: 'The connection is still forwarded; report it with the record\'s `error_detail`.',
    },
  },
);

export type Http1ErrorCode = (typeof HTTP1_ERR)[keyof typeof HTTP1_ERR];

/** A parse failure as a value: the connection is still forwarded, capture stops. */
export interface Http1ParseError {
  code: Http1ErrorCode;
  message: string;
  /**
   * Set when a response does not even start like HTTP/1 (a `START_LINE` error at a byte that
   * differs from `HTTP/1.`): the server speaks another protocol, which the session reports
   * differently from a broken HTTP/1 server. The parser stopped before that byte; `before` holds
   * the message's bytes ahead of it (a prefix of `HTTP/1.`, usually none), so together with the
   * rest of the chunk the caller has every byte the server sent from there.
   */
  notHttp1?: { before: Uint8Array };
}

/** An illegal state transition: a bug in the capture code, never the peer's fault. */
export function stateError(message: string): MeshtapError {
  return http1Errors.create(HTTP1_ERR.STATE, message);
}
