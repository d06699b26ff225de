/**
 * The IPv6 DNS redirect: pure functions from an `InitConfig` (and the current
 * `ip6tables-save -t nat` text) to `ip6tables-restore --noflush` input.
 *
 * IPv6 TCP is refused rather than captured (plan-ipv6.ts), but an app whose resolver has an
 * IPv6 address would otherwise resolve past the sidecar, so DNS is redirected over IPv6 too,
 * to the sidecar's DNS listener on `::1`. Layout of the IPv6 nat table after `meshtap init`:
 *
 *   OUTPUT → MESHTAP_DNS6   (UDP, then TCP, to port 53) proxy-owner and excluded IPv6 CIDRs
 *                           RETURN, UDP and TCP to the pod's IPv6 resolvers REDIRECT to the
 *                           DNS port
 *
 * The nat table runs before the filter table: a redirected TCP query leaves through `lo` to
 * `::1`, which the IPv6 refusal lets through. Without DNS capture the chain is declared empty.
 */
import type { InitConfig } from './options.ts';
import { dnsBypassRule } from './dns-bypass.ts';
import { DNS_PORT, capturesDns, resolverRedirects, parseTable, planTableApply, planTableCleanup, renderRuleSpec, type NatTable, type RestorePlan, type Rule, type RuleConfig } from './plan.ts';

export const CHAIN_DNS6 = 'MESHTAP_DNS6';
/** Every chain init creates in the IPv6 nat table. Cleanup removes exactly these. */
export const MESHTAP_IPV6_NAT_CHAINS: readonly string[] = Object.freeze([CHAIN_DNS6]);

/** The rules init installs in the IPv6 nat table, in order. Pure. */
export function planIpv6DnsRules(config: RuleConfig): Rule[] {
  if (!capturesDns(config)) return [];
  return [
    { chain: 'OUTPUT', first: true, protocol: 'udp', dport: DNS_PORT, why: 'outbound IPv6 DNS over UDP goes to the IPv6 DNS chain', jump: CHAIN_DNS6 },
    { chain: 'OUTPUT', first: true, protocol: 'tcp', dport: DNS_PORT, why: 'outbound IPv6 DNS over TCP goes to the IPv6 DNS chain', jump: CHAIN_DNS6 },
    { chain: CHAIN_DNS6, protocol: 'all', owner: { uid: config.proxyUid }, why: `DNS of the proxy uid ${config.proxyUid} is never captured`, jump: 'RETURN' },
    { chain: CHAIN_DNS6, protocol: 'all', owner: { gid: config.proxyGid }, why: `DNS of the proxy gid ${config.proxyGid} is never captured`, jump: 'RETURN' },
    ...config.excludeOutboundCidrs
      .filter((cidr) => cidr.includes(':'))
      .map((cidr): Rule => ({ chain: CHAIN_DNS6, protocol: 'all', destination: { cidr }, why: 'excluded outbound CIDR', jump: 'RETURN' })),
    dnsBypassRule(CHAIN_DNS6, 6),
    ...resolverRedirects(CHAIN_DNS6, config, 6),
  ];
}

export function parseIpv6NatTable(saveText: string): NatTable {
  return parseTable(saveText, 'nat');
}

export function planIpv6DnsApply(config: RuleConfig, current?: NatTable): RestorePlan {
  return planTableApply('nat', MESHTAP_IPV6_NAT_CHAINS, planIpv6DnsRules(config), current);
}

export function planIpv6DnsCleanup(current: NatTable): RestorePlan {
  return planTableCleanup('nat', MESHTAP_IPV6_NAT_CHAINS, current);
}

/** The IPv6 nat table as it looks right after `planIpv6DnsApply` on an empty one, for dry-run cleanup. */
export function appliedIpv6NatTable(config: RuleConfig): NatTable {
  return {
    chains: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING', ...MESHTAP_IPV6_NAT_CHAINS],
    rules: planIpv6DnsRules(config).map((r) => ({ chain: r.chain, spec: renderRuleSpec(r), target: r.jump })),
  };
}

/** The IPv6 DNS plan `meshtap init` carries out for this config and table: apply, or cleanup. */
export function planIpv6DnsRestore(config: RuleConfig & Pick<InitConfig, 'cleanup'>, current?: NatTable): RestorePlan {
  return config.cleanup ? planIpv6DnsCleanup(current ?? { chains: [], rules: [] }) : planIpv6DnsApply(config, current);
}
