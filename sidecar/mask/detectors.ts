/**
 * Pattern detectors for secrets inside free text: JWTs, payment card numbers, e-mail addresses.
 *
 * Card numbers: 13–19 digits, single spaces or dashes allowed between digits, passing Luhn and
 * starting like an issued card (2–6). The prefix rule keeps 13-digit millisecond timestamps
 * (which pass Luhn one time in ten) from being masked.
 */
import type { MaskPolicy, SensitiveKind } from './policy.ts';

export const MASK = '****';

const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const CARD = /(?<![\d.])\d(?:[ -]?\d){12,18}(?![\d])/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const CARD_PREFIX = /^(?:4|5[1-5]|2[2-7]|3[0-9]|6)/;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** Digits only (separators removed) of a plausible card number, else undefined. */
export function cardDigits(candidate: string): string | undefined {
  const digits = candidate.replace(/[ -]/g, '');
  if (digits.length < 13 || digits.length > 19) return undefined;
  if (!CARD_PREFIX.test(digits) || !luhnValid(digits)) return undefined;
  return digits;
}

export function isJwt(s: string): boolean {
  JWT.lastIndex = 0;
  const m = JWT.exec(s);
  return m !== null && m[0].length === s.length;
}

export type Hit = (kind: SensitiveKind, masked: boolean) => void;

/**
 * Mask JWTs and cards (and e-mails when the policy says so) in `text`, reporting every finding.
 * `sameLength` keeps the byte length (for binary bodies, where offsets matter).
 */
function fill(s: string, sameLength: boolean, keepTail = 0): string {
  return sameLength ? '*'.repeat(s.length - keepTail) + s.slice(s.length - keepTail) : keepTail > 0 ? MASK + s.slice(-keepTail) : MASK;
}

/** The shortest text any detector can match: an e-mail like `a@b.cd` (cards need 13, JWTs 16). */
const MIN_MATCH_LENGTH = 6;

export function maskText(text: string, policy: MaskPolicy, hit: Hit, sameLength = false): string {
  if (text.length < MIN_MATCH_LENGTH) return text;
  let out = text;
  if (out.includes('eyJ')) {
    out = out.replace(JWT, (m) => {
      hit('jwt', policy.maskJwts);
      return policy.maskJwts ? fill(m, sameLength) : m;
    });
  }
  // A card is at least 13 digits: shorter text (most header values) cannot hold one.
  if (out.length >= 13 && /\d{4}/.test(out)) {
    out = out.replace(CARD, (m) => {
      const digits = cardDigits(m);
      if (digits === undefined) return m;
      hit('card', policy.maskCards);
      return policy.maskCards ? fill(m, sameLength, 4) : m;
    });
  }
  if (policy.detectEmails && out.includes('@')) {
    out = out.replace(EMAIL, (m) => {
      hit('email', policy.maskEmails);
      return policy.maskEmails ? fill(m, sameLength) : m;
    });
  }
  return out;
}
