/**
 * Whether a body could hold anything the body maskers look for, read from its bytes without
 * decoding them. Each masker needs a byte to start from:
 * - `"key": value` pairs (JSON, and the pair scanner on other text) need a `"`;
 * - `KEY=VALUE` and `KEY: VALUE` pairs (`text-pairs.ts`) need a `=` or a `:`;
 * - passwords in URLs need `://` (a `:`; percent-encoded, `%3A%2F%2F`, it holds digits);
 * - e-mails need an `@` (only when the policy detects them);
 * - cards are digits, and so are the check digits of every IBAN;
 * - JWTs start with `eyJ` (the encoded `{"`), looked for only when the body holds a `J`;
 * - the tokens of `token-formats.ts`: the credentials after `Bearer` follow a space or a tab
 *   (`%20` and `%09` hold digits; a form's `+` is the form masker's), GitHub's hold a `_`
 *   (`ghp_`, `github_pat_`), and so do Stripe's (`sk_live_`) and npm's (`npm_`), Slack's a `-`
 *   (`xoxb-`), and so do GitLab's (`glpat-`) and OpenAI's (`sk-`), AWS access key ids an `A`
 *   (`AKIA`, `ASIA`), and so do Google API keys (`AIza`), SendGrid's a `G` (`SG.`), Google
 *   OAuth tokens digits (`ya29.`): one byte each, so a body holding one is scanned whether or not it holds the token;
 * - private keys (`private-key.ts`): their marker lines hold spaces (`BEGIN RSA PRIVATE KEY`;
 *   `%20` holds digits), PuTTY's header a `:` and digits;
 * - user patterns can match anything, so a policy with patterns always scans.
 * A body with none of these comes back unchanged from every masker; skipping it saves decoding
 * it into a string, garbage that the capture worker's collections pay for (opaque and binary
 * bodies, and the bench's octet-stream body). Every test is a native search for one byte (a
 * loop over the bytes in JavaScript cost more than the decoding it saves, and a search for a
 * string of several bytes costs several single-byte ones), so a body with any digit at all is
 * scanned. Form bodies (`key=value`) are not covered here: callers send them to the form
 * masker whatever this says.
 */
import { JWT_START as JWT_START_TEXT } from './detectors.ts';
import type { MaskPolicy } from './policy.ts';

const QUOTE = 0x22;
const AT = 0x40;
const EQUALS = 0x3d;
const COLON = 0x3a;
const J = 0x4a;
const JWT_START = Buffer.from(JWT_START_TEXT, 'latin1');
/**
 * What the tokens of `token-formats.ts` hold: a space or a tab (after `Bearer`), `_` (GitHub,
 * Stripe, npm), `-` (Slack, GitLab, OpenAI), `A` (AWS, Google API keys), `G` (SendGrid). The
 * tab last: text that holds one holds one of the others far more often, and a search that finds
 * nothing reads the whole body.
 */
const TOKEN_BYTES = [0x20, 0x5f, 0x2d, 0x41, 0x47, 0x09];

export function bodyMayHoldSecret(body: Uint8Array, policy: MaskPolicy): boolean {
  if (policy.patterns.length > 0) return true;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (bytes.indexOf(QUOTE) !== -1) return true;
  // A `:` is also where every `://` (a URL's password) is.
  if (bytes.indexOf(EQUALS) !== -1 || bytes.indexOf(COLON) !== -1) return true;
  if (policy.detectEmails && bytes.indexOf(AT) !== -1) return true;
  for (let digit = 0x30; digit <= 0x39; digit++) if (bytes.indexOf(digit) !== -1) return true;
  if (bytes.indexOf(J) !== -1 && bytes.indexOf(JWT_START) !== -1) return true;
  for (const b of TOKEN_BYTES) if (bytes.indexOf(b) !== -1) return true;
  return false;
}
