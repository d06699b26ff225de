/**
 * Whether a body could hold anything the body maskers look for, read from its bytes without
 * decoding them. Each masker needs a byte to start from:
 * - `"key": value` pairs (JSON, and the pair scanner on other text) need a `"`;
 * - JWTs start with `eyJ` (the encoded `{"`);
 * - cards are digits;
 * - e-mails need an `@` (only when the policy detects them);
 * - passwords in URLs need `://` (percent-encoded, `%3A%2F%2F`, it holds digits);
 * - `KEY=VALUE` and `KEY: VALUE` pairs (`text-pairs.ts`) need a `=` or a `:`;
 * - user patterns can match anything, so a policy with patterns always scans.
 * A body with none of these comes back unchanged from every masker; skipping it saves decoding
 * it into a string, garbage that the capture worker's collections pay for (opaque and binary
 * bodies, and the bench's octet-stream body). Every test is a native byte search (a loop over
 * the bytes in JavaScript cost more than the decoding it saves), so a body with any digit at
 * all is scanned. Form bodies (`key=value`) are not covered here: callers send them to the form
 * masker whatever this says.
 */
import { JWT_START as JWT_START_TEXT } from './detectors.ts';
import type { MaskPolicy } from './policy.ts';
import { URL_SEPARATOR as URL_SEPARATOR_TEXT } from './url-credentials.ts';

const QUOTE = 0x22;
const AT = 0x40;
const EQUALS = 0x3d;
const COLON = 0x3a;
const JWT_START = Buffer.from(JWT_START_TEXT, 'latin1');
const URL_SEPARATOR = Buffer.from(URL_SEPARATOR_TEXT, 'latin1');

export function bodyMayHoldSecret(body: Uint8Array, policy: MaskPolicy): boolean {
  if (policy.patterns.length > 0) return true;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (bytes.indexOf(QUOTE) !== -1 || bytes.indexOf(JWT_START) !== -1) return true;
  if (bytes.indexOf(EQUALS) !== -1 || bytes.indexOf(COLON) !== -1) return true;
  if (policy.detectEmails && bytes.indexOf(AT) !== -1) return true;
  for (let digit = 0x30; digit <= 0x39; digit++) if (bytes.indexOf(digit) !== -1) return true;
  return bytes.indexOf(URL_SEPARATOR) !== -1;
}
