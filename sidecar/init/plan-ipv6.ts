/**
 * The IPv6 planner: pure functions from an `InitConfig` (and, to converge, the current
 * `ip6tables-save -t filter` text) to `ip6tables-restore --noflush` input.
 *
 * The sidecar listens and reads original destinations over IPv4 only, so IPv6 TCP is not
 * redirected to it: it is refused, so that in a dual-stack pod nothing reaches or leaves the
 * app over IPv6 past the sidecar unseen (strict mode's promise included). Layout of the filter
 * table after `meshtap init`:
 *
 *   INPUT   → MESHTAP_INBOUND6   loopback, admin port and excluded inbound ports RETURN,
 *                                a new connection (SYN) otherwise REJECT with a TCP reset
 *   OUTPUT  → MESHTAP_OUTPUT6    loopback, the proxy's uid and gid, excluded IPv6 CIDRs and
 *                                excluded outbound ports RETURN, a new connection otherwise
 *                                REJECT with a TCP reset
 *
 * Only connection attempts are refused (stateless: no conntrack needed), so the replies of the
 * connections let through are never touched; UDP and other protocols are not either.
 */
import type { InitConfig } from './options.ts';
import {
  capturesDns,
  parseTable,
  planTableApply,
  planTableCleanup,
  renderRuleSpec,
  type NatTable,
  type RestorePlan,
  type Rule,
  type RuleConfig,
} from './plan.ts';

export const CHAIN_INBOUND6 = 'MESHTAP_INBOUND6';
export const CHAIN_OUTPUT6 = 'MESHTAP_OUTPUT6';
/** Every chain init creates in the IPv6 filter table. Cleanup removes exactly these. */
export const MESHTAP_IPV6_CHAINS: readonly string[] = Object.freeze([CHAIN_INBOUND6, CHAIN_OUTPUT6]);
/** The table the IPv6 rules live in: REJECT is a filter target. */
export const IPV6_TABLE = 'filter';

const REFUSED = 'IPv6 TCP is not captured, so it is refused rather than bypass the sidecar';

/** The rules init installs in the IPv6 filter table, in order. Pure. */
export function planIpv6Rules(config: RuleConfig): Rule[] {
  const reject = { syn: true, jump: 'REJECT', rejectWith: 'tcp-reset' } as const;
  return [
    { chain: 'INPUT', first: true, why: 'inbound IPv6 TCP goes to the IPv6 inbound chain', jump: CHAIN_INBOUND6 },
    { chain: 'OUTPUT', first: true, why: 'outbound IPv6 TCP goes to the IPv6 outbound chain', jump: CHAIN_OUTPUT6 },

    { chain: CHAIN_INBOUND6, inInterface: 'lo', why: 'IPv6 loopback is not refused', jump: 'RETURN' },
    { chain: CHAIN_INBOUND6, dport: config.adminPort, why: 'admin port is never refused', jump: 'RETURN' },
    ...config.excludeInboundPorts.map((port): Rule => ({ chain: CHAIN_INBOUND6, dport: port, why: 'excluded inbound port', jump: 'RETURN' })),
    { chain: CHAIN_INBOUND6, why: `inbound ${REFUSED}`, ...reject },

    { chain: CHAIN_OUTPUT6, outInterface: 'lo', why: 'IPv6 loopback is not refused', jump: 'RETURN' },
    // The filter table sees the interface the packet was first routed to, not the one the nat
    // table's REDIRECT moved it to: DNS over TCP redirected to ::1 (plan-ipv6-dns.ts) must pass by address.
    ...(capturesDns(config)
      ? [{ chain: CHAIN_OUTPUT6, destination: { cidr: '::1/128' }, dport: config.dnsPort, why: 'IPv6 DNS over TCP redirected to the DNS listener is not refused', jump: 'RETURN' } as const]
      : []),
    { chain: CHAIN_OUTPUT6, owner: { uid: config.proxyUid }, why: `traffic of the proxy uid ${config.proxyUid} is never refused`, jump: 'RETURN' },
    { chain: CHAIN_OUTPUT6, owner: { gid: config.proxyGid }, why: `traffic of the proxy gid ${config.proxyGid} is never refused`, jump: 'RETURN' },
    ...config.excludeOutboundCidrs
      .filter((cidr) => cidr.includes(':'))
      .map((cidr): Rule => ({ chain: CHAIN_OUTPUT6, destination: { cidr }, why: 'excluded outbound CIDR', jump: 'RETURN' })),
    ...config.excludeOutboundPorts.map((port): Rule => ({ chain: CHAIN_OUTPUT6, dport: port, why: 'excluded outbound port', jump: 'RETURN' })),
    { chain: CHAIN_OUTPUT6, why: `outbound ${REFUSED}`, ...reject },
  ];
}

/** Parses the filter section of `ip6tables-save` output. */
export function parseIpv6Table(saveText: string): NatTable {
  return parseTable(saveText, IPV6_TABLE);
}

/** Converges the IPv6 filter table to the planned rules in one transaction (see `planApply`). */
export function planIpv6Apply(config: RuleConfig, current?: NatTable): RestorePlan {
  return planTableApply(IPV6_TABLE, MESHTAP_IPV6_CHAINS, planIpv6Rules(config), current);
}

/** Removes exactly what init adds to the IPv6 filter table; empty when there is nothing. */
export function planIpv6Cleanup(current: NatTable): RestorePlan {
  return planTableCleanup(IPV6_TABLE, MESHTAP_IPV6_CHAINS, current);
}

/** The filter table as it looks right after `planIpv6Apply` on an empty one, for dry-run cleanup. */
export function appliedIpv6Table(config: RuleConfig): NatTable {
  return {
    chains: ['INPUT', 'FORWARD', 'OUTPUT', ...MESHTAP_IPV6_CHAINS],
    rules: planIpv6Rules(config).map((r) => ({ chain: r.chain, spec: renderRuleSpec(r), target: r.jump })),
  };
}

/** The IPv6 plan `meshtap init` carries out for this config and table: apply, or cleanup. */
export function planIpv6Restore(config: RuleConfig & Pick<InitConfig, 'cleanup'>, current?: NatTable): RestorePlan {
  return config.cleanup ? planIpv6Cleanup(current ?? { chains: [], rules: [] }) : planIpv6Apply(config, current);
}
