import t, { type Test } from 'tap';
import { isMeshtapError } from '../../../lib/errors.ts';
import { SC_ERR_INIT_BAD_OPTION } from '../../../sidecar/init/errors.ts';
import { parseIpv4Cidr, resolveInitConfig, type InitOptions } from '../../../sidecar/init/options.ts';

function badOption(t: Test, options: unknown, message: RegExp, env: Record<string, string> = {}) {
  t.throws(
    () => resolveInitConfig(options as InitOptions, env),
    { code: SC_ERR_INIT_BAD_OPTION, message },
    `rejects ${JSON.stringify(options)} ${Object.keys(env).length ? JSON.stringify(env) : ''}`.trim(),
  );
}

void t.test('defaults and freezing', async (t) => {
  const config = resolveInitConfig();
  t.same(config, {
    proxyUid: 1337,
    proxyGid: 1337,
    inboundPort: 15006,
    outboundPort: 15001,
    adminPort: 15020,
    excludeInboundPorts: [],
    excludeOutboundPorts: [],
    excludeOutboundCidrs: [],
    dnsCapture: true,
    dnsPort: 15053,
    dnsServers: [],
    backend: 'auto',
    dryRun: false,
    cleanup: false,
  });
  t.ok(Object.isFrozen(config), 'config is frozen');
  t.ok(Object.isFrozen(config.excludeOutboundCidrs), 'lists are frozen');
  t.ok(Object.isFrozen(config.dnsServers), 'the resolvers too');
});

void t.test('the resolvers whose DNS is captured: resolv.conf by default, the option or its variable first', async (t) => {
  const resolvConf = '# kubelet\nsearch shop.svc.cluster.local\nnameserver 10.96.0.10\nnameserver fe80::1%eth0\nnameserver 10.96.0.10\nnameserver 192.0.2.1\nnameserver 192.0.2.2\noptions ndots:5\n';
  t.same(resolveInitConfig({}, {}, resolvConf).dnsServers, ['10.96.0.10/32', 'fe80::1/128'], 'the first three nameservers, as glibc reads them: zone dropped, duplicate once');
  t.same(resolveInitConfig({}, {}, 'search x\n').dnsServers, [], 'a resolv.conf without nameserver: none');
  t.same(resolveInitConfig({ dnsServers: '10.0.0.10, fd00::A,10.0.0.10' }, {}, resolvConf).dnsServers, ['10.0.0.10/32', 'fd00::a/128'], 'the option wins, normalised');
  t.same(resolveInitConfig({}, { MESHTAP_DNS_SERVERS: '169.254.20.10' }, resolvConf).dnsServers, ['169.254.20.10/32'], 'then the variable');
  t.same(resolveInitConfig({ dnsServers: '' }, { MESHTAP_DNS_SERVERS: '169.254.20.10' }, resolvConf).dnsServers, [], "'' means none");
  badOption(t, { dnsServers: '10.0.0.0/8' }, /--dns-servers must list IPv4 or IPv6 addresses: "10\.0\.0\.0\/8" is a network, not one address/);
  badOption(t, { dnsServers: 'kube-dns' }, /--dns-servers must list IPv4 or IPv6 addresses: "kube-dns" is not an IPv4 or IPv6 address/);
  badOption(t, {}, /MESHTAP_DNS_SERVERS must list IPv4 or IPv6 addresses: "300\.1\.1\.1"/, { MESHTAP_DNS_SERVERS: '300.1.1.1' });
});

void t.test('values from flags, annotations and code', async (t) => {
  const config = resolveInitConfig({
    proxyUid: '2000',
    proxyGid: 3000,
    inboundPort: ' 16006 ',
    excludeInboundPorts: '8081, 22,,22',
    excludeOutboundPorts: [9090, '5432', 9090],
    excludeOutboundCidrs: '10.96.7.1/12, 169.254.169.254,10.96.0.0/12,0.0.0.0/0',
    backend: 'legacy',
    dryRun: true,
  });
  t.equal(config.proxyUid, 2000);
  t.equal(config.proxyGid, 3000);
  t.equal(config.inboundPort, 16006);
  t.same(config.excludeInboundPorts, [22, 8081], 'ports deduplicated and sorted');
  t.same(config.excludeOutboundPorts, [5432, 9090]);
  t.same(config.excludeOutboundCidrs, ['0.0.0.0/0', '10.96.0.0/12', '169.254.169.254/32'], 'CIDRs normalised, deduplicated, sorted');
  t.equal(config.backend, 'legacy');
  t.equal(config.dryRun, true);
  t.same(resolveInitConfig({ excludeOutboundCidrs: '' }).excludeOutboundCidrs, [], 'an empty list is none');
  const cleared = resolveInitConfig({ excludeOutboundCidrs: '', excludeInboundPorts: ' ' }, { MESHTAP_EXCLUDE_OUTBOUND_CIDRS: '10.0.0.0/8', MESHTAP_EXCLUDE_INBOUND_PORTS: '22' });
  t.same([cleared.excludeOutboundCidrs, cleared.excludeInboundPorts], [[], []], "an empty list given as an option is none, over the variable's");
});

