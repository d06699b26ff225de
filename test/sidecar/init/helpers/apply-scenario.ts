/**
 * `meshtap init` applied for real inside a pod's network namespace, with one backend: the
 * nat table (and the IPv6 filter table) hold exactly the planned rules, re-running changes
 * nothing, a tampered or differently configured table converges, cleanup restores the tables as
 * they were (a user's rule included), and a dry run touches nothing.
 */
import { rm } from 'node:fs/promises';
import type { Test } from 'tap';
import { PodNetwork, execInNetns, listNetns } from '../../../../lab/netns.ts';
import { writeNetnsEtc } from '../../../../lab/node-network.ts';
import { resolveInitConfig } from '../../../../sidecar/init/options.ts';
import { MESHTAP_CHAINS, meshtapLines, parseNatTable, planApply, planRules, renderSavedRule } from '../../../../sidecar/init/plan.ts';
import { MESHTAP_IPV6_CHAINS, parseIpv6Table, planIpv6Apply, planIpv6Rules } from '../../../../sidecar/init/plan-ipv6.ts';
import { MESHTAP_IPV6_NAT_CHAINS, parseIpv6NatTable, planIpv6DnsRules } from '../../../../sidecar/init/plan-ipv6-dns.ts';
import { ip6FilterState, iptablesIn, natState, runInitIn, type Backend } from './init-harness.ts';

const USER_RULE = ['-t', 'nat', '-A', 'OUTPUT', '-d', '10.99.0.0/16', '-p', 'tcp', '-m', 'comment', '--comment', 'user rule', '-j', 'RETURN'];
const USER_RULE_SAVED = '-A OUTPUT -d 10.99.0.0/16 -p tcp -m comment --comment "user rule" -j RETURN';

const USER_RULE6 = ['-t', 'filter', '-A', 'INPUT', '-s', 'fd00:99::/32', '-p', 'tcp', '-m', 'comment', '--comment', 'user rule', '-j', 'ACCEPT'];
const USER_RULE6_SAVED = '-A INPUT -s fd00:99::/32 -p tcp -m comment --comment "user rule" -j ACCEPT';

// The IPv6 CIDRs are written unlike ip6tables-save prints them: a re-run must still find them in place.
const CIDRS = '10.96.0.0/16,169.254.169.254,FD00:0:0:7::1/64,2001:db8:0:0::1,::ffff:10.0.0.1/104';
const ARGS = ['--exclude-inbound-ports=22,8081', '--exclude-outbound-ports=9090', `--exclude-outbound-cidrs=${CIDRS}`];
/** The pod's resolv.conf: init redirects only DNS to these (read from the file, as in a pod). */
const RESOLV_CONF = 'search default.svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::10\n';
const OPTIONS = { excludeInboundPorts: '22,8081', excludeOutboundPorts: '9090', excludeOutboundCidrs: CIDRS, dnsServers: '10.96.0.10,fd00::10' };

/** Our lines grouped by chain: the backends may list user chains in different orders. */
function byChain(lines: string[]): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const line of lines) (groups[line.split(' ')[1]] ??= []).push(line);
  return groups;
}

const other = (backend: Backend): Backend => (backend === 'nft' ? 'legacy' : 'nft');

