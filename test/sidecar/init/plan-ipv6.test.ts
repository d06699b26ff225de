/**
 * The IPv6 planner, pure: golden restore texts for each fixture in test/fixtures/init-ipv6
 * (refreshed only with MESHTAP_UPDATE_GOLDEN=1; a missing, stale or orphaned golden fails), the
 * promises of the rules, and IPv6 CIDRs written the way ip6tables-save prints them.
 */
import t from 'tap';
import fc from 'fast-check';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatIpv6, parseIpv6Cidr } from '../../../sidecar/init/ipv6-cidr.ts';
import { resolveInitConfig, type InitOptions } from '../../../sidecar/init/options.ts';
import { isApplied, planRules, renderRuleSpec, renderSavedRule, type Rule } from '../../../sidecar/init/plan.ts';
import {
  CHAIN_INBOUND6,
  CHAIN_OUTPUT6,
  MESHTAP_IPV6_CHAINS,
  appliedIpv6Table,
  parseIpv6Table,
  planIpv6Cleanup,
  planIpv6Restore,
  planIpv6Rules,
} from '../../../sidecar/init/plan-ipv6.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/init-ipv6');
const UPDATE = process.env.MESHTAP_UPDATE_GOLDEN === '1';

interface Fixture {
  description: string;
  options: InitOptions;
  filter?: string[];
}

void t.test('golden restore texts', async (t) => {
  const files = await readdir(FIXTURES);
  const cases = files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
  t.ok(cases.length >= 6, 'fixtures are found');
  for (const golden of files.filter((f) => f.endsWith('.golden.txt'))) {
    t.ok(cases.includes(golden.slice(0, -'.golden.txt'.length)), `${golden} belongs to a fixture`);
  }
  for (const name of cases) {
    const fixture = JSON.parse(await readFile(path.join(FIXTURES, `${name}.json`), 'utf8')) as Fixture;
    const config = resolveInitConfig(fixture.options);
    const actual = planIpv6Restore(config, parseIpv6Table((fixture.filter ?? []).join('\n'))).text;
    const goldenPath = path.join(FIXTURES, `${name}.golden.txt`);
    if (UPDATE) {
      await writeFile(goldenPath, actual);
      t.pass(`${name}: golden written`);
      continue;
    }
    const golden = await readFile(goldenPath, 'utf8').catch(() => undefined);
    if (golden === undefined) {
      t.fail(`${name}: ${name}.golden.txt is missing; review the plan and run with MESHTAP_UPDATE_GOLDEN=1`);
      continue;
    }
    t.equal(actual, golden, `${name}: ${fixture.description}`);
  }
});

void t.test('the IPv6 rules keep their promises', async (t) => {
  const config = resolveInitConfig({ excludeInboundPorts: [8081], excludeOutboundPorts: [9090], excludeOutboundCidrs: '10.96.0.0/12,fd00::/8' });
  const rules = planIpv6Rules(config);
  t.same(MESHTAP_IPV6_CHAINS, ['MESHTAP_INBOUND6', 'MESHTAP_OUTPUT6']);
  t.same(
    rules.filter((r) => r.first).map((r) => [r.chain, r.jump]),
    [
      ['INPUT', CHAIN_INBOUND6],
      ['OUTPUT', CHAIN_OUTPUT6],
    ],
    'one jump from INPUT and one from OUTPUT',
  );
  for (const r of rules) t.match(renderRuleSpec(r), /-p tcp .*-m comment --comment "meshtap: [^"]+" -j /, `TCP only, with a comment: ${r.why}`);
  t.notOk(rules.some((r) => r.jump === 'REDIRECT' || r.jump === 'ACCEPT' || r.jump === 'DROP'), 'nothing is redirected, accepted or dropped: only RETURN or REJECT');
  for (const chain of [CHAIN_INBOUND6, CHAIN_OUTPUT6]) {
    const inChain = rules.filter((r) => r.chain === chain);
    const last = inChain[inChain.length - 1];
    t.same([last.jump, last.rejectWith, last.syn], ['REJECT', 'tcp-reset', true], `${chain} ends refusing new connections with a reset`);
    t.ok(inChain.slice(0, -1).every((r) => r.jump === 'RETURN'), `${chain}: every other rule is an exception`);
  }
  const exceptions = (chain: string, pick: (r: Rule) => unknown) => rules.filter((r) => r.chain === chain && r.jump === 'RETURN').map(pick).filter((v) => v !== undefined);
  t.same(exceptions(CHAIN_INBOUND6, (r) => r.inInterface ?? r.dport), ['lo', 15020, 8081], 'inbound: loopback, admin port, excluded inbound ports');
  t.same(
    exceptions(CHAIN_OUTPUT6, (r) => r.outInterface ?? r.owner ?? r.destination?.cidr ?? r.dport),
    ['lo', '::1/128', { uid: 1337 }, { gid: 1337 }, 'fd00::/8', 9090],
    'outbound: loopback (by interface, and DNS redirected to ::1 by address), proxy uid and gid, IPv6 CIDRs only, excluded outbound ports',
  );
  t.notMatch(planRules(config).map(renderSavedRule).join('\n'), /fd00/, 'and the IPv4 rules hold no IPv6 CIDR');
  t.equal(
    renderSavedRule(rules[rules.length - 1]),
    '-A MESHTAP_OUTPUT6 -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m comment --comment "meshtap: outbound IPv6 TCP is not captured, so it is refused rather than bypass the sidecar" -j REJECT --reject-with tcp-reset',
    'rendered as ip6tables-save prints it',
  );
});

