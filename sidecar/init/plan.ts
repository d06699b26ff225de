/**
 * The iptables planner: pure functions from an `InitConfig` (and, to converge, the current
 * `iptables-save -t nat` text) to `iptables-restore --noflush` input.
 *
 * Layout of the nat table after `meshtap init`:
 *
 *   PREROUTING  → MESHTAP_INBOUND     admin port and excluded inbound ports RETURN,
 *                                     everything else → MESHTAP_IN_REDIRECT
 *               MESHTAP_IN_REDIRECT   REDIRECT to the inbound listener
 *   OUTPUT      → MESHTAP_OUTPUT      TCP port 53 → MESHTAP_DNS first; then loopback,
 *                                     proxy-owner, localhost and exclusion rules,
 *                                     everything else → MESHTAP_REDIRECT
 *               MESHTAP_REDIRECT      REDIRECT to the outbound listener
 *   OUTPUT      → MESHTAP_DNS         (UDP port 53) proxy-owner and excluded CIDRs RETURN,
 *                                     UDP and TCP to the pod's resolvers REDIRECT to the
 *                                     sidecar's DNS port; DNS to any other server returns
 *                                     (UDP leaves as sent, TCP is proxied as any TCP)
 *
 * Rules are rendered exactly as `iptables-save` prints them (option order, `-m tcp` before
 * `--dport`, quoted comments), so an applied plan can be compared line by line with the table.
 * Only TCP enters our chains, except DNS: UDP port 53 goes to MESHTAP_DNS (unless DNS capture
 * is off), and no other UDP is ever captured.
 *
 * nat OUTPUT only sees a connection once the kernel has routed it, so a namespace needs a
 * route (even `default dev lo`) for outbound redirection to work at all.
 */
import type { InitConfig } from './options.ts';
import { dnsBypassRule } from './dns-bypass.ts';

/**
 * The contract with the proxy: the inbound sidecar binds the source of its upstream socket to
 * this address when it connects to the application at the pod's own IP. Connections from it
 * over `lo` are let through untouched; without that, the forwarded connection would be
 * redirected back into the inbound listener forever.
 */
export const INBOUND_PASSTHROUGH_SOURCE = '127.0.0.6';

export const CHAIN_INBOUND = 'MESHTAP_INBOUND';
export const CHAIN_IN_REDIRECT = 'MESHTAP_IN_REDIRECT';
export const CHAIN_OUTPUT = 'MESHTAP_OUTPUT';
export const CHAIN_REDIRECT = 'MESHTAP_REDIRECT';
export const CHAIN_DNS = 'MESHTAP_DNS';
/**
 * Every chain init creates, in declaration order. Cleanup removes exactly these. MESHTAP_DNS
 * exists (empty, nothing jumps to it) when DNS capture is off, so that switching it on or off
 * is one converge like any other change.
 */
export const MESHTAP_CHAINS: readonly string[] = Object.freeze([CHAIN_INBOUND, CHAIN_IN_REDIRECT, CHAIN_OUTPUT, CHAIN_REDIRECT, CHAIN_DNS]);
/** The port the app's DNS goes to (UDP and TCP). */
export const DNS_PORT = 53;

export const COMMENT_PREFIX = 'meshtap: ';
const LOCALHOST = '127.0.0.1/32';

/** The subset of the configuration the rules depend on. */
export type RuleConfig = Pick<
  InitConfig,
  | 'proxyUid'
  | 'proxyGid'
  | 'inboundPort'
  | 'outboundPort'
  | 'adminPort'
  | 'excludeInboundPorts'
  | 'excludeOutboundPorts'
  | 'excludeOutboundCidrs'
  | 'dnsCapture'
  | 'dnsPort'
  | 'dnsServers'
>;

export interface AddressMatch {
  readonly cidr: string;
  readonly negate?: boolean;
}

export interface OwnerMatch {
  readonly uid?: number;
  readonly gid?: number;
  readonly negate?: boolean;
}