/** The whole life of the rules in one pod, with one backend. */
export async function applyScenario(t: Test, backend: Backend): Promise<void> {
  const net = new PodNetwork();
  t.teardown(() => net.destroy());
  await net.create();
  const pod = await net.addPod('a');
  // `ip netns exec` bind-mounts /etc/netns/<netns>/resolv.conf over /etc/resolv.conf.
  const etcDir = `/etc/netns/${pod.netns}`;
  t.teardown(() => rm(etcDir, { recursive: true, force: true }));
  await writeNetnsEtc(etcDir, { 'resolv.conf': RESOLV_CONF });
  const run = async (args: string[]) => {
    const exit = await runInitIn(pod.netns, [...args, `--backend=${backend}`]);
    t.equal(exit.code, 0, `meshtap init ${args.join(' ')} exits 0`, { stderr: exit.stderr });
    return exit;
  };

  await iptablesIn(pod.netns, backend, USER_RULE);
  await execInNetns(pod.netns, `ip6tables-${backend}`, USER_RULE6);
  const pristine = await natState(pod.netns, backend);
  const pristine6 = await ip6FilterState(pod.netns, backend);
  t.match(pristine, USER_RULE_SAVED, 'the user rule is in place');
  t.match(pristine6, USER_RULE6_SAVED, 'and the IPv6 one');
  const otherPristine = await natState(pod.netns, other(backend));
  const otherPristine6 = await ip6FilterState(pod.netns, other(backend));

  const dry = await run([...ARGS, '--dry-run']);
  const [dry4, dry6] = dry.stdout.split(/(?=^# meshtap init --dry-run: ip6tables)/m);
  t.equal(dry4.replace(/^#.*\n/, ''), planApply(resolveInitConfig(OPTIONS)).text, 'dry run prints the restore text');
  t.equal(dry6.replace(/^#.*\n/, ''), planIpv6Apply(resolveInitConfig(OPTIONS)).text, 'and the IPv6 restore text');
  t.equal(await natState(pod.netns, backend), pristine, 'dry run changed nothing');
  await t.resolves(execInNetns(pod.netns, `iptables-${backend}-restore`, ['--test', '--noflush'], dry4), 'iptables-restore --test accepts the dry-run output as printed');
  await t.resolves(execInNetns(pod.netns, `ip6tables-${backend}-restore`, ['--test', '--noflush'], dry6), 'ip6tables-restore --test accepts the IPv6 part as printed');
  t.equal(await natState(pod.netns, backend), pristine, 'and testing it changed nothing either');
  t.equal(await ip6FilterState(pod.netns, backend), pristine6, 'in either family');

  const applied = await run(ARGS);
  t.match(applied.stdout, /applied 29 nat rules/, 'says what it did');
  const state = await natState(pod.netns, backend);
  const expected = planRules(resolveInitConfig(OPTIONS)).map(renderSavedRule);
  t.same(byChain(meshtapLines(parseNatTable(state))), byChain(expected), 'the table holds exactly the planned rules');
  for (const chain of MESHTAP_CHAINS) t.match(state, `:${chain} - [0:0]`, `chain ${chain} exists`);
  t.match(state, USER_RULE_SAVED, 'the user rule survives apply');
  const output = parseNatTable(state).rules.filter((r) => r.chain === 'OUTPUT');
  t.equal(output[0].target, 'MESHTAP_OUTPUT', 'the capture jump comes first in OUTPUT');
  t.equal(output[1].target, 'MESHTAP_DNS', 'then the DNS (UDP) jump');
  t.equal(output.length, 3, 'OUTPUT holds our two jumps and the user rule only');
  t.equal(parseNatTable(state).rules.filter((r) => r.chain === 'PREROUTING')[0]?.target, 'MESHTAP_INBOUND', 'PREROUTING jumps first');
  t.equal(await natState(pod.netns, other(backend)), otherPristine, `the ${other(backend)} backend is untouched`);

  t.match(applied.stdout, /applied 16 IPv6 filter rules/, 'says what it did for IPv6');
  t.match(applied.stdout, /applied 10 IPv6 nat rules in chain MESHTAP_DNS6/, 'and for IPv6 DNS');
  t.match(applied.stdout, /applied 3 mangle rules in chain MESHTAP_DNS_WATCH: DNS bypasses a sidecar that is not listening/, 'and the DNS watch');
  t.match(applied.stdout, /applied 3 IPv6 mangle rules in chain MESHTAP_DNS_WATCH/, 'for both families');
  const mangle = await ip6FilterState(pod.netns, backend, 'mangle');
  t.match(mangle, /-A OUTPUT -o lo -m comment --comment "meshtap: refusals of the DNS listener are watched" -j MESHTAP_DNS_WATCH/, 'the IPv6 watch jump is in mangle OUTPUT');
  const nat6 = await ip6FilterState(pod.netns, backend, 'nat');
  t.same(
    byChain(meshtapLines(parseIpv6NatTable(nat6), MESHTAP_IPV6_NAT_CHAINS)),
    byChain(planIpv6DnsRules(resolveInitConfig(OPTIONS)).map(renderSavedRule)),
    'the IPv6 nat table holds exactly the planned DNS rules',
  );
  const state6 = await ip6FilterState(pod.netns, backend);
  const expected6 = planIpv6Rules(resolveInitConfig(OPTIONS)).map(renderSavedRule);
  t.same(byChain(meshtapLines(parseIpv6Table(state6), MESHTAP_IPV6_CHAINS)), byChain(expected6), 'the IPv6 filter table holds exactly the planned rules');
  t.match(state6, USER_RULE6_SAVED, 'the IPv6 user rule survives apply');
  t.equal(parseIpv6Table(state6).rules.filter((r) => r.chain === 'INPUT')[0]?.target, 'MESHTAP_INBOUND6', 'INPUT jumps first');
  t.equal(parseIpv6Table(state6).rules.filter((r) => r.chain === 'OUTPUT')[0]?.target, 'MESHTAP_OUTPUT6', 'OUTPUT jumps first');
  t.equal(await ip6FilterState(pod.netns, other(backend)), otherPristine6, `the ${other(backend)} IPv6 tables are untouched`);

  const again = await run(ARGS);
  t.match(again.stdout, /the nat rules are already in place/, 'a re-run notices the rules are in place');
  t.match(again.stdout, /the IPv6 filter rules are already in place/, 'the IPv6 ones too (the CIDRs are written as ip6tables-save prints them)');
  t.match(again.stdout, /the mangle DNS watch rules are already in place/, 'the DNS watch is written as iptables-save prints it');
  t.match(again.stdout, /the IPv6 mangle DNS watch rules are already in place/, 'in both families');
  t.equal(await natState(pod.netns, backend), state, 're-running leaves the identical table');
  t.equal(await ip6FilterState(pod.netns, backend), state6, 'and the identical IPv6 table');

  // Someone deleted one of our IPv6 rules and added a second jump: a re-run repairs both.
  await execInNetns(pod.netns, `ip6tables-${backend}`, ['-t', 'filter', '-D', 'MESHTAP_OUTPUT6', '2']);
  await execInNetns(pod.netns, `ip6tables-${backend}`, ['-t', 'filter', '-A', 'OUTPUT', '-p', 'tcp', '-j', 'MESHTAP_OUTPUT6']);
  const repaired6 = await run(ARGS);
  t.match(repaired6.stdout, /the nat rules are already in place/, 'the IPv4 side is left alone');
  t.match(repaired6.stdout, /applied 16 IPv6 filter rules .*replacing 3 previous jumps/, 'the IPv6 side is converged');
  t.equal(await ip6FilterState(pod.netns, backend), state6, 'a re-run repairs a tampered IPv6 table');

  // Someone deleted one of our rules and added a second jump: a re-run repairs both.
  await iptablesIn(pod.netns, backend, ['-t', 'nat', '-D', 'MESHTAP_OUTPUT', '3']);
  await iptablesIn(pod.netns, backend, ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-j', 'MESHTAP_OUTPUT']);
  t.not(await natState(pod.netns, backend), state, 'the table was tampered with');
  const repaired = await run(ARGS);
  t.match(repaired.stdout, /replacing 4 previous jumps/, 'every jump (both into MESHTAP_OUTPUT, one into MESHTAP_INBOUND, one into MESHTAP_DNS) was replaced');
  t.equal(await natState(pod.netns, backend), state, 'a re-run repairs a tampered table');

  const changed = await run(['--inbound-port=16006', '--proxy-uid=2000']);
  const changedState = await natState(pod.netns, backend);
  const changedExpected = planRules(resolveInitConfig({ inboundPort: 16006, proxyUid: 2000, dnsServers: OPTIONS.dnsServers })).map(renderSavedRule);
  t.same(byChain(meshtapLines(parseNatTable(changedState))), byChain(changedExpected), 'a new config replaces every old rule');
  t.notMatch(changedState, /15006|--uid-owner 1337|8081|9090/, 'nothing stale remains');
  t.match(changed.stdout, /--to-ports 16006/, 'prints the rules it applied');
  await run(ARGS);
  t.equal(await natState(pod.netns, backend), state, 'and back again');

  // DNS capture switched off and on again converges like any other change.
  const noDns = await run([...ARGS, '--no-dns-capture']);
  t.match(noDns.stdout, /applied 20 nat rules/, 'without DNS capture, fewer rules');
  const noDnsState = await natState(pod.netns, backend);
  t.notMatch(noDnsState, /-p udp|--dport 53 |-j MESHTAP_DNS/, 'nothing redirects or jumps to DNS any more');
  t.match(noDnsState, ':MESHTAP_DNS - [0:0]', 'the empty DNS chain stays declared');
  await run(ARGS);
  t.equal(await natState(pod.netns, backend), state, 'DNS capture back on: the identical table');

  const cleaned = await run(['--cleanup']);
  t.match(cleaned.stdout, /removed 3 jumps and 5 chains/, 'cleanup says what it removed');
  t.match(cleaned.stdout, /removed 2 IPv6 jumps and 2 IPv6 chains \(MESHTAP_INBOUND6, MESHTAP_OUTPUT6\)/, 'and on the IPv6 side');
  t.match(cleaned.stdout, /removed 1 mangle jump and 1 mangle chain \(MESHTAP_DNS_WATCH\)/, 'and the DNS watch');
  t.notMatch(await ip6FilterState(pod.netns, backend, 'mangle'), /MESHTAP/, 'the IPv6 mangle table is clean');
  t.equal(await natState(pod.netns, backend), pristine, 'cleanup restores the table exactly, user rule included');
  t.equal(await ip6FilterState(pod.netns, backend), pristine6, 'and the IPv6 table, its user rule included');
  t.notMatch(await ip6FilterState(pod.netns, backend, 'nat'), /MESHTAP/, 'and the IPv6 DNS rules are gone');
  const cleanedAgain = await run(['--cleanup']);
  t.match(cleanedAgain.stdout, /nothing to remove/, 'cleanup is idempotent');
  t.equal(await natState(pod.netns, backend), pristine, 'still pristine');
  t.equal(await ip6FilterState(pod.netns, backend), pristine6, 'IPv6 still pristine');
  t.equal(await ip6FilterState(pod.netns, other(backend)), otherPristine6, `the ${other(backend)} IPv6 tables are still untouched`);
  t.equal(await natState(pod.netns, other(backend)), otherPristine, `the ${other(backend)} backend is still untouched`);

  const dryCleanup = await run(['--cleanup', '--dry-run']);
  t.match(dryCleanup.stdout, /-X MESHTAP_OUTPUT/, 'a dry-run cleanup prints the cleanup plan');
  t.equal(await natState(pod.netns, backend), pristine, 'and changes nothing');

  await net.destroy();
  t.same(await listNetns(net.prefix), [], 'namespace removed');
}
