/** `meshtap tap` lines of DNS records: the question, then the answers or the rcode, then the latency. */
import t from 'tap';
import { recordToJson } from '../../record/record-json.ts';
import { formatCallLine } from '../../collector/tap/format.ts';
import { DNS_RECORDS, dnsRecord } from './dns-records.ts';

const line = (id: string, color = false) => formatCallLine(recordToJson(DNS_RECORDS.find((r) => r.id === id)!), { color });

void t.test('answers, rcodes and errors', async (t) => {
  t.equal(line('dns-a'), '22:13:20.000  hello/client → kube-system/kube-dns  A catalog.shop.svc.cluster.local → 10.96.0.12, 10.96.0.13  200µs');
  t.equal(line('dns-nx'), '22:13:20.000  hello/client → kube-system/kube-dns  A catlog.shop → NXDOMAIN  100µs');
  t.equal(line('dns-srv'), '22:13:20.000  hello/client → kube-system/kube-dns  SRV _http._tcp.catalog.shop.svc.cluster.local → 0 100 8080 catalog.shop.svc.cluster.local  200µs');
  t.equal(line('dns-servfail'), '22:13:20.000  hello/client → kube-system/kube-dns  A example.com → SERVFAIL  1.50ms');
  t.equal(line('dns-timeout'), '22:13:20.000  hello/client → kube-system/kube-dns  AAAA slow.example → error=timeout  5.00s');
  t.match(line('dns-a', true), /A catalog\.shop\.svc\.cluster\.local \u001b\[32m→ 10\.96\.0\.12, 10\.96\.0\.13\u001b\[0m/, 'answered: green');
  t.match(line('dns-nx', true), /\u001b\[33m→ NXDOMAIN\u001b\[0m/, 'NXDOMAIN: yellow, the asker\'s mistake');
  t.match(line('dns-servfail', true), /\u001b\[31m→ SERVFAIL\u001b\[0m/, 'SERVFAIL: red');
});

void t.test('structured answers read as dig prints them: MX, TXT, SOA fields, SVCB', async (t) => {
  const answer = (type: string, data: unknown) => formatCallLine(recordToJson(dnsRecord({ id: type, name: 'x.example', type, answers: [{ name: 'x.example', type, ttl: 1, data: data as string }] })), { color: false });
  t.match(answer('MX', { preference: 10, exchange: 'mail.x.example' }), / MX x\.example → 10 mail\.x\.example /);
  t.match(answer('TXT', ['v=spf1 -all', 'two words']), / TXT x\.example → "v=spf1 -all" "two words" /);
  t.match(answer('SOA', { mname: 'ns.x', rname: 'host.x', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4 }), /→ ns\.x host\.x 7 1 2 3 4 /);
  t.match(answer('HTTPS', { priority: 1, target: '.', params: '0001000302683200' }), /→ 1 \. 0001000302683200 /);
  t.match(answer('CAA', '0005697373756500'), /→ 0005697373756500 /, 'hex data as it is');
  t.match(answer('SRV', {}), /→ NOERROR \(no answers\)/, 'nothing to show is not an answer');
});

void t.test('many answers are cut; odd bodies and control characters are harmless', async (t) => {
  const many = dnsRecord({ id: 'm', name: 'big.example', answers: Array.from({ length: 9 }, (_, i) => ({ name: 'big.example', type: 'A', ttl: 1, data: `10.0.0.${i}` })) });
  t.match(formatCallLine(recordToJson(many), { color: false }), /→ 10\.0\.0\.0, 10\.0\.0\.1, 10\.0\.0\.2, 10\.0\.0\.3, … \(9\)  200µs$/);
  const empty = dnsRecord({ id: 'e', name: 'nodata.example', type: 'AAAA' });
  t.match(formatCallLine(recordToJson(empty), { color: false }), /AAAA nodata\.example → NOERROR \(no answers\)/);
  const bad = dnsRecord({ id: 'b', name: 'x\u001b[2J.example' });
  bad.response = { headers: {}, body: new TextEncoder().encode('{"answers":[{"data":"1.2.3.4\\u001b[31m"}]}'), body_size: 40, truncated: false };
  const text = formatCallLine(recordToJson(bad), { color: false });
  t.notMatch(text, /\u001b/, 'no escape sequence from captured data reaches the terminal');
  t.match(text, /x\\x1b\[2J\.example → 1\.2\.3\.4\\x1b\[31m/);
  const garbage = dnsRecord({ id: 'g', name: 'g.example' });
  garbage.response = { headers: {}, body: new TextEncoder().encode('not json'), body_size: 8, truncated: false };
  t.match(formatCallLine(recordToJson(garbage), { color: false }), /A g\.example → NOERROR \(no answers\)/);
});
