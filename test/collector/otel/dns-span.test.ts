/** DNS records → spans: the DNS conventions' name and attributes, and the error of a failed query. */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import t from 'tap';
import { createSpanMapper } from '../../../collector/otel/span-mapper.ts';
import { dnsAnswerData } from '../../../collector/otel/dns-span.ts';
import { DNS_RECORDS, dnsRecord } from '../dns-records.ts';

const mapper = createSpanMapper({ version: '1.2.3' });
const byId = (id: string) => DNS_RECORDS.find((r) => r.id === id)!;

void t.test('an answered A query', async (t) => {
  const span = mapper.toSpan(byId('dns-a'));
  t.equal(span.name, 'A catalog.shop.svc.cluster.local', '<TYPE> <name>');
  t.equal(span.kind, SpanKind.CLIENT, 'the pod\'s sidecar is the client of its resolver');
  t.same(span.status, { code: SpanStatusCode.UNSET });
  t.match(span.attributes, {
    'dns.question.name': 'catalog.shop.svc.cluster.local',
    'dns.answers': ['10.96.0.12', '10.96.0.13'],
    'meshtap.dns.question.type': 'A',
    'meshtap.dns.rcode': 'NOERROR',
    'network.protocol.name': 'dns',
    'network.transport': 'udp',
    'server.address': 'kube-dns',
    'server.port': 53,
    'network.peer.address': '10.96.0.10',
  });
  t.notOk('error.type' in span.attributes);
  t.notOk('meshtap.operation' in span.attributes, 'the type is a DNS attribute, not a generic operation');
  t.notOk('http.route' in span.attributes);
});

void t.test('NXDOMAIN and SERVFAIL are errors named by their rcode; a timeout by the record error', async (t) => {
  const nx = mapper.toSpan(byId('dns-nx'));
  t.equal(nx.name, 'A catlog.shop');
  t.equal(nx.attributes['error.type'], 'NXDOMAIN');
  t.equal(nx.status.code, SpanStatusCode.ERROR);
  t.notOk('dns.answers' in nx.attributes, 'no answers: no dns.answers (the SOA is authority, not an answer)');
  t.equal(mapper.toSpan(byId('dns-servfail')).attributes['error.type'], 'SERVFAIL');
  const timeout = mapper.toSpan(byId('dns-timeout'));
  t.equal(timeout.name, 'AAAA slow.example');
  t.equal(timeout.attributes['error.type'], 'timeout');
  t.equal(timeout.status.code, SpanStatusCode.ERROR);
  t.notOk('meshtap.dns.rcode' in timeout.attributes, 'unanswered: no rcode');
});

void t.test('SRV over TCP: the answer data as given, the transport from the query', async (t) => {
  const span = mapper.toSpan(byId('dns-srv'));
  t.equal(span.name, 'SRV _http._tcp.catalog.shop.svc.cluster.local');
  t.same(span.attributes['dns.answers'], ['0 100 8080 catalog.shop.svc.cluster.local']);
  t.equal(span.attributes['network.transport'], 'tcp');
});

void t.test('bodies that are not what the capture writes cost only their attributes', async (t) => {
  const r = dnsRecord({ id: 'bad', name: 'x.example' });
  r.response = { headers: {}, body: new TextEncoder().encode('{"answers": 5'), body_size: 13, truncated: true };
  r.request = { headers: {}, body: new TextEncoder().encode('[1,2]'), body_size: 5, truncated: false };
  const span = mapper.toSpan(r);
  t.equal(span.name, 'A x.example');
  t.notOk('dns.answers' in span.attributes);
  t.equal(span.attributes['network.transport'], 'tcp', 'unknown transport: the default');
  const many = dnsRecord({ id: 'many', name: 'big.example', answers: Array.from({ length: 100 }, (_, i) => ({ name: 'big.example', type: 'A', ttl: 1, data: `10.0.0.${i}` })) });
  t.equal(dnsAnswerData(many).length, 64, 'a bounded answer list');
  const noQuestion = dnsRecord({ id: 'nq', name: '' });
  t.equal(mapper.toSpan(noQuestion).name, 'A');
});