void t.test('converging and cleaning up', async (t) => {
  const config = resolveInitConfig({ excludeOutboundCidrs: 'fd00::/8' });
  const applied = appliedIpv6Table(config);
  t.ok(isApplied(planIpv6Rules(config), applied, MESHTAP_IPV6_CHAINS), 'an applied table is recognised');
  t.notOk(isApplied(planIpv6Rules(resolveInitConfig()), applied, MESHTAP_IPV6_CHAINS), 'another config is not');
  t.notOk(isApplied(planIpv6Rules(config), { ...applied, rules: applied.rules.slice(0, -1) }, MESHTAP_IPV6_CHAINS), 'a missing rule is noticed');
  const cleanup = planIpv6Cleanup(applied);
  t.same(cleanup.removedChains, MESHTAP_IPV6_CHAINS);
  t.equal(cleanup.removedJumps.length, 2);
  t.equal(planIpv6Cleanup(parseIpv6Table('')).text, '', 'nothing to clean, empty plan');
  t.same(parseIpv6Table('*nat\n:MESHTAP_INBOUND6 - [0:0]\nCOMMIT\n').chains, [], 'only the filter table is read');
});

void t.test('IPv6 CIDRs as ip6tables-save prints them', async (t) => {
  const cases: Array<[string, string]> = [
    ['FD00:0:0:1::7/64', 'fd00:0:0:1::/64'],
    ['2001:db8::1', '2001:db8::1/128'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001/128', '2001:db8::1/128'],
    ['::/0', '::/0'],
    ['::1', '::1/128'],
    ['fe80::1:2/10', 'fe80::/10'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3/128'],
    ['1:0:2:0:0:3:0:0', '1:0:2::3:0:0/128'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0/128'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1/128'],
    ['::ffff:a00:1/104', '::ffff:10.0.0.0/104'],
    ['::10.1.2.3', '::10.1.2.3/128'],
  ];
  for (const [input, saved] of cases) t.same(parseIpv6Cidr(input), { cidr: saved }, input);
  for (const bad of ['fd00::/129', 'fd00::/08', 'fd00::/', 'fe80::1%eth0', 'fd00:::1', '10.0.0.0/8', 'fd00::/-1']) {
    t.match(parseIpv6Cidr(bad), { error: /IPv6 CIDR/ }, `${bad} is refused`);
  }
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (groups) => {
      const text = formatIpv6(groups);
      const back = parseIpv6Cidr(text);
      return 'cidr' in back && back.cidr === `${text}/128` && new URL(`http://[${text}]`).hostname === new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]`).hostname;
    }),
    { seed: 1337, numRuns: 500 },
  );
});

void t.test('the IPv6 DNS exception follows DNS capture and its port', async (t) => {
  const dnsReturn = (options: Parameters<typeof resolveInitConfig>[0]) =>
    planIpv6Rules(resolveInitConfig(options)).filter((r) => r.chain === CHAIN_OUTPUT6 && r.destination?.cidr === '::1/128');
  t.same(dnsReturn({}).map((r) => [r.dport, r.jump]), [[15053, 'RETURN']], 'TCP to the DNS listener on ::1 is not refused');
  t.same(dnsReturn({ dnsPort: 5353 }).map((r) => r.dport), [5353]);
  t.same(dnsReturn({ dnsCapture: false }), [], 'without DNS capture there is no exception');
});
