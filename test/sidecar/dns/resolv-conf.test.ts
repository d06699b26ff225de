/** resolv.conf as the C library's resolver reads it, and the source that notices changes to the file. */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TIMEOUT_MS, parseResolvConf } from '../../../sidecar/dns/resolv-conf.ts';
import { createResolvConfSource } from '../../../sidecar/dns/resolv-conf-source.ts';

void t.test('parsing', async (t) => {
  const conf = parseResolvConf(
    [
      '# generated',
      'search shop.svc.cluster.local svc.cluster.local',
      'nameserver 10.96.0.10',
      'nameserver   fd00::10 # comment',
      'nameserver not-an-ip',
      'nameserver fe80::1%eth0',
      'nameserver 10.0.0.4',
      'options ndots:5 timeout:1 attempts:2',
    ].join('\n'),
  );
  t.same(
    conf.nameservers,
    [
      { ip: '10.96.0.10', port: 53, family: 4 },
      { ip: 'fd00::10', port: 53, family: 6 },
      { ip: 'fe80::1%eth0', port: 53, family: 6 },
    ],
    'in order, at most three, invalid lines skipped, zones kept',
  );
  t.equal(conf.timeoutMs, 1000);
  t.equal(parseResolvConf('nameserver 1.1.1.1').timeoutMs, DEFAULT_TIMEOUT_MS);
  t.equal(parseResolvConf('options timeout:99').timeoutMs, 30_000, 'capped like glibc');
  t.equal(parseResolvConf('options timeout:0').timeoutMs, 1000);
  t.same(parseResolvConf('').nameservers, []);
});

void t.test('the source re-reads the file when it changes, at most once a second', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'resolv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'resolv.conf');
  writeFileSync(path, 'nameserver 10.0.0.1\n');
  let now = 0;
  const problems: string[] = [];
  const source = createResolvConfSource(path, (m) => problems.push(m), () => now);
  t.same(source.current().nameservers.map((n) => n.ip), ['10.0.0.1']);
  // Replaced the way the kubelet does it: a new file renamed over the old one.
  writeFileSync(join(dir, 'next'), 'nameserver 10.0.0.2\nnameserver 10.0.0.3\n');
  renameSync(join(dir, 'next'), path);
  now = 500;
  t.same(source.current().nameservers.map((n) => n.ip), ['10.0.0.1'], 'not looked at again within a second');
  now = 1000;
  t.same(source.current().nameservers.map((n) => n.ip), ['10.0.0.2', '10.0.0.3'], 'the change is seen after it');
  rmSync(path);
  now = 2000;
  t.same(source.current().nameservers.map((n) => n.ip), ['10.0.0.2', '10.0.0.3'], 'a vanished file keeps the last good list');
  t.match(problems, [/cannot be read/]);
  now = 3000;
  source.current();
  t.equal(problems.length, 1, 'the same problem is reported once');
  writeFileSync(path, 'search x\n');
  now = 4000;
  t.same(source.current().nameservers, []);
  t.match(problems[1], /no usable nameserver/);
});
