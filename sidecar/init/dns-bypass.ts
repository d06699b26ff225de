/**
 * The nat side of DNS failing open (see plan-dns-watch.ts): the rule that lets an address the
 * DNS listener refused in the last few seconds resolve past the sidecar. Its own file, with only
 * a type import, so that plan.ts and plan-ipv6-dns.ts can use it without an import cycle.
 */
import type { Rule } from './plan.ts';

export type IpFamily = 4 | 6;

/** How long after a refusal the address's DNS bypasses the sidecar. */
export const DNS_BYPASS_SECONDS = 5;

const LIST: Record<IpFamily, string> = { 4: 'MESHTAP_DNS_DOWN', 6: 'MESHTAP_DNS6_DOWN' };
/** `iptables-save` prints the recent match's default mask explicitly. */
export const RECENT_MASK: Record<IpFamily, string> = { 4: '255.255.255.255', 6: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' };

/** The kernel `recent` list holding the addresses whose DNS currently bypasses the sidecar. */
export function dnsDownList(family: IpFamily): string {
  return LIST[family];
}

/** The rule (in MESHTAP_DNS or MESHTAP_DNS6, before the redirects) that lets a refused address through. */
export function dnsBypassRule(chain: string, family: IpFamily): Rule {
  return {
    chain,
    protocol: 'all',
    matches: `-m recent --rcheck --seconds ${DNS_BYPASS_SECONDS} --name ${LIST[family]} --mask ${RECENT_MASK[family]} --rsource`,
    why: `the DNS listener refused this address in the last ${DNS_BYPASS_SECONDS} s: DNS goes straight to the resolver`,
    jump: 'RETURN',
  };
}