void t.test('IPv4 CIDRs', async (t) => {
  t.same(parseIpv4Cidr('192.168.1.77/24'), { cidr: '192.168.1.0/24' });
  t.same(parseIpv4Cidr('10.0.0.1'), { cidr: '10.0.0.1/32' });
  t.same(parseIpv4Cidr('255.255.255.255/1'), { cidr: '128.0.0.0/1' });
  for (const garbage of ['10.0.0.256', '10.0.0/8', 'abc', '10.0.0.0/33', '010.0.0.1', '10.0.0.0/08', '10.0.0.0/', ' ', '1.2.3.4.5', '10.0.0.0/-1']) {
    t.match(parseIpv4Cidr(garbage), { error: /not an IPv4 CIDR/ }, `"${garbage}" is rejected`);
  }
  t.match(parseIpv4Cidr('fd00::/8'), { error: /IPv6 CIDR, not IPv4/ }, 'IPv6 is not IPv4');
  t.match(parseIpv4Cidr('::ffff:10.0.0.1'), { error: /IPv6/ });
});

void t.test('IPv6 CIDRs are accepted, normalised as ip6tables-save prints them, after the IPv4 ones', async (t) => {
  t.same(
    resolveInitConfig({ excludeOutboundCidrs: 'FD00::7/8, 10.1.2.3/8, 2001:db8:0:0::1, fd00::/8, 192.168.0.1' }).excludeOutboundCidrs,
    ['10.0.0.0/8', '192.168.0.1/32', '2001:db8::1/128', 'fd00::/8'],
  );
});

void t.test('bad values name the flag, the value and what is expected', async (t) => {
  badOption(t, { inboundPort: 0 }, /--inbound-port must be a port number 1-65535, got 0/);
  badOption(t, { outboundPort: '15001x' }, /--outbound-port must be a port number 1-65535, got "15001x"/);
  badOption(t, { adminPort: 70000 }, /--admin-port must be a port number/);
  badOption(t, { inboundPort: 1.5 }, /--inbound-port/);
  badOption(t, { proxyUid: 0 }, /--proxy-uid must be a numeric id .* \(0 would exempt every root process from capture\), got 0/);
  badOption(t, { proxyGid: -1 }, /--proxy-gid/);
  badOption(t, { proxyUid: 'proxy' }, /--proxy-uid must be a numeric id/);
  badOption(t, { excludeInboundPorts: '80,http' }, /--exclude-inbound-ports must list port numbers 1-65535, got "http"/);
  badOption(t, { excludeOutboundPorts: [80, 0] }, /--exclude-outbound-ports .* got 0/);
  badOption(t, { excludeOutboundCidrs: '10.0.0.0/8,fd00::/129' }, /--exclude-outbound-cidrs must list IPv4 or IPv6 CIDRs: "fd00::\/129" is not an IPv6 CIDR: the prefix length must be 0-128/);
  badOption(t, { excludeOutboundCidrs: 'fe80::1%eth0' }, /must list IPv4 or IPv6 CIDRs: "fe80::1%eth0" is not an IPv6 CIDR/);
  badOption(t, { excludeOutboundCidrs: ['10.0.0.300'] }, /must list IPv4 or IPv6 CIDRs: "10.0.0.300" is not an IPv4 CIDR/);
  badOption(t, { backend: 'nftables' }, /--backend must be one of auto, nft, legacy, got "nftables"/);
  badOption(t, { dryRun: 'yes' }, /--dry-run must be true or false, got "yes"/);
  badOption(t, { inboundPort: 15001 }, /--inbound-port must differ from --outbound-port \(its default\) \(both are 15001\)/);
  badOption(t, { inboundPort: 15001, outboundPort: 15001 }, /--outbound-port must differ from --inbound-port \(both are 15001\)/);
  badOption(t, { adminPort: 15006 }, /--admin-port must differ from --inbound-port/);
  badOption(t, { proxyUid: 1, inboundPort: 'x', backend: 'y' }, /--inbound-port .*; --backend/);
  badOption(t, { dnsPort: 15020 }, /--dns-port must differ from --admin-port \(its default\) \(both are 15020\)/);
  badOption(t, { dnsPort: '53x' }, /--dns-port must be a port number 1-65535, got "53x"/);
  badOption(t, { dnsCapture: 'no' }, /--no-dns-capture must be true or false, got "no"/);
  badOption(t, {}, /MESHTAP_DNS_CAPTURE must be true or false, got "off"/, { MESHTAP_DNS_CAPTURE: 'off' });
});

