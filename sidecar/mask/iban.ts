/**
 * International Bank Account Numbers (ISO 13616) in free text, masked whole as `iban`: a
 * payment form's JSON, a log line quoting a transfer, an error echoing the account it refused.
 *
 * Ordinary text holds many runs of two capitals and digits (`HTTP2`, `SKU1234…`, base32 ids),
 * so a candidate must be an IBAN by every rule the registry fixes, not by shape alone:
 *
 * - two upper-case letters naming a country of the SWIFT IBAN registry (`IBAN_LENGTHS`), then
 *   two check digits (02–98), then upper-case letters and digits, exactly as many characters in
 *   all as that country's IBANs have (`DE` 22, `NO` 15, `FR` 27);
 * - written compact (`DE89370400440532013000`) or as printed, a single space after every four
 *   characters (`DE89 3704 0044 0532 0130 00`), one way throughout: a space anywhere else, two
 *   spaces, a tab or a dash end the candidate;
 * - starting a word (at the start of the text, after anything but a letter, digit or `_`, or
 *   right after a percent-escape, as the other detectors' secrets do) and ending one (no letter,
 *   digit or `_` right after its last character): `XDE89…`, `DE89…0001` (one too many) are no
 *   IBANs;
 * - the ISO 7064 mod-97 check over the rearranged characters (the four first moved to the end,
 *   a letter read as the two digits 10–35) leaves 1, which a run of the right length but made
 *   up misses 96 times in 97.
 *
 * Lower case (`de89…`) is not read as an IBAN: the standard writes them in capitals, and prose
 * would otherwise offer far more candidates. Not found either: an IBAN whose spaces are
 * percent-encoded (`%20`) or `+`, one cut by the end of a truncated body, a country not in the
 * registry's table below (add a key such as `iban` with `MESHTAP_MASK_KEYS`, or a pattern).
 *
 * Cost: one search by the regular expression engine for two capitals and two digits
 * (`IBAN_START`), only in text as long as the shortest IBAN, and nothing more in text without
 * one; each candidate reads at most the country's length and its spaces (41 characters), and the
 * search goes on past the candidate's first four (no word starts among them): linear in the text.
 */
import type { Span } from './detectors.ts';
import { scanMeter } from './scan-meter.ts';
import { isWordChar as isWord, startsWord } from './word-start.ts';

/**
 * Country code → the length of its IBANs, from the SWIFT IBAN registry (the countries that
 * issue IBANs, not the experimental formats some banks publish). A country missing here is not
 * detected; one whose length changes would no longer be.
 */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = Object.freeze({
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27,
  BR: 29, BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28,
  EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23,
  GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26,
  IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21,
  LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28,
  NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22,
  RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25,
  SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
});

const A = 65;

/**
 * The same table by the two letters' codes (`(first - 'A') * 26 + second - 'A'`, 0: no IBAN
 * country): looked up for every candidate without cutting its country code out of the text.
 */
const LENGTH_BY_CODE = new Uint8Array(26 * 26);
for (const [country, length] of Object.entries(IBAN_LENGTHS)) LENGTH_BY_CODE[(country.charCodeAt(0) - A) * 26 + country.charCodeAt(1) - A] = length;

/** The shortest IBAN (Norway's): shorter text is not searched. */
export const SHORTEST_IBAN = Math.min(...Object.values(IBAN_LENGTHS));

/** Where every IBAN starts: its country's two letters and its two check digits. */
const IBAN_START = /[A-Z]{2}[0-9]{2}/g;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isUpper = (c: number): boolean => c >= A && c <= 90;

/** The remainder mod 97 of `r` followed by the IBAN character `c` (a letter as its two digits, `A` = 10). */
function mod97Step(r: number, c: number): number {
  return isDigit(c) ? (r * 10 + c - 48) % 97 : (r * 100 + c - A + 10) % 97;
}

/**
 * Whether the IBAN at `text[start, end)` (its spaces, when printed, skipped) passes the mod-97
 * check: the characters after the first four, then those four, read as one number, leave 1.
 */
function mod97Valid(text: string, start: number, end: number): boolean {
  let r = 0;
  for (let i = start + 4; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32) r = mod97Step(r, c);
  }
  for (let i = start; i < start + 4; i++) r = mod97Step(r, text.charCodeAt(i));
  return r === 1;
}

/**
 * The end of the IBAN whose country and check digits are at `p`, or -1 (see the top): `length`
 * characters in all, upper-case letters and digits, compact or with a single space after every
 * four, the word ending there, the check digits 02–98 and the mod-97 check passed.
 */
function ibanEnd(text: string, p: number, length: number): number {
  const n = text.length;
  // Computed check digits are 98 less a remainder, 02–98: `00`, `01` and `99` pass the check
  // where `97`, `98` and `02` would, but no IBAN is issued with them.
  const checkDigits = (text.charCodeAt(p + 2) - 48) * 10 + text.charCodeAt(p + 3) - 48;
  if (checkDigits < 2 || checkDigits > 98) return -1;
  const printed = text.charCodeAt(p + 4) === 32;
  let i = p + 4;
  let count = 4;
  while (count < length && i < n) {
    if (printed && count % 4 === 0 && text.charCodeAt(i++) !== 32) break;
    const c = text.charCodeAt(i);
    if (!isUpper(c) && !isDigit(c)) break;
    i++;
    count++;
  }
  scanMeter.steps += i - p;
  if (count < length || (i < n && isWord(text.charCodeAt(i)))) return -1;
  // Read a second time only here, where the candidate has an IBAN's shape.
  scanMeter.steps += i - p;
  return mod97Valid(text, p, i) ? i : -1;
}

const NO_SPANS: readonly Span[] = Object.freeze([]);

/** The IBANs of `text` (see the top): sorted, disjoint spans, each the whole IBAN with its spaces. */
export function findIbans(text: string): readonly Span[] {
  if (text.length < SHORTEST_IBAN) return NO_SPANS;
  let spans: Span[] | undefined;
  let from = 0;
  for (;;) {
    IBAN_START.lastIndex = from;
    if (!IBAN_START.test(text)) return spans ?? NO_SPANS;
    scanMeter.steps++;
    // `test` gives the end of the match: the four characters before it.
    const p = IBAN_START.lastIndex - 4;
    // A candidate that fails leaves no start among its first four (each follows a letter or digit).
    from = p + 4;
    const length = LENGTH_BY_CODE[(text.charCodeAt(p) - A) * 26 + text.charCodeAt(p + 1) - A];
    if (length === 0 || !startsWord(text, p)) continue;
    const end = ibanEnd(text, p, length);
    if (end === -1) continue;
    (spans ??= []).push({ start: p, end });
    from = end;
  }
}