/** One nat rule. Every rule carries a `meshtap: <why>` comment. */
export interface Rule {
  readonly chain: string;
  /** TCP unless said otherwise; `all` matches any protocol (no `-p`). */
  readonly protocol?: 'tcp' | 'udp' | 'icmp' | 'ipv6-icmp' | 'all';
  /** Inserted at the head of a built-in chain (the jumps) instead of appended. */
  readonly first?: boolean;
  readonly source?: AddressMatch;
  readonly destination?: AddressMatch;
  readonly inInterface?: string;
  readonly outInterface?: string;
  readonly dport?: number;
  /** Only a connection's first packet (SYN without ACK, FIN or RST). */
  readonly syn?: boolean;
  readonly owner?: OwnerMatch;
  readonly why: string;
  readonly jump: string;
  readonly toPort?: number;
  /** For `-j REJECT`. */
  readonly rejectWith?: string;
  /** Further matches, already in `iptables-save`'s form and order (after the owner match). */
  readonly matches?: string;
}

function ownerRules(config: RuleConfig, kind: 'uid' | 'gid'): Rule[] {
  const id = kind === 'uid' ? config.proxyUid : config.proxyGid;
  const owner = kind === 'uid' ? { uid: id } : { gid: id };
  return [
    {
      // The outbound sidecar calling its own pod (a service that resolved to this pod) must
      // still cross the inbound side; through MESHTAP_INBOUND so the admin port and excluded
      // inbound ports stay uncaptured on this path as well.
      chain: CHAIN_OUTPUT,
      destination: { cidr: LOCALHOST, negate: true },
      outInterface: 'lo',
      owner,
      why: `proxy ${kind} ${id} calling its own pod goes through the inbound side`,
      jump: CHAIN_INBOUND,
    },
    {
      chain: CHAIN_OUTPUT,
      outInterface: 'lo',
      owner: { ...owner, negate: true },
      why: `app traffic on loopback (not ${kind} ${id}) is not captured`,
      jump: 'RETURN',
    },
    {
      chain: CHAIN_OUTPUT,
      owner,
      why: `traffic of the proxy ${kind} ${id} is never captured`,
      jump: 'RETURN',
    },
  ];
}

/** DNS capture is on unless switched off or port 53 is an excluded outbound port. */
export function capturesDns(config: RuleConfig): boolean {
  return config.dnsCapture && !config.excludeOutboundPorts.includes(DNS_PORT);
}

/**
 * The DNS chain: the app's UDP and TCP to port 53 of the pod's resolvers go to the sidecar's
 * DNS port, except the proxy's own queries (the sidecar forwards the app's queries to the resolvers as the proxy
 * uid) and excluded IPv4 destinations.
 */
function dnsRules(config: RuleConfig): Rule[] {
  return [
    { chain: CHAIN_DNS, protocol: 'all', owner: { uid: config.proxyUid }, why: `DNS of the proxy uid ${config.proxyUid} is never captured`, jump: 'RETURN' },
    { chain: CHAIN_DNS, protocol: 'all', owner: { gid: config.proxyGid }, why: `DNS of the proxy gid ${config.proxyGid} is never captured`, jump: 'RETURN' },
    ...config.excludeOutboundCidrs.filter((cidr) => !cidr.includes(':')).map(
      (cidr): Rule => ({ chain: CHAIN_DNS, protocol: 'all', destination: { cidr }, why: 'excluded outbound CIDR', jump: 'RETURN' }),
    ),
    // Fail open: a listener that refused this address moments ago is bypassed (plan-dns-watch.ts).
    dnsBypassRule(CHAIN_DNS, 4),
    ...resolverRedirects(CHAIN_DNS, config, 4),
  ];
}

/**
 * UDP and TCP to port 53 of each of the pod's resolvers of one family go to the DNS listener;
 * DNS sent to any other server goes where the app sent it (the sidecar relays to the pod's
 * resolvers, so it must not answer for another).
 */
export function resolverRedirects(chain: string, config: RuleConfig, family: 4 | 6): Rule[] {
  const servers = config.dnsServers.filter((cidr) => cidr.includes(':') === (family === 6));
  const ip = family === 6 ? 'IPv6 ' : '';
  return servers.flatMap((cidr): Rule[] => {
    const address = cidr.slice(0, cidr.lastIndexOf('/'));
    return (['udp', 'tcp'] as const).map((protocol) => ({
      chain,
      protocol,
      destination: { cidr },
      why: `${ip}DNS over ${protocol.toUpperCase()} to the resolver ${address} goes to the DNS listener`,
      jump: 'REDIRECT',
      toPort: config.dnsPort,
    }));
  });
}

