import { randomBytes } from 'node:crypto';

/**
 * A random 128-bit certificate serial number as forge wants it (hex). The high bit is cleared
 * so the DER INTEGER stays positive, and the first byte is never zero because a leading zero
 * octet before a byte below 0x80 is a non-minimal encoding that OpenSSL rejects.
 */
export function createSerialNumber(random: (size: number) => Buffer = randomBytes): string {
  const bytes = Buffer.from(random(16));
  bytes[0] = bytes[0] & 0x7f || 0x01;
  return bytes.toString('hex');
}
