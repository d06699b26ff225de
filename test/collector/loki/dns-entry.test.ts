/** DNS records in Loki: the rcode as structured metadata, the protocol as a stream label. */
import t from 'tap';
import { LOKI_METADATA_NAMES, buildLokiEntry } from '../../../collector/loki/entry.ts';
import { DNS_RECORDS } from '../dns-records.ts';
import { inboundPayment502 } from './records.ts';

const entry = (id: string) => buildLokiEntry(DNS_RECORDS.find((r) => r.id === id)!, { cluster: 'meshtap' });

void t.test('dns_rcode is structured metadata, next to the error', async (t) => {
  t.ok(LOKI_METADATA_NAMES.includes('dns_rcode'));
  const nx = entry('dns-nx');
  t.equal(nx.labels.protocol, 'dns', 'the protocol stays a (bounded) label');
  t.match(Object.fromEntries(nx.metadata), { dns_rcode: 'NXDOMAIN', method: 'A', observer: 'outbound' });
  t.notOk(nx.metadata.some(([k]) => k === 'error'), 'an NXDOMAIN is an answer, not a capture error');
  t.equal(Object.fromEntries(entry('dns-a').metadata).dns_rcode, 'NOERROR');
  const timeout = Object.fromEntries(entry('dns-timeout').metadata);
  t.equal(timeout.error, 'timeout');
  t.equal(timeout.dns_rcode, undefined, 'an unanswered query has no rcode');
  t.equal(Object.fromEntries(buildLokiEntry(inboundPayment502(), { cluster: 'meshtap' }).metadata).dns_rcode, undefined, 'HTTP has none');
  const names = nx.metadata.map(([k]) => k);
  t.ok(names.indexOf('dns_rcode') > names.indexOf('method'), 'written in LOKI_METADATA_NAMES order');
});