/** The rules init installs, in order. Pure: the same config always gives the same list. */
export function planRules(config: RuleConfig): Rule[] {
  const dns = capturesDns(config);
  const rules: Rule[] = [
    { chain: 'PREROUTING', first: true, why: 'inbound TCP goes to the inbound capture chain', jump: CHAIN_INBOUND },
    { chain: 'OUTPUT', first: true, why: 'outbound TCP goes to the outbound capture chain', jump: CHAIN_OUTPUT },
    ...(dns
      ? [{ chain: 'OUTPUT', first: true, protocol: 'udp', dport: DNS_PORT, why: 'outbound DNS over UDP goes to the DNS chain', jump: CHAIN_DNS } as const]
      : []),

    { chain: CHAIN_INBOUND, dport: config.adminPort, why: 'admin port is never captured', jump: 'RETURN' },
    ...config.excludeInboundPorts.map(
      (port): Rule => ({ chain: CHAIN_INBOUND, dport: port, why: 'excluded inbound port', jump: 'RETURN' }),
    ),
    { chain: CHAIN_INBOUND, why: 'capture inbound TCP', jump: CHAIN_IN_REDIRECT },
    { chain: CHAIN_IN_REDIRECT, why: 'to the inbound listener', jump: 'REDIRECT', toPort: config.inboundPort },

    // Before anything else in the chain, so DNS over TCP never reaches the outbound listener.
    ...(dns ? [{ chain: CHAIN_OUTPUT, dport: DNS_PORT, why: 'DNS over TCP goes to the DNS chain', jump: CHAIN_DNS } as const] : []),
    {
      chain: CHAIN_OUTPUT,
      source: { cidr: `${INBOUND_PASSTHROUGH_SOURCE}/32` },
      outInterface: 'lo',
      why: `inbound sidecar to its app (source ${INBOUND_PASSTHROUGH_SOURCE}) passes through`,
      jump: 'RETURN',
    },
    ...ownerRules(config, 'uid'),
    ...ownerRules(config, 'gid'),
    { chain: CHAIN_OUTPUT, destination: { cidr: LOCALHOST }, why: 'localhost is not captured', jump: 'RETURN' },
    // IPv6 exclusions belong to the IPv6 rules (plan-ipv6.ts).
    ...config.excludeOutboundCidrs.filter((cidr) => !cidr.includes(':')).map(
      (cidr): Rule => ({ chain: CHAIN_OUTPUT, destination: { cidr }, why: 'excluded outbound CIDR', jump: 'RETURN' }),
    ),
    ...config.excludeOutboundPorts.map(
      (port): Rule => ({ chain: CHAIN_OUTPUT, dport: port, why: 'excluded outbound port', jump: 'RETURN' }),
    ),
    { chain: CHAIN_OUTPUT, why: 'capture outbound TCP', jump: CHAIN_REDIRECT },
    { chain: CHAIN_REDIRECT, why: 'to the outbound listener', jump: 'REDIRECT', toPort: config.outboundPort },
    ...(dns ? dnsRules(config) : []),
  ];
  return rules;
}

/** The rule's specification (everything after the chain name), in iptables-save's order. */
export function renderRuleSpec(rule: Rule): string {
  const parts: string[] = [];
  if (rule.source) parts.push(...(rule.source.negate ? ['!'] : []), '-s', rule.source.cidr);
  if (rule.destination) parts.push(...(rule.destination.negate ? ['!'] : []), '-d', rule.destination.cidr);
  if (rule.inInterface) parts.push('-i', rule.inInterface);
  if (rule.outInterface) parts.push('-o', rule.outInterface);
  const protocol = rule.protocol ?? 'tcp';
  if (protocol !== 'all') parts.push('-p', protocol);
  if (rule.dport !== undefined || rule.syn) parts.push('-m', protocol);
  if (rule.dport !== undefined) parts.push('--dport', String(rule.dport));
  if (rule.syn) parts.push('--tcp-flags', 'FIN,SYN,RST,ACK', 'SYN');
  if (rule.owner) {
    parts.push('-m', 'owner');
    if (rule.owner.uid !== undefined) parts.push(...(rule.owner.negate ? ['!'] : []), '--uid-owner', String(rule.owner.uid));
    if (rule.owner.gid !== undefined) parts.push(...(rule.owner.negate ? ['!'] : []), '--gid-owner', String(rule.owner.gid));
  }
  if (rule.matches !== undefined) parts.push(rule.matches);
  parts.push('-m', 'comment', '--comment', `"${COMMENT_PREFIX}${rule.why}"`);
  parts.push('-j', rule.jump);
  if (rule.toPort !== undefined) parts.push('--to-ports', String(rule.toPort));
  if (rule.rejectWith !== undefined) parts.push('--reject-with', rule.rejectWith);
  return parts.join(' ');
}

