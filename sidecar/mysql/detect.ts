/**
 * Recognising a MySQL/MariaDB server from the first bytes it sends. The server speaks first
 * with the Initial Handshake (protocol 10): a packet with sequence id 0 whose payload starts
 * 0x0a, a NUL-terminated printable server version, a 4-byte connection id, 8 bytes of scramble
 * and a 0x00 filler. Banners of other server-first protocols (SMTP `220 …`, SSH `SSH-2.0-…`,
 * FTP, POP3, IMAP) are text: read as a packet header, their sequence byte is never 0.
 */

/** A greeting is never this long; a longer length means the bytes are not a greeting. */
const MAX_GREETING = 16 * 1024;
/** 0x0a, version ≥ 1 char + NUL, connection id, scramble part 1, filler. */
const MIN_GREETING = 1 + 2 + 4 + 8 + 1;
const MAX_VERSION = 128;

export function detectMysqlGreeting(serverFirstBytes: Uint8Array): 'mysql' | 'need-more' | undefined {
  const b = serverFirstBytes;
  if (b.length >= 3) {
    const len = b[0] | (b[1] << 8) | (b[2] << 16);
    if (len < MIN_GREETING || len > MAX_GREETING) return undefined;
  } else if (b.length >= 2 && b[1] > MAX_GREETING >> 8) return undefined;
  if (b.length >= 3 && b[2] !== 0) return undefined;
  if (b.length >= 4 && b[3] !== 0) return undefined;
  if (b.length >= 5 && b[4] !== 0x0a) return undefined;
  if (b.length < 6) return 'need-more';
  const len = b[0] | (b[1] << 8) | (b[2] << 16);
  // The version string: printable ASCII up to its NUL, inside the packet.
  let i = 5;
  while (i < b.length && b[i] !== 0) {
    if (b[i] < 0x20 || b[i] > 0x7e || i - 5 >= MAX_VERSION || i - 4 >= len) return undefined;
    i++;
  }
  if (i >= b.length) return 'need-more';
  if (i === 5) return undefined;
  // NUL, connection id (4), scramble part 1 (8), then the 0x00 filler.
  const filler = i + 1 + 4 + 8;
  if (filler - 4 >= len) return undefined;
  if (filler >= b.length) return 'need-more';
  return b[filler] === 0 ? 'mysql' : undefined;
}
