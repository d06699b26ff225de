/** The IPv6 DNS redirect planner, pure: the rules, their rendering, converging and cleanup. */
import t from 'tap';
import { resolveInitConfig } from '../../../sidecar/init/options.ts';
import { isApplied, renderSavedRule } from '../../../sidecar/init/plan.ts';
import {
  CHAIN_DNS6,
  MESHTAP_IPV6_NAT_CHAINS,
  appliedIpv6NatTable,
  parseIpv6NatTable,
  planIpv6DnsApply,
  planIpv6DnsCleanup,
  planIpv6DnsRestore,
  planIpv6DnsRules,
} from '../../../sidecar/init/plan-ipv6-dns.ts';

void t.test('IPv6 DNS goes to the DNS port, the proxy and excluded IPv6 CIDRs spared', async (t) => {
  const config = resolveInitConfig({ excludeOutboundCidrs: '10.0.0.0/8,fd00::/8', dnsPort: 5353, dnsServers: '10.96.0.10,fd00::10,2001:db8::53' });
  const rules = planIpv6DnsRules(config);
  t.same(rules.map(renderSavedRule), [
    '-A OUTPUT -p udp -m udp --dport 53 -m comment --comment "meshtap: outbound IPv6 DNS over UDP goes to the IPv6 DNS chain" -j MESHTAP_DNS6',
    '-A OUTPUT -p tcp -m tcp --dport 53 -m comment --comment "meshtap: outbound IPv6 DNS over TCP goes to the IPv6 DNS chain" -j MESHTAP_DNS6',
    '-A MESHTAP_DNS6 -m owner --uid-owner 1337 -m comment --comment "meshtap: DNS of the proxy uid 1337 is never captured" -j RETURN',
    '-A MESHTAP_DNS6 -m owner --gid-owner 1337 -m comment --comment "meshtap: DNS of the proxy gid 1337 is never captured" -j RETURN',
    '-A MESHTAP_DNS6 -d fd00::/8 -m comment --comment "meshtap: excluded outbound CIDR" -j RETURN',
    '-A MESHTAP_DNS6 -m recent --rcheck --seconds 5 --name MESHTAP_DNS6_DOWN --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource -m comment --comment "meshtap: the DNS listener refused this address in the last 5 s: DNS goes straight to the resolver" -j RETURN',
    '-A MESHTAP_DNS6 -d fd00::10/128 -p udp -m comment --comment "meshtap: IPv6 DNS over UDP to the resolver fd00::10 goes to the DNS listener" -j REDIRECT --to-ports 5353',
    '-A MESHTAP_DNS6 -d fd00::10/128 -p tcp -m comment --comment "meshtap: IPv6 DNS over TCP to the resolver fd00::10 goes to the DNS listener" -j REDIRECT --to-ports 5353',
    '-A MESHTAP_DNS6 -d 2001:db8::53/128 -p udp -m comment --comment "meshtap: IPv6 DNS over UDP to the resolver 2001:db8::53 goes to the DNS listener" -j REDIRECT --to-ports 5353',
    '-A MESHTAP_DNS6 -d 2001:db8::53/128 -p tcp -m comment --comment "meshtap: IPv6 DNS over TCP to the resolver 2001:db8::53 goes to the DNS listener" -j REDIRECT --to-ports 5353',
  ], 'only IPv6 CIDRs and resolvers here; the rules as ip6tables-save prints them');
  const text = planIpv6DnsApply(config).text;
  t.match(text, /^\*nat\n:MESHTAP_DNS6 - \[0:0\]\n/);
  t.equal(text.split('\n').filter((l) => l.startsWith('-I OUTPUT 1 ')).map((l) => /-p (\w+)/.exec(l)?.[1]).join(','), 'tcp,udp', 'inserted last to first: UDP ends up first');
  t.ok(isApplied(rules, appliedIpv6NatTable(config), MESHTAP_IPV6_NAT_CHAINS), 'an applied table is recognised');
  t.notOk(isApplied(planIpv6DnsRules(resolveInitConfig()), appliedIpv6NatTable(config), MESHTAP_IPV6_NAT_CHAINS), 'another config is not');
});

void t.test('off without DNS capture; cleanup removes exactly ours', async (t) => {
  for (const options of [{ dnsCapture: false }, { excludeOutboundPorts: '53' }]) {
    const config = resolveInitConfig(options);
    t.same(planIpv6DnsRules(config), [], `${JSON.stringify(options)}: no rule`);
    t.equal(planIpv6DnsApply(config).text, '*nat\n:MESHTAP_DNS6 - [0:0]\nCOMMIT\n', 'the chain is declared empty');
  }
  const table = parseIpv6NatTable(
    ['*nat', ':OUTPUT ACCEPT [0:0]', `:${CHAIN_DNS6} - [0:0]`, ...appliedIpv6NatTable(resolveInitConfig()).rules.map((r) => `-A ${r.chain} ${r.spec}`), '-A OUTPUT -d fd00::1/128 -j RETURN', 'COMMIT'].join('\n'),
  );
  const cleanup = planIpv6DnsCleanup(table);
  t.equal(cleanup.removedJumps.length, 2, 'both jumps');
  t.same(cleanup.removedChains, [CHAIN_DNS6]);
  t.notMatch(cleanup.text, /fd00::1/, 'the user rule stays');
  t.equal(planIpv6DnsCleanup(parseIpv6NatTable('')).text, '', 'nothing to clean');
  t.equal(planIpv6DnsRestore({ ...resolveInitConfig(), cleanup: true }, table).text, cleanup.text);
  const off = planIpv6DnsApply(resolveInitConfig({ dnsCapture: false }), table);
  t.equal(off.removedJumps.length, 2, 'switching DNS capture off removes the jumps');
});
