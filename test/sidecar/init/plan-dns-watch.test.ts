/**
 * The DNS fail-open watch (plan-dns-watch.ts) as text: what it matches, per family, and that it
 * follows DNS capture on and off. The real kernel behaviour is tested in test/system/dns.test.ts.
 */
import t from 'tap';
import { resolveInitConfig } from '../../../sidecar/init/options.ts';
import { CHAIN_DNS_WATCH, planDnsWatchApply, planDnsWatchCleanup, planDnsWatchRules, appliedDnsWatchTable, parseDnsWatchTable } from '../../../sidecar/init/plan-dns-watch.ts';
import { dnsBypassRule } from '../../../sidecar/init/dns-bypass.ts';
import { planRules, renderSavedRule } from '../../../sidecar/init/plan.ts';

void t.test('the watch keys on the redirected DNS flow and the configured DNS port', async (t) => {
  const config = resolveInitConfig({ dnsPort: 5353, dnsServers: '10.96.0.10' });
  const v4 = planDnsWatchRules(config, 4).map(renderSavedRule);
  t.equal(v4.length, 3);
  t.match(v4[0], /^-A OUTPUT -o lo .* -j MESHTAP_DNS_WATCH$/, 'only loopback packets are looked at');
  t.match(v4[1], /-p icmp -m icmp --icmp-type 3\/3 -m conntrack --ctstate RELATED --ctproto 17 --ctorigdstport 53 --ctreplsrcport 5353 -m recent --set --name MESHTAP_DNS_DOWN/);
  t.match(v4[2], /-p tcp -m tcp --tcp-flags RST RST -m conntrack --ctproto 6 --ctorigdstport 53 --ctreplsrcport 5353 --ctdir REPLY -m recent --set --name MESHTAP_DNS_DOWN .* --rdest/);
  const v6 = planDnsWatchRules(config, 6).map(renderSavedRule);
  t.match(v6[1], /-p ipv6-icmp -m icmp6 --icmpv6-type 1\/4 .* --name MESHTAP_DNS6_DOWN --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rdest/);
  const nat = planRules(config);
  const bypass = nat.findIndex((r) => r.matches === dnsBypassRule('MESHTAP_DNS', 4).matches);
  const redirect = nat.findIndex((r) => r.chain === 'MESHTAP_DNS' && r.jump === 'REDIRECT');
  t.ok(bypass >= 0 && bypass < redirect, 'the nat side checks the list before redirecting');
});

void t.test('off without DNS capture; cleanup removes exactly ours', async (t) => {
  for (const options of [{ dnsCapture: false }, { excludeOutboundPorts: '53' }]) {
    t.same(planDnsWatchRules(resolveInitConfig(options), 4), [], `${JSON.stringify(options)}: no rule`);
    t.equal(planDnsWatchApply(resolveInitConfig(options), 4).text, `*mangle\n:${CHAIN_DNS_WATCH} - [0:0]\nCOMMIT\n`, 'the chain is declared empty');
  }
  const applied = appliedDnsWatchTable(resolveInitConfig(), 4);
  const save = ['*mangle', ':OUTPUT ACCEPT [0:0]', `:${CHAIN_DNS_WATCH} - [0:0]`, ...applied.rules.map((r) => `-A ${r.chain} ${r.spec}`), '-A OUTPUT -p udp -j MARK --set-mark 7', 'COMMIT'].join('\n');
  const cleanup = planDnsWatchCleanup(parseDnsWatchTable(save));
  t.same(cleanup.removedChains, [CHAIN_DNS_WATCH]);
  t.equal(cleanup.removedJumps.length, 1);
  t.notMatch(cleanup.text, /set-mark/, 'the user rule stays');
  t.equal(planDnsWatchCleanup(parseDnsWatchTable('')).text, '', 'nothing to clean');
});