/** The rule as `iptables-save` lists it once applied. */
export function renderSavedRule(rule: Rule): string {
  return `-A ${rule.chain} ${renderRuleSpec(rule)}`;
}

// ---------------------------------------------------------------------------------------------
// Reading the current table

export interface SavedRule {
  readonly chain: string;
  /** Everything after `-A <chain> `, verbatim, so it can be replayed as `-D <chain> <spec>`. */
  readonly spec: string;
  /** The `-j`/`-g` target, if any. */
  readonly target?: string;
}

export interface NatTable {
  /** Chains in declaration order (built-in and user-defined). */
  readonly chains: readonly string[];
  /** Rules in table order. */
  readonly rules: readonly SavedRule[];
}

/** Splits a rule spec into words the way iptables-restore does: double quotes group, `\` escapes. */
export function tokenizeRuleSpec(spec: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < spec.length; i++) {
    const ch = spec[i];
    if (ch === '\\' && i + 1 < spec.length) {
      word += spec[++i];
      inWord = true;
    } else if (ch === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function ruleTarget(spec: string): string | undefined {
  const words = tokenizeRuleSpec(spec);
  for (let i = 0; i < words.length - 1; i++) {
    if (words[i] === '-j' || words[i] === '-g' || words[i] === '--jump' || words[i] === '--goto') return words[i + 1];
  }
  return undefined;
}

/** Parses the `*nat` section of `iptables-save` output. An absent section is an empty table. */
export function parseNatTable(saveText: string): NatTable {
  return parseTable(saveText, 'nat');
}

/** Parses one table's section (`*nat`, `*filter`, ...) of `iptables-save`/`ip6tables-save` output. */
export function parseTable(saveText: string, name: string): NatTable {
  const chains: string[] = [];
  const rules: SavedRule[] = [];
  let inTable = false;
  for (const raw of saveText.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      inTable = line === `*${name}`;
      continue;
    }
    if (!inTable) continue;
    if (line === 'COMMIT') {
      inTable = false;
    } else if (line.startsWith(':')) {
      chains.push(line.slice(1).split(/\s+/)[0]);
    } else if (line.startsWith('-A ')) {
      const m = /^-A\s+(\S+)\s*(.*)$/.exec(line);
      if (m) rules.push({ chain: m[1], spec: m[2], target: ruleTarget(m[2]) });
    }
  }
  return { chains, rules };
}

/** Rules outside our chains that jump into them: the jumps init added to the built-in chains. */
export function findMeshtapJumps(table: NatTable, chains: readonly string[] = MESHTAP_CHAINS): SavedRule[] {
  const own = new Set(chains);
  return table.rules.filter((r) => !own.has(r.chain) && r.target !== undefined && own.has(r.target));
}

/** Every line of the table that init owns, normalised like `renderSavedRule`, in table order. */
export function meshtapLines(table: NatTable, chains: readonly string[] = MESHTAP_CHAINS): string[] {
  const own = new Set(chains);
  return table.rules
    .filter((r) => own.has(r.chain) || (r.target !== undefined && own.has(r.target)))
    .map((r) => `-A ${r.chain} ${r.spec}`);
}

/** True when the table already holds exactly the planned rules, with the jumps first in their chains. */
export function isApplied(rules: readonly Rule[], table: NatTable, chains: readonly string[] = MESHTAP_CHAINS): boolean {
  if (!chains.every((c) => table.chains.includes(c))) return false;
  // The jumps into a built-in chain lead it, in the plan's order.
  for (const [chain, jumps] of firstJumpsByChain(rules)) {
    const leading = table.rules.filter((r) => r.chain === chain).slice(0, jumps.length);
    if (leading.length !== jumps.length || jumps.some((jump, i) => leading[i].spec !== renderRuleSpec(jump))) return false;
  }
  return sameByChain(rules.map(renderSavedRule), meshtapLines(table, chains));
}

function firstJumpsByChain(rules: readonly Rule[]): Map<string, Rule[]> {
  const byChain = new Map<string, Rule[]>();
  for (const rule of rules) if (rule.first) byChain.set(rule.chain, [...(byChain.get(rule.chain) ?? []), rule]);
  return byChain;
}

/** Chains may be listed in any order by the backends; rules within a chain may not. */
function sameByChain(expected: string[], actual: string[]): boolean {
  const byChain = (lines: string[]) => {
    const groups = new Map<string, string[]>();
    for (const line of lines) {
      const chain = line.split(' ')[1];
      groups.set(chain, [...(groups.get(chain) ?? []), line]);
    }
    return JSON.stringify([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  };
  return byChain(expected) === byChain(actual);
}

// ---------------------------------------------------------------------------------------------
// Restore plans

export interface RestorePlan {
  /** `iptables-restore --noflush` input; empty when there is nothing to do. */
  readonly text: string;
  /** Existing jump rules the plan deletes (as `-D` lines). */
  readonly removedJumps: readonly string[];
  /** Our chains the plan deletes (cleanup only). */
  readonly removedChains: readonly string[];
  /** Rules the plan adds (apply only). */
  readonly added: readonly Rule[];
}

const EMPTY_TABLE: NatTable = Object.freeze({ chains: [], rules: [] });

/**
 * Converges the table to `rules` in one transaction: delete our old jumps, declare our chains
 * (iptables-restore --noflush flushes a declared chain that already exists), insert the jumps
 * at the head of PREROUTING and OUTPUT, append the chain contents. Anything else in the table,
 * a user's rules included, is left as it is.
 *
 * The jumps go first so that capture is decided before any other nat rule of the pod (a service
 * DNAT installed in the pod's own OUTPUT, say); the proxy's own connections RETURN and then
 * meet those rules as usual.
 */
export function planApply(config: RuleConfig, current: NatTable = EMPTY_TABLE): RestorePlan {
  return planTableApply('nat', MESHTAP_CHAINS, planRules(config), current);
}

/** `planApply` for any table and set of chains: the IPv6 rules converge the same way. */
export function planTableApply(name: string, chains: readonly string[], rules: Rule[], current: NatTable = EMPTY_TABLE): RestorePlan {
  const removedJumps = findMeshtapJumps(current, chains).map((r) => `-D ${r.chain} ${r.spec}`);
  const lines = [
    `*${name}`,
    ...chains.map((c) => `:${c} - [0:0]`),
    ...removedJumps,
    // Each `-I 1` goes before the previous one: inserted last to first, a chain's jumps end up in plan order.
    ...[...firstJumpsByChain(rules).values()].flatMap((jumps) => [...jumps].reverse().map((r) => `-I ${r.chain} 1 ${renderRuleSpec(r)}`)),
    ...rules.filter((r) => !r.first).map(renderSavedRule),
    'COMMIT',
  ];
  return { text: `${lines.join('\n')}\n`, removedJumps, removedChains: [], added: rules };
}

/**
 * Removes exactly what init adds: the jumps into our chains, then our chains. A table without
 * any of them gives an empty plan (cleanup is idempotent).
 */
export function planCleanup(current: NatTable): RestorePlan {
  return planTableCleanup('nat', MESHTAP_CHAINS, current);
}

/** `planCleanup` for any table and set of chains. */
export function planTableCleanup(name: string, chains: readonly string[], current: NatTable): RestorePlan {
  const removedJumps = findMeshtapJumps(current, chains).map((r) => `-D ${r.chain} ${r.spec}`);
  const removedChains = chains.filter((c) => current.chains.includes(c));
  if (removedJumps.length === 0 && removedChains.length === 0) {
    return { text: '', removedJumps, removedChains, added: [] };
  }
  // Flush every chain before deleting any: our chains jump into each other.
  const lines = [
    `*${name}`,
    ...removedJumps,
    ...removedChains.map((c) => `-F ${c}`),
    ...removedChains.map((c) => `-X ${c}`),
    'COMMIT',
  ];
  return { text: `${lines.join('\n')}\n`, removedJumps, removedChains, added: [] };
}

/** The nat table as it looks right after `planApply` on an empty table, for dry-run cleanup. */
export function appliedTable(config: RuleConfig): NatTable {
  const rules = planRules(config);
  return {
    chains: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING', ...MESHTAP_CHAINS],
    rules: rules.map((r) => ({ chain: r.chain, spec: renderRuleSpec(r), target: r.jump })),
  };
}

/** The plan `meshtap init` carries out for this config and table: apply, or cleanup. */
export function planRestore(config: RuleConfig & Pick<InitConfig, 'cleanup'>, current: NatTable = EMPTY_TABLE): RestorePlan {
  return config.cleanup ? planCleanup(current) : planApply(config, current);
}