void t.test('messages name only what the user set: the flag, or the variable the value came from', async (t) => {
  const said = (options: unknown, env: Record<string, string> = {}): string => {
    try {
      resolveInitConfig(options as InitOptions, env);
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };
  t.equal(said({ proxyUid: '0' }), 'invalid init options: --proxy-uid must be a numeric id 1-2147483647 (0 would exempt every root process from capture), got "0"');
  t.equal(said({}, { MESHTAP_PROXY_UID: '0' }), 'invalid init options: MESHTAP_PROXY_UID must be a numeric id 1-2147483647 (0 would exempt every root process from capture), got "0"');
  t.equal(said({ dnsPort: '15001' }), 'invalid init options: --dns-port must differ from --outbound-port (its default) (both are 15001): each listener needs its own port');
  t.equal(said({}, { MESHTAP_DNS_PORT: '16001', MESHTAP_OUTBOUND_PORT: '16001' }), 'invalid init options: MESHTAP_DNS_PORT must differ from MESHTAP_OUTBOUND_PORT (both are 16001): each listener needs its own port');
  t.equal(said({ excludeOutboundCidrs: 'x' }, { MESHTAP_EXCLUDE_OUTBOUND_CIDRS: '10.0.0.0/8' }), 'invalid init options: --exclude-outbound-cidrs must list IPv4 or IPv6 CIDRs: "x" is not an IPv4 CIDR like 10.0.0.0/8 or 192.168.1.7', 'the flag won, so the flag is named');
  // A wrong type from code says what the option takes too, not the schema wording "Invalid input".
  t.equal(said({ proxyGid: true }), 'invalid init options: --proxy-gid must be a numeric id 1-2147483647 (0 would exempt every root process from capture), got true');
  t.equal(said({ adminPort: null }), 'invalid init options: --admin-port must be a port number 1-65535, got null');
  t.equal(said({ excludeInboundPorts: { a: 1 } }), 'invalid init options: --exclude-inbound-ports must list port numbers 1-65535, comma-separated, got {"a":1}');
  t.equal(said({ excludeOutboundCidrs: 7 }), 'invalid init options: --exclude-outbound-cidrs must list IPv4 or IPv6 CIDRs, comma-separated, got 7');
  t.equal(said({ backend: 3 }), 'invalid init options: --backend must be one of auto, nft, legacy, got 3');
  for (const message of [said({ proxyUid: 0, inboundPort: 'x', backend: 'y', dnsCapture: 'no', cleanup: 1 }), said({}, { MESHTAP_ADMIN_PORT: 'a', MESHTAP_IPTABLES_BACKEND: 'b' })]) {
    t.notMatch(message, /proxyUid|inboundPort|adminPort|backend\b(?! must)|dnsCapture|Invalid input/, `no option key in ${message}`);
  }
});

void t.test('DNS capture: on unless switched off, its port from flag, environment or default', async (t) => {
  t.equal(resolveInitConfig().dnsCapture, true, 'on by default');
  t.equal(resolveInitConfig({ dnsCapture: false }).dnsCapture, false);
  t.equal(resolveInitConfig({}, { MESHTAP_DNS_CAPTURE: 'false' }).dnsCapture, false, 'off from the environment');
  t.equal(resolveInitConfig({ dnsCapture: true }, { MESHTAP_DNS_CAPTURE: 'false' }).dnsCapture, true, 'the option wins');
  t.equal(resolveInitConfig({}, { MESHTAP_DNS_PORT: '5353' }).dnsPort, 5353);
  t.equal(resolveInitConfig({ dnsPort: '6053' }, { MESHTAP_DNS_PORT: '5353' }).dnsPort, 6053);
});

void t.test('unknown keys fail with a hint', async (t) => {
  badOption(t, { excludeInboundPort: '80' }, /unknown option "excludeInboundPort": did you mean "excludeInboundPorts"\?/);
  badOption(t, { proxyUID: 1 }, /unknown option "proxyUID": did you mean "proxyUid"\?/);
  badOption(t, { uid: 1 }, /unknown option "uid" \(known: proxyUid, .*cleanup\)/);
});

void t.test('environment variables sit between options and defaults', async (t) => {
  const env = {
    MESHTAP_PROXY_UID: '1500',
    MESHTAP_INBOUND_PORT: '16006',
    MESHTAP_EXCLUDE_OUTBOUND_CIDRS: '10.96.0.0/12',
    MESHTAP_IPTABLES_BACKEND: 'nft',
    MESHTAP_OUTBOUND_PORT: '',
    MESHTAP_ADMIN_PORT: '  ',
  };
  const config = resolveInitConfig({ inboundPort: 17006 }, env);
  t.equal(config.proxyUid, 1500, 'env over default');
  t.equal(config.inboundPort, 17006, 'option over env');
  t.equal(config.outboundPort, 15001, 'an empty variable is unset');
  t.equal(config.adminPort, 15020, 'so is a blank one');
  t.same(config.excludeOutboundCidrs, ['10.96.0.0/12']);
  t.equal(config.backend, 'nft');
  badOption(t, {}, /MESHTAP_ADMIN_PORT must be a port number 1-65535, got "admin"/, { MESHTAP_ADMIN_PORT: 'admin' });
  t.ok(
    (() => {
      try {
        resolveInitConfig({}, { MESHTAP_PROXY_GID: '0' });
        return false;
      } catch (err) {
        return isMeshtapError(err, SC_ERR_INIT_BAD_OPTION) && err.cause !== undefined;
      }
    })(),
    'the validation error is kept as the cause',
  );
});
