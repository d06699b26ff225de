/**
 * The lab's cluster DNS as a real dnsmasq answers it, started with exactly the command line
 * and records `lab up` uses, in a throwaway network namespace (on its loopback), queried by a
 * real resolver client (`dig`, over UDP and TCP).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { buildDnsHosts, buildDnsmasqArgv, dnsServiceRecord, podFqdn, srvRecords, withClusterDns } from '../../lab/cluster-dns.ts';
import { execInNetns, killNetnsProcesses, sh, spawnInNetns } from '../../lab/netns.ts';

const services = [
  dnsServiceRecord(),
  { name: 'catalog', namespace: 'shop', clusterIP: '10.96.0.12', ports: [{ name: 'http', port: 8080 }, { port: 9090 }] },
  { name: 'redis', namespace: 'shop', clusterIP: '10.96.0.13', ports: [{ name: 'redis', port: 6379 }] },
];
const pods = [{ name: 'catalog-1', namespace: 'shop', ip: '10.244.0.5' }];

void t.test('records and command line (pure)', async (t) => {
  t.equal(podFqdn(pods[0]), '10-244-0-5.shop.pod.cluster.local');
  t.same(srvRecords(services), [
    '_dns._tcp.kube-dns.kube-system.svc.cluster.local,kube-dns.kube-system.svc.cluster.local,53,0,100',
    '_http._tcp.catalog.shop.svc.cluster.local,catalog.shop.svc.cluster.local,8080,0,100',
    '_redis._tcp.redis.shop.svc.cluster.local,redis.shop.svc.cluster.local,6379,0,100',
  ], 'one SRV record per named port');
  t.match(buildDnsHosts(services, pods), /^# .*\n10\.96\.0\.10\tkube-dns\.kube-system\.svc\.cluster\.local\n10\.96\.0\.12\tcatalog\.shop\.svc\.cluster\.local\n10\.96\.0\.13\tredis\.shop\.svc\.cluster\.local\n10\.244\.0\.5\t10-244-0-5\.shop\.pod\.cluster\.local\n$/);
  const argv = buildDnsmasqArgv({ hostsFile: '/x/hosts', services });
  for (const flag of ['--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--local=/cluster.local/', '--listen-address=10.244.0.254', '--addn-hosts=/x/hosts']) t.ok(argv.includes(flag), flag);
  t.notOk(argv.some((a) => a.startsWith('--server')), 'no upstream server: nothing is forwarded');
});

void t.test('the inventory lists kube-system/kube-dns once', async (t) => {
  const scenario = { namespaces: [{ name: 'shop', labels: {}, annotations: {}, source: 's.yaml' }], pods: [], services: [] };
  const withDns = withClusterDns(scenario);
  t.same(withDns.namespaces.map((n) => n.name), ['shop', 'kube-system']);
  t.match(withDns.services, [{ name: 'kube-dns', namespace: 'kube-system', clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, endpoints: [] }] }]);
  t.equal(withClusterDns(withDns), withDns, 'already there: unchanged');
  t.same(scenario.services, [], 'the scenario itself is not changed');
});

if (process.getuid?.() !== 0) throw new Error('test/lab/cluster-dns.test.ts needs root');

void t.test('dnsmasq answers cluster names, NXDOMAIN inside cluster.local, REFUSED outside', async (t) => {
  const netns = `mtdnst-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'cluster-dns-'));
  // dnsmasq reads its records after dropping to nobody, as from the lab's state directory.
  chmodSync(dir, 0o755);
  await sh('ip', ['netns', 'add', netns]);
  t.teardown(async () => {
    await killNetnsProcesses(netns, 'SIGKILL');
    for (let i = 0; i < 50 && (await sh('ip', ['netns', 'pids', netns])).stdout.trim() !== ''; i++) await new Promise((r) => setTimeout(r, 50));
    await sh('ip', ['netns', 'del', netns]);
    rmSync(dir, { recursive: true, force: true });
  });
  await sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, buildDnsHosts(services, pods), { mode: 0o644 });
  const argv = buildDnsmasqArgv({ hostsFile, services, listenIp: '127.0.0.1' });
  const child = spawnInNetns(netns, argv[0], argv.slice(1), { stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));

  const dig = async (...args: string[]) => (await execInNetns(netns, 'dig', ['@127.0.0.1', '+time=2', '+tries=3', ...args])).stdout;
  const status = (out: string) => /status: (\w+)/.exec(out)?.[1];
  // Up once it answers.
  for (let i = 0; i < 100 && status(await dig('kube-dns.kube-system.svc.cluster.local').catch(() => '')) !== 'NOERROR'; i++) await new Promise((r) => setTimeout(r, 100));

  const a = await dig('+noall', '+answer', '+comments', 'catalog.shop.svc.cluster.local', 'A');
  t.equal(status(a), 'NOERROR');
  t.match(a, /^catalog\.shop\.svc\.cluster\.local\.\s+5\s+IN\s+A\s+10\.96\.0\.12$/m, 'A → the VIP, with the 5 s TTL');
  const tcp = await dig('+tcp', '+short', 'catalog.shop.svc.cluster.local', 'A');
  t.equal(tcp.trim(), '10.96.0.12', 'over TCP too');
  const srv = await dig('+short', '_http._tcp.catalog.shop.svc.cluster.local', 'SRV');
  t.equal(srv.trim(), '0 100 8080 catalog.shop.svc.cluster.local.', 'SRV for a named port');
  t.equal(status(await dig('_9090._tcp.catalog.shop.svc.cluster.local', 'SRV')), 'NXDOMAIN', 'no SRV for an unnamed port');
  t.equal((await dig('+short', '10-244-0-5.shop.pod.cluster.local')).trim(), '10.244.0.5', 'the pod record');
  t.equal((await dig('+short', '-x', '10.96.0.12')).trim(), 'catalog.shop.svc.cluster.local.', 'PTR of a VIP');
  const aaaa = await dig('catalog.shop.svc.cluster.local', 'AAAA');
  t.equal(status(aaaa), 'NOERROR', 'AAAA of a service: the name exists…');
  t.match(aaaa, /ANSWER: 0,/, '…with no IPv6 address');
  t.equal(status(await dig('catlog.shop.svc.cluster.local')), 'NXDOMAIN', 'a typo under cluster.local');
  t.equal(status(await dig('catalog.shop.shop.svc.cluster.local')), 'NXDOMAIN', 'a search-path miss');
  t.equal(status(await dig('example.com')), 'REFUSED', 'outside the cluster: refused, never forwarded');
  t.equal(status(await dig('-x', '10.1.2.3')), 'NXDOMAIN', 'an unknown private reverse lookup stays local');
});
