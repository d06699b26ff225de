/**
 * The frames an HTTP/2 server sends before any stream, recognised from their 9-byte header
 * alone: SETTINGS, its connection preface (RFC 9113 §3.4; no flag but ACK, a whole number of
 * 6-byte settings), and GOAWAY (at least the last stream id and the error code), both on
 * stream 0. Used where bytes must be told apart before anything says the connection is HTTP/2:
 * a server speaking first (capture/detect.ts), an answer to an HTTP/1 request (http1/foreign-answer.ts).
 */
export function serverControlFrame(b: Uint8Array): 'SETTINGS' | 'GOAWAY' | undefined {
  if (b.length < 9) return undefined;
  const length = (b[0] << 16) | (b[1] << 8) | b[2];
  const streamZero = (b[5] & 0x7f) === 0 && b[6] === 0 && b[7] === 0 && b[8] === 0;
  if (!streamZero) return undefined;
  if (b[3] === 0x04 && (b[4] & ~0x01) === 0 && length % 6 === 0) return 'SETTINGS';
  if (b[3] === 0x07 && b[4] === 0 && length >= 8) return 'GOAWAY';
  return undefined;
}
