/**
 * The planner, pure: golden restore texts for each fixture in test/fixtures/init (refreshed
 * only with MESHTAP_UPDATE_GOLDEN=1; a missing, stale or orphaned golden fails), and the
 * properties the rules must keep whatever the config.
 */
import t from 'tap';
import fc from 'fast-check';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveInitConfig, type InitOptions } from '../../../sidecar/init/options.ts';
import {
  CHAIN_INBOUND,
  CHAIN_IN_REDIRECT,
  CHAIN_OUTPUT,
  CHAIN_REDIRECT,
  CHAIN_DNS,
  INBOUND_PASSTHROUGH_SOURCE,
  MESHTAP_CHAINS,
  appliedTable,
  capturesDns,
  findMeshtapJumps,
  isApplied,
  parseNatTable,
  planApply,
  planCleanup,
  planRestore,
  planRules,
  renderRuleSpec,
  renderSavedRule,
  tokenizeRuleSpec,
  type Rule,
} from '../../../sidecar/init/plan.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/init');
const UPDATE = process.env.MESHTAP_UPDATE_GOLDEN === '1';

interface Fixture {
  description: string;
  options: InitOptions;
  nat?: string[];
}

void t.test('golden restore texts', async (t) => {
  const files = await readdir(FIXTURES);
  const cases = files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
  t.ok(cases.length >= 7, 'fixtures are found');
  for (const golden of files.filter((f) => f.endsWith('.golden.txt'))) {
    t.ok(cases.includes(golden.slice(0, -'.golden.txt'.length)), `${golden} belongs to a fixture`);
  }
  for (const name of cases) {
    const fixture = JSON.parse(await readFile(path.join(FIXTURES, `${name}.json`), 'utf8')) as Fixture;
    const config = resolveInitConfig(fixture.options);
    const actual = planRestore(config, parseNatTable((fixture.nat ?? []).join('\n'))).text;
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

/** The defaults on a pod whose resolv.conf names one resolver. */
const defaults = resolveInitConfig({}, {}, 'nameserver 10.96.0.10\n');

function index(rules: Rule[], predicate: (r: Rule) => boolean, what: string): number {
  const i = rules.findIndex(predicate);
  if (i < 0) throw new Error(`no rule ${what}`);
  return i;
}

void t.test('the rules keep their promises', async (t) => {
  const config = resolveInitConfig({ excludeInboundPorts: [8081], excludeOutboundPorts: [9090], excludeOutboundCidrs: ['10.96.0.0/12'], dnsServers: '10.96.0.10' });
  const rules = planRules(config);
  t.equal(INBOUND_PASSTHROUGH_SOURCE, '127.0.0.6', 'the inbound passthrough source is the contract address');
  t.same(MESHTAP_CHAINS, ['MESHTAP_INBOUND', 'MESHTAP_IN_REDIRECT', 'MESHTAP_OUTPUT', 'MESHTAP_REDIRECT', 'MESHTAP_DNS']);
  t.same(planRules(config), rules, 'same config, same rules');

  t.same(
    rules.filter((r) => r.first).map((r) => [r.chain, r.jump]),
    [
      ['PREROUTING', CHAIN_INBOUND],
      ['OUTPUT', CHAIN_OUTPUT],
      ['OUTPUT', CHAIN_DNS],
    ],
    'one jump from PREROUTING, one from OUTPUT for TCP and one for DNS over UDP',
  );
  for (const r of rules) {
    const renders = renderRuleSpec(r);
    t.match(renders, /-m comment --comment "meshtap: [^"]+" -j /, `${r.chain} rule carries a meshtap comment: ${r.why}`);
    // Only TCP, except DNS: UDP port 53 and the DNS chain's own rules.
    if (r.chain !== CHAIN_DNS && r.jump !== CHAIN_DNS) t.match(renders, /^(! )?(-[sd] \S+ )?(-[io] \S+ )?-p tcp /, `${r.chain} rule is TCP only: ${r.why}`);
  }
  const udp = rules.filter((r) => renderRuleSpec(r).includes('-p udp'));
  t.same(
    udp.map((r) => [r.chain, r.dport, r.jump, r.toPort]),
    [
      ['OUTPUT', 53, CHAIN_DNS, undefined],
      [CHAIN_DNS, undefined, 'REDIRECT', 15053],
    ],
    'the only UDP rules: port 53 into the DNS chain, the resolver\'s redirected to the DNS port',
  );
  t.same(
    rules.filter((r) => r.jump === 'REDIRECT').map((r) => [r.chain, r.protocol ?? 'tcp', r.toPort]),
    [
      [CHAIN_IN_REDIRECT, 'tcp', 15006],
      [CHAIN_REDIRECT, 'tcp', 15001],
      [CHAIN_DNS, 'udp', 15053],
      [CHAIN_DNS, 'tcp', 15053],
    ],
    'the only redirects: inbound to 15006, outbound to 15001, DNS (UDP and TCP) to 15053',
  );
  t.same(
    rules.filter((r) => r.chain === CHAIN_DNS && r.jump === 'REDIRECT').map((r) => r.destination),
    [{ cidr: '10.96.0.10/32' }, { cidr: '10.96.0.10/32' }],
    'only DNS to the resolver is redirected: a query the app sends another server goes there',
  );
  const dns = rules.filter((r) => r.chain === CHAIN_DNS);
  const firstRedirect = dns.findIndex((r) => r.jump === 'REDIRECT');
  for (const [what, predicate] of [
    ['proxy uid', (r: Rule) => r.owner?.uid === 1337 && !r.owner.negate],
    ['proxy gid', (r: Rule) => r.owner?.gid === 1337 && !r.owner.negate],
    ['excluded CIDR', (r: Rule) => r.destination?.cidr === '10.96.0.0/12'],
  ] as const) {
    const i = index(dns, predicate, what);
    t.ok(i < firstRedirect && dns[i].jump === 'RETURN' && dns[i].protocol === 'all', `DNS of the ${what} returns (any protocol) before the DNS redirects`);
  }

  const inbound = rules.filter((r) => r.chain === CHAIN_INBOUND);
  const captureIn = inbound.findIndex((r) => r.jump === CHAIN_IN_REDIRECT);
  t.equal(captureIn, inbound.length - 1, 'inbound capture is the last inbound rule');
  for (const port of [15020, 8081]) {
    const i = inbound.findIndex((r) => r.dport === port && r.jump === 'RETURN');
    t.ok(i >= 0 && i < captureIn, `inbound port ${port} returns before the capture`);
  }

  const output = rules.filter((r) => r.chain === CHAIN_OUTPUT);
  t.same([output[0].dport, output[0].protocol ?? 'tcp', output[0].jump], [53, 'tcp', CHAIN_DNS], 'DNS over TCP leaves the outbound chain first: it never reaches the outbound listener');
  t.same(output[1].source, { cidr: '127.0.0.6/32' }, 'then the passthrough rule');
  t.equal(output[1].outInterface, 'lo');
  t.equal(output[1].jump, 'RETURN');
  for (const kind of ['uid', 'gid'] as const) {
    const hairpin = index(output, (r) => r.owner?.[kind] === 1337 && !r.owner.negate && r.jump === CHAIN_INBOUND, `${kind} hairpin`);
    const ownerReturn = index(output, (r) => r.owner?.[kind] === 1337 && !r.owner.negate && r.jump === 'RETURN' && !r.outInterface, `${kind} return`);
    t.ok(hairpin < ownerReturn, `proxy ${kind} calling its own pod is sent inbound before the proxy ${kind} RETURN`);
    t.same(output[hairpin].destination, { cidr: '127.0.0.1/32', negate: true }, `${kind} hairpin spares 127.0.0.1`);
    t.equal(output[hairpin].outInterface, 'lo');
  }
  const capture = index(output, (r) => r.jump === CHAIN_REDIRECT, 'capture');
  t.equal(capture, output.length - 1, 'outbound capture is the last outbound rule');
  for (const [what, predicate] of [
    ['localhost', (r: Rule) => r.destination?.cidr === '127.0.0.1/32' && !r.destination.negate],
    ['excluded CIDR', (r: Rule) => r.destination?.cidr === '10.96.0.0/12'],
    ['excluded port', (r: Rule) => r.dport === 9090],
    ['app on loopback', (r: Rule) => r.outInterface === 'lo' && r.owner?.negate === true],
  ] as const) {
    t.equal(output[index(output, predicate, what)].jump, 'RETURN', `${what} returns before the capture`);
  }
});

void t.test('rendering matches iptables-save', async (t) => {
  const rules = planRules(resolveInitConfig({ excludeInboundPorts: [22] }));
  t.equal(
    renderSavedRule(rules.find((r) => r.owner?.uid !== undefined && r.jump === CHAIN_INBOUND)!),
    '-A MESHTAP_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --uid-owner 1337 -m comment --comment "meshtap: proxy uid 1337 calling its own pod goes through the inbound side" -j MESHTAP_INBOUND',
  );
  t.equal(
    renderSavedRule(rules.find((r) => r.dport === 22)!),
    '-A MESHTAP_INBOUND -p tcp -m tcp --dport 22 -m comment --comment "meshtap: excluded inbound port" -j RETURN',
  );
  const text = planApply(defaults).text;
  t.match(text, /^\*nat\n:MESHTAP_INBOUND - \[0:0\]\n/, 'declares the chains first');
  t.match(text, /\n-I PREROUTING 1 -p tcp /, 'inserts the PREROUTING jump at the head');
  t.match(text, /\n-I OUTPUT 1 -p tcp /, 'inserts the OUTPUT jump at the head');
  t.match(text, /\nCOMMIT\n$/, 'one transaction');
});

void t.test('reading iptables-save', async (t) => {
  t.same(tokenizeRuleSpec('-p tcp -m comment --comment "a \\"quoted\\" -j X" -j RETURN'), ['-p', 'tcp', '-m', 'comment', '--comment', 'a "quoted" -j X', '-j', 'RETURN']);
  const table = parseNatTable(
    [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      '-A INPUT -j MESHTAP_OUTPUT',
      'COMMIT',
      '*nat',
      ':PREROUTING ACCEPT [3:180]',
      ':OUTPUT ACCEPT [0:0]',
      ':MESHTAP_OUTPUT - [0:0]',
      '-A OUTPUT -m comment --comment "-j MESHTAP_OUTPUT" -j RETURN',
      '-A OUTPUT -p tcp -g MESHTAP_OUTPUT',
      '-A OUTPUT -p tcp -j MESHTAP_OTHER',
      '-A MESHTAP_OUTPUT -j MESHTAP_OUTPUT',
      'COMMIT',
    ].join('\n'),
  );
  t.same(table.chains, ['PREROUTING', 'OUTPUT', 'MESHTAP_OUTPUT'], 'only the nat table is read');
  t.same(
    findMeshtapJumps(table).map((r) => r.spec),
    ['-p tcp -g MESHTAP_OUTPUT'],
    'jumps are found by target, not by text: comments and chains that are not ours are ignored',
  );
  t.same(parseNatTable(''), { chains: [], rules: [] }, 'no nat section, empty table');
});

void t.test('converging', async (t) => {
  const config = resolveInitConfig({ excludeOutboundCidrs: '10.0.0.0/8' });
  const applied = appliedTable(config);
  t.ok(isApplied(planRules(config), applied), 'an applied table is recognised');
  t.notOk(isApplied(planRules(defaults), applied), 'another config is not');
  const missing = { ...applied, rules: applied.rules.filter((r) => !r.spec.includes('localhost')) };
  t.notOk(isApplied(planRules(config), missing), 'a missing rule is noticed');
  const duplicated = { ...applied, rules: [...applied.rules, applied.rules[1]] };
  t.notOk(isApplied(planRules(config), duplicated), 'a duplicate jump is noticed');
  const userFirst = { ...applied, rules: [{ chain: 'OUTPUT', spec: '-j RETURN', target: 'RETURN' }, ...applied.rules] };
  t.notOk(isApplied(planRules(config), userFirst), 'a jump no longer first is noticed');
  const noChains = { ...applied, chains: applied.chains.filter((c) => c !== CHAIN_REDIRECT) };
  t.notOk(isApplied(planRules(config), noChains), 'a missing chain is noticed');

  const cleanup = planCleanup(applied);
  t.same(cleanup.removedChains, MESHTAP_CHAINS, 'cleanup removes our five chains');
  t.equal(cleanup.removedJumps.length, 3, 'and the three jumps');
  t.equal(planCleanup(parseNatTable('')).text, '', 'nothing to clean, empty plan');
});

void t.test('properties over random configs', async (t) => {
  const port = fc.integer({ min: 1, max: 65535 });
  const octet = fc.integer({ min: 0, max: 255 });
  const cidr = fc.tuple(octet, octet, octet, octet, fc.integer({ min: 0, max: 32 })).map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}/${p}`);
  const options = fc
    .record({
      proxyUid: fc.integer({ min: 1, max: 2147483647 }),
      proxyGid: fc.integer({ min: 1, max: 2147483647 }),
      ports: fc.uniqueArray(port, { minLength: 4, maxLength: 4 }),
      dnsCapture: fc.boolean(),
      excludeInboundPorts: fc.array(port, { maxLength: 5 }),
      excludeOutboundPorts: fc.array(port, { maxLength: 5 }),
      excludeOutboundCidrs: fc.array(cidr, { maxLength: 5 }),
      dnsServers: fc.array(fc.tuple(octet, octet, octet, octet).map((o) => o.join('.')), { maxLength: 3 }),
    })
    .map(({ ports, ...rest }) => ({ ...rest, inboundPort: ports[0], outboundPort: ports[1], adminPort: ports[2], dnsPort: ports[3] }));
  fc.assert(
    fc.property(options, (o) => {
      const config = resolveInitConfig(o);
      const rules = planRules(config);
      const applied = appliedTable(config);
      const lines = planApply(config).text.split('\n').filter((l) => /^-[AI] /.test(l));
      return (
        lines.length === rules.length &&
        lines.every((l) => l.includes('-m comment --comment "meshtap: ')) &&
        isApplied(rules, applied) &&
        planCleanup(applied).removedChains.length === 5 &&
        rules.filter((r) => r.jump === 'REDIRECT').length === 2 + (capturesDns(config) ? 2 * config.dnsServers.length : 0) &&
        rules.filter((r) => r.chain === CHAIN_DNS && r.jump === 'REDIRECT').every((r) => config.dnsServers.includes(r.destination!.cidr)) &&
        rules.some((r) => r.jump === CHAIN_DNS) === (config.dnsCapture && !config.excludeOutboundPorts.includes(53)) &&
        rules.filter((r) => r.dport === config.adminPort && r.chain === CHAIN_INBOUND).every((r) => r.jump === 'RETURN')
      );
    }),
    { numRuns: 200 },
  );
  t.pass('200 random configs hold every property');
});

void t.test('DNS capture: on by default, off by option or by excluding port 53', async (t) => {
  const rules = planRules(defaults);
  t.equal(
    renderSavedRule(rules.find((r) => r.chain === 'OUTPUT' && r.jump === CHAIN_DNS)!),
    '-A OUTPUT -p udp -m udp --dport 53 -m comment --comment "meshtap: outbound DNS over UDP goes to the DNS chain" -j MESHTAP_DNS',
    'the UDP jump renders as iptables-save prints it',
  );
  t.equal(
    renderSavedRule(rules.find((r) => r.chain === CHAIN_DNS && r.owner?.uid !== undefined)!),
    '-A MESHTAP_DNS -m owner --uid-owner 1337 -m comment --comment "meshtap: DNS of the proxy uid 1337 is never captured" -j RETURN',
    'an any-protocol rule has no -p',
  );
  t.equal(
    renderSavedRule(rules.find((r) => r.chain === CHAIN_DNS && r.protocol === 'udp')!),
    '-A MESHTAP_DNS -d 10.96.0.10/32 -p udp -m comment --comment "meshtap: DNS over UDP to the resolver 10.96.0.10 goes to the DNS listener" -j REDIRECT --to-ports 15053',
  );
  const none = planRules(resolveInitConfig());
  t.ok(none.some((r) => r.jump === CHAIN_DNS), 'no resolver known: the DNS chain is still jumped to');
  t.notOk(none.some((r) => r.chain === CHAIN_DNS && r.jump === 'REDIRECT'), 'but redirects nothing: DNS goes where the app sends it');
  const text = planApply(defaults).text;
  const inserts = text.split('\n').filter((l) => l.startsWith('-I OUTPUT 1 '));
  t.same(
    inserts.map((l) => / -j (\S+)/.exec(l)?.[1]),
    [CHAIN_DNS, CHAIN_OUTPUT],
    'OUTPUT jumps are inserted last to first, so the chain ends up in plan order',
  );
  t.ok(isApplied(rules, appliedTable(defaults)), 'an applied table with two OUTPUT jumps is recognised');
  const swapped = appliedTable(defaults);
  const outputJumps = swapped.rules.filter((r) => r.chain === 'OUTPUT');
  const reordered = { ...swapped, rules: [...swapped.rules.filter((r) => r.chain !== 'OUTPUT'), ...outputJumps.reverse()] };
  t.notOk(isApplied(rules, reordered), 'the OUTPUT jumps in the wrong order are noticed');

  for (const [what, options] of [
    ['dnsCapture false', { dnsCapture: false }],
    ['"false" from the environment form', { dnsCapture: 'false' as const }],
    ['port 53 excluded', { excludeOutboundPorts: '53' }],
  ] as const) {
    const config = resolveInitConfig(options);
    const off = planRules(config);
    t.notOk(off.some((r) => r.jump === CHAIN_DNS || r.chain === CHAIN_DNS || r.protocol === 'udp'), `${what}: no DNS rule`);
    t.ok(planApply(config).text.includes(`:${CHAIN_DNS} - [0:0]`), `${what}: the DNS chain is still declared (empty), so switching converges`);
  }
  // Converging from capture on to capture off removes the jumps and empties the chain.
  const off = resolveInitConfig({ dnsCapture: false });
  const plan = planApply(off, appliedTable(defaults));
  t.equal(plan.removedJumps.filter((l) => l.includes(CHAIN_DNS)).length, 1, 'the UDP jump into the DNS chain is deleted');
  t.notOk(plan.text.split('\n').some((l) => /^-[AI] .*MESHTAP_DNS/.test(l)), 'and nothing jumps to or fills it again');
  t.notOk(isApplied(planRules(off), appliedTable(defaults)), 'a DNS-capturing table is not what an opted-out pod wants');

  const custom = resolveInitConfig({ dnsPort: 5353, proxyUid: 2000, proxyGid: 2001, dnsServers: '10.96.0.10' });
  const dnsRules = planRules(custom).filter((r) => r.chain === CHAIN_DNS);
  t.same(dnsRules.filter((r) => r.jump === 'REDIRECT').map((r) => r.toPort), [5353, 5353], 'the DNS port is configurable');
  t.same(dnsRules.filter((r) => r.owner).map((r) => r.owner), [{ uid: 2000 }, { gid: 2001 }], 'the proxy ids are spared');
});
