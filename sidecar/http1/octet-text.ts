/**
 * Header values and request targets as text. The parsers read a head's octets one char per
 * octet (latin1), which keeps their offsets and HPACK's sizes exact; a record is read by
 * people and filters, who mean UTF-8 when a value holds more than ASCII (`X-User: café`). So a
 * value with octets ≥ 0x80 that are valid UTF-8 is read as UTF-8; anything else (ASCII, or
 * obs-text that is not UTF-8) stays one char per octet, as RFC 9110 §5.5 leaves it.
 */
import { isUtf8 } from 'node:buffer';

const HIGH_OCTET = /[\x80-\xff]/;

export function octetText(value: string): string {
  if (!HIGH_OCTET.test(value)) return value;
  const octets = Buffer.from(value, 'latin1');
  return isUtf8(octets) ? octets.toString('utf8') : value;
}
