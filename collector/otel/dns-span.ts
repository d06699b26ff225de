/**
 * What a DNS record adds to its span, after the OpenTelemetry DNS conventions: the span is
 * named `<TYPE> <name>` (`A catalog.shop.svc.cluster.local`: the question, which is a name and
 * never an id), `dns.question.name` is the question and `dns.answers` the answers' data (the
 * addresses of an A/AAAA answer, the `priority weight port target` of an SRV, …), and a query
 * that failed carries `error.type`: the record's error (`timeout`), else the response code when
 * it is not NOERROR (`NXDOMAIN`, `SERVFAIL`, …), as the conventions suggest for DNS lookups.
 * The transport comes from the query (`udp` or `tcp`).
 *
 * The sidecar's DNS capture gives the question in `path`, the type in `method`, the rcode in
 * `dns_rcode`, and JSON bodies: the request `{"id","transport","questions":[…],"flags":{…}}`,
 * the response `{"rcode","flags","answers":[{"name","type","ttl","data"}],"authority","additional"}`.
 * A body that does not parse only leaves the attributes it would have given out.
 */
import type { Attributes } from '@opentelemetry/api';
import type { CallRecord, HttpMessage } from '../../record/record.ts';
import { dnsAnswerText } from '../../record/dns-answer.ts';

/** Attribute names of the DNS semantic conventions (still in development upstream). */
export const ATTR_DNS_QUESTION_NAME = 'dns.question.name';
export const ATTR_DNS_ANSWERS = 'dns.answers';
/** What the conventions have no name for. */
export const ATTR_MESHTAP_DNS_QUESTION_TYPE = 'meshtap.dns.question.type';
export const ATTR_MESHTAP_DNS_RCODE = 'meshtap.dns.rcode';

/** At most this many answers become `dns.answers` (a response may hold hundreds). */
const MAX_ANSWERS = 64;
const MAX_VALUE = 1024;

export function isDns(record: CallRecord): boolean {
  return record.protocol === 'dns';
}

function bodyJson(message: HttpMessage | undefined): Record<string, unknown> | undefined {
  const body = message?.body;
  if (body === undefined || body.length === 0) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The answers' `data`, in the order the server gave them. */
export function dnsAnswerData(record: CallRecord): string[] {
  const answers = bodyJson(record.response)?.answers;
  if (!Array.isArray(answers)) return [];
  const out: string[] = [];
  for (const a of answers) {
    const data = dnsAnswerText((a as { data?: unknown } | null)?.data);
    if (data !== undefined) out.push(data.slice(0, MAX_VALUE));
    if (out.length === MAX_ANSWERS) break;
  }
  return out;
}

/** `udp` or `tcp`, from the query; undefined when the body does not say. */
export function dnsTransport(record: CallRecord): 'udp' | 'tcp' | undefined {
  const t = bodyJson(record.request)?.transport;
  return t === 'udp' || t === 'tcp' ? t : undefined;
}

/** `A catalog.shop.svc.cluster.local`; `dns` when the capture had no question. */
export function dnsSpanName(record: CallRecord): string {
  if (record.path === undefined || record.path === '') return record.method ?? 'dns';
  return record.method !== undefined ? `${record.method} ${record.path}` : record.path;
}

/** The error a DNS span reports: the record's error, else a response code other than NOERROR. */
export function dnsErrorType(record: CallRecord): string | undefined {
  if (record.error !== undefined) return record.error;
  if (record.dns_rcode !== undefined && record.dns_rcode !== 'NOERROR') return record.dns_rcode;
  return undefined;
}

export function putDnsAttributes(attrs: Attributes, record: CallRecord): void {
  if (record.path !== undefined && record.path !== '') attrs[ATTR_DNS_QUESTION_NAME] = record.path.slice(0, MAX_VALUE);
  const answers = dnsAnswerData(record);
  if (answers.length > 0) attrs[ATTR_DNS_ANSWERS] = answers;
  if (record.method !== undefined && record.method !== '') attrs[ATTR_MESHTAP_DNS_QUESTION_TYPE] = record.method.slice(0, 64);
  if (record.dns_rcode !== undefined && record.dns_rcode !== '') attrs[ATTR_MESHTAP_DNS_RCODE] = record.dns_rcode.slice(0, 64);
}
