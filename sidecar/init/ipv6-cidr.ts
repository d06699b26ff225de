/**
 * IPv6 CIDRs for `--exclude-outbound-cidrs`: parsed, host bits cleared, and written the way
 * `ip6tables-save` prints them (glibc's `inet_ntop`: lower case, the longest run of two or more
 * zero groups as `::`, the first of equal runs, an IPv4-mapped or -compatible tail dotted), so
 * an applied plan compares line by line with the table. Pure.
 */
import { isIPv6 } from 'node:net';

function groupsOf(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const o = dotted[2].split('.').map(Number);
    tail.push((o[0] << 8) | o[1], (o[2] << 8) | o[3]);
    text = dotted[1].endsWith('::') ? dotted[1] : dotted[1].slice(0, -1);
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) => (part === undefined || part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = [...parse(rest), ...tail];
  const zeros = rest === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

/** `inet_ntop(AF_INET6)` as glibc writes it. */
export function formatIpv6(groups: readonly number[]): string {
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (groups[i] === 0) {
      cur = cur.base < 0 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
      if (cur.len > best.len) best = cur;
    } else {
      cur = { base: -1, len: 0 };
    }
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best.base >= 0 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && groups[5] === 0xffff))) {
      out += `${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
      return out;
    }
    out += groups[i].toString(16);
  }
  if (best.base >= 0 && best.base + best.len === 8) out += ':';
  return out;
}

/** `fd00::1/8` → `fd00::/8`, `2001:db8::1` → `2001:db8::1/128`; or why not. */
export function parseIpv6Cidr(text: string): { cidr: string } | { error: string } {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? '128' : text.slice(slash + 1);
  if (!isIPv6(address) || address.includes('%')) return { error: `"${text}" is not an IPv6 CIDR like fd00::/8 or 2001:db8::7` };
  if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > 128) {
    return { error: `"${text}" is not an IPv6 CIDR: the prefix length must be 0-128` };
  }
  const prefix = Number(prefixText);
  const groups = groupsOf(address).map((g, i) => {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
  });
  return { cidr: `${formatIpv6(groups)}/${prefix}` };
}
