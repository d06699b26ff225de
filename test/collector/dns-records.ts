/**
 * DNS records as the sidecar's DNS capture emits them (one per query: `method` the query type,
 * `path` the question name, `dns_rcode`, JSON bodies describing the query and the answer),
 * built by hand for the collector's DNS tests.
 */
import type { CallRecord } from '../../record/record.ts';

export interface DnsAnswer {
  name: string;
  type: string;
  ttl: number;
  /** As the sidecar records it (sidecar/dns/rdata.ts): text, TXT strings, or an SRV/MX/SOA's fields. */
  data: string | string[] | Record<string, string | number>;
}

export interface DnsRecordOptions {
  id: string;
  name: string;
  type?: string;
  rcode?: string;
  answers?: DnsAnswer[];
  authority?: DnsAnswer[];
  /** An unanswered query: no response, `error: "timeout"`. */
  timeout?: boolean;
  elapsedUs?: number;
  transport?: 'udp' | 'tcp';
  start?: bigint;
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

export function dnsRecord(o: DnsRecordOptions): CallRecord {
  const type = o.type ?? 'A';
  const start = o.start ?? 1_700_000_000_000_000_000n;
  const elapsed = o.elapsedUs ?? 200;
  const request = json({ id: 4242, transport: o.transport ?? 'udp', questions: [{ name: o.name, type, class: 'IN' }], flags: { rd: true } });
  const rcode = o.timeout ? undefined : (o.rcode ?? 'NOERROR');
  const response = rcode === undefined ? undefined : json({ rcode, flags: { aa: false, tc: false, ra: true }, answers: o.answers ?? [], authority: o.authority ?? [], additional: [] });
  return {
    id: o.id,
    protocol: 'dns',
    observer: 'outbound',
    connection_id: `c-${o.id}`,
    ordinal: 1,
    start,
    end: start + BigInt(elapsed) * 1000n,
    elapsed_us: elapsed,
    src: { ip: '10.244.0.2', port: 40000, pod: 'client', namespace: 'hello', workload: 'client', workload_kind: 'Pod', node: 'lab' },
    dst: { ip: '10.96.0.10', port: 53, service: 'kube-dns', namespace: 'kube-system' },
    tls: { mesh: false },
    method: type,
    path: o.name,
    ...(rcode !== undefined ? { dns_rcode: rcode } : {}),
    request: { headers: {}, body: request, body_size: request.byteLength, truncated: false, content_type: 'application/json' },
    ...(response ? { response: { headers: {}, body: response, body_size: response.byteLength, truncated: false, content_type: 'application/json' } } : {}),
    bytes_in: response ? 120 : 0,
    bytes_out: 60,
    redacted: [],
    sensitive: [],
    ...(o.timeout ? { error: 'timeout' as const } : {}),
  };
}

/** A small mix: two answers, an NXDOMAIN with an SOA in authority, an SRV, a SERVFAIL, a timeout. */
export const DNS_RECORDS: readonly CallRecord[] = [
  dnsRecord({
    id: 'dns-a',
    name: 'catalog.shop.svc.cluster.local',
    answers: [
      { name: 'catalog.shop.svc.cluster.local', type: 'A', ttl: 5, data: '10.96.0.12' },
      { name: 'catalog.shop.svc.cluster.local', type: 'A', ttl: 5, data: '10.96.0.13' },
    ],
  }),
  dnsRecord({
    id: 'dns-nx',
    name: 'catlog.shop',
    rcode: 'NXDOMAIN',
    elapsedUs: 100,
    authority: [{ name: 'cluster.local', type: 'SOA', ttl: 5, data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 } }],
  }),
  dnsRecord({
    id: 'dns-srv',
    name: '_http._tcp.catalog.shop.svc.cluster.local',
    type: 'SRV',
    // The shape the sidecar records (sidecar/dns/rdata.ts), not text.
    answers: [{ name: '_http._tcp.catalog.shop.svc.cluster.local', type: 'SRV', ttl: 5, data: { priority: 0, weight: 100, port: 8080, target: 'catalog.shop.svc.cluster.local' } }],
    transport: 'tcp',
  }),
  dnsRecord({ id: 'dns-servfail', name: 'example.com', rcode: 'SERVFAIL', elapsedUs: 1500 }),
  dnsRecord({ id: 'dns-timeout', name: 'slow.example', type: 'AAAA', timeout: true, elapsedUs: 5_000_000 }),
];
