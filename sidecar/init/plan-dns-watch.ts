/**
 * DNS fails open: when the sidecar's DNS listener is not there (the sidecar stopped, crashed or
 * not yet started), the app's DNS goes straight to its resolver instead of failing.
 *
 * The sidecar has no privileges to remove the redirect itself, so the kernel does it, from rules
 * init installs up front:
 *
 *   mangle OUTPUT → MESHTAP_DNS_WATCH   (loopback only) a locally generated ICMP port-unreachable
 *                                       or TCP reset answering a query that was redirected to the
 *                                       DNS port records the querying address in the kernel's
 *                                       `recent` list MESHTAP_DNS_DOWN (IPv6: MESHTAP_DNS6_DOWN)
 *   nat MESHTAP_DNS / MESHTAP_DNS6      an address on that list in the last 5 s RETURNs: its
 *                                       queries are not redirected
 *
 * So while the listener is gone, the first query of every 5 s window is refused at once (no
 * timeout: ICMP or RST comes back immediately) and the resolver library's retry — glibc, musl,
 * c-ares and dig all retry a refused server — goes to the real resolver. Once the listener is
 * back, redirection resumes within 5 s with no refusal. Both matches are conntrack's view of
 * the redirected flow (original destination port 53, reply from the DNS port), so nothing else
 * the pod sends or refuses is affected. The rules are pure text, like the other planners.
 */
import type { InitConfig } from './options.ts';
import { RECENT_MASK, dnsDownList, type IpFamily } from './dns-bypass.ts';
import { DNS_PORT, capturesDns, parseTable, planTableApply, planTableCleanup, renderRuleSpec, type NatTable, type RestorePlan, type Rule, type RuleConfig } from './plan.ts';

export const CHAIN_DNS_WATCH = 'MESHTAP_DNS_WATCH';
/** The table of the watch rules: mangle, since nat never sees ICMP errors or resets. */
export const DNS_WATCH_TABLE = 'mangle';
export const MESHTAP_DNS_WATCH_CHAINS: readonly string[] = Object.freeze([CHAIN_DNS_WATCH]);
/** The watch rules of one family's mangle table, in order. Pure; empty without DNS capture. */
export function planDnsWatchRules(config: RuleConfig, family: IpFamily): Rule[] {
  if (!capturesDns(config)) return [];
  const set = `-m recent --set --name ${dnsDownList(family)} --mask ${RECENT_MASK[family]} --rdest`;
  const flow = (proto: number): string => `--ctproto ${proto} --ctorigdstport ${DNS_PORT} --ctreplsrcport ${config.dnsPort}`;
  const unreachable = family === 4 ? '-m icmp --icmp-type 3/3' : '-m icmp6 --icmpv6-type 1/4';
  return [
    { chain: 'OUTPUT', first: true, protocol: 'all', outInterface: 'lo', why: 'refusals of the DNS listener are watched', jump: CHAIN_DNS_WATCH },
    {
      chain: CHAIN_DNS_WATCH,
      protocol: family === 4 ? 'icmp' : 'ipv6-icmp',
      matches: `${unreachable} -m conntrack --ctstate RELATED ${flow(17)} ${set}`,
      why: 'no DNS listener on UDP: bypass it for a while',
      jump: 'RETURN',
    },
    {
      chain: CHAIN_DNS_WATCH,
      protocol: 'tcp',
      matches: `-m tcp --tcp-flags RST RST -m conntrack ${flow(6)} --ctdir REPLY ${set}`,
      why: 'no DNS listener on TCP: bypass it for a while',
      jump: 'RETURN',
    },
  ];
}

export function parseDnsWatchTable(saveText: string): NatTable {
  return parseTable(saveText, DNS_WATCH_TABLE);
}

export function planDnsWatchApply(config: RuleConfig, family: IpFamily, current?: NatTable): RestorePlan {
  return planTableApply(DNS_WATCH_TABLE, MESHTAP_DNS_WATCH_CHAINS, planDnsWatchRules(config, family), current);
}

export function planDnsWatchCleanup(current: NatTable): RestorePlan {
  return planTableCleanup(DNS_WATCH_TABLE, MESHTAP_DNS_WATCH_CHAINS, current);
}

/** The mangle table right after `planDnsWatchApply` on an empty one, for dry-run cleanup. */
export function appliedDnsWatchTable(config: RuleConfig, family: IpFamily): NatTable {
  return {
    chains: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING', ...MESHTAP_DNS_WATCH_CHAINS],
    rules: planDnsWatchRules(config, family).map((r) => ({ chain: r.chain, spec: renderRuleSpec(r), target: r.jump })),
  };
}

/** What `meshtap init` does to one family's mangle table: apply, or cleanup. */
export function planDnsWatchRestore(config: RuleConfig & Pick<InitConfig, 'cleanup'>, family: IpFamily, current?: NatTable): RestorePlan {
  return config.cleanup ? planDnsWatchCleanup(current ?? { chains: [], rules: [] }) : planDnsWatchApply(config, family, current);
}
