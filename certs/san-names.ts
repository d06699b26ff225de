import { isIPv4, isIPv6 } from 'node:net';
import { CA_ERR_BAD_DNS_NAME, CA_ERR_BAD_IP, caError } from './errors.ts';

/**
 * Checks and encodes the names that go into subjectAltName. forge's own IP parser accepts
 * "1.2.3" and "300.1.1.1" and cannot read "::ffff:10.0.0.1", so the octets are built here from
 * an address Node has already validated.
 */
export function ipAddressBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (isIPv6(ip) && !ip.includes('%')) return ipv6Bytes(ip);
  throw caError(CA_ERR_BAD_IP, `"${ip}" is not an IPv4 or IPv6 address`);
}

function ipv6Bytes(ip: string): Buffer {
  let text = ip;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = text.slice(lastColon + 1).split('.').map(Number);
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    text = text.slice(0, lastColon + 1) + '0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const left = parse(head);
  let right = rest === undefined ? [] : parse(rest);
  if (tail.length > 0) {
    // The placeholder "0" stood for the dotted quad: replace it with its two groups.
    if (rest === undefined) left.pop();
    else right = right.slice(0, -1);
  }
  const groups =
    rest === undefined
      ? [...left, ...tail]
      : [...left, ...new Array<number>(8 - left.length - right.length - tail.length).fill(0), ...right, ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * A host name for a dNSName SAN: lower-case LDH labels, 253 characters at most. Wildcards are
 * refused: meshtap's certificates name exactly the services they serve.
 */
export function checkDnsName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 0 || lower.length > 253 || !lower.split('.').every((l) => DNS_LABEL.test(l))) {
    throw caError(
      CA_ERR_BAD_DNS_NAME,
      `"${name}" is not a DNS name (dot-separated labels of letters, digits and "-", at most 63 characters each, 253 in all; no wildcards)`,
    );
  }
  return lower;
}
