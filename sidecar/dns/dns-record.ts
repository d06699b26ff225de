/**
 * One DNS query and what became of it → one `CallRecord`. Pure: the relays hand over raw bytes
 * and times, this decodes them (the relays never depend on it) and says what it could not
 * read. An undecodable message still makes a record, with `error: "parse"` and the reason.
 */
import type { CallRecord, Endpoint, HttpMessage, RecordError } from '../../record/record.ts';
import type { LocalPod } from '../proxy/record-builder.ts';
import { decodeMessage, type DnsMessage } from './codec.ts';
import { renderAnswer, renderQuery, type DnsTransport } from './render.ts';
import { rcodeName, typeName } from './types.ts';
import type { NsClock } from '../capture/session.ts';
import type { ResolvConfSource } from './resolv-conf-source.ts';
import type { DnsStats } from './stats.ts';

export interface Address {
  readonly ip: string;
  readonly port: number;
}

/** What a relay saw of one query. */
export interface DnsExchange {
  readonly transport: DnsTransport;
  /** Unique per UDP query, per TCP connection. */
  readonly connectionId: string;
  /** 0 on UDP; the query's position on its TCP connection. */
  readonly ordinal: number;
  readonly client: Address;
  /** The resolver that answered; without an answer, the last one tried (absent: none was). */
  readonly resolver?: Address;
  readonly query: Uint8Array;
  readonly answer?: Uint8Array;
  readonly queryAt: bigint;
  readonly answerAt?: bigint;
  /** When the relay gave up (no answer): after the last resolver's timeout, or the connection's end. */
  readonly endAt: bigint;
  /** Without an answer: why. */
  readonly failure?: 'timeout' | 'upstream_unreachable' | 'closed';
  readonly failureDetail?: string;
}

/** Notes; never matched on, read by people. */
export const TRUNCATED_NOTE = 'truncated answer (TC): the client is expected to retry over TCP';
export const TCP_RETRY_NOTE = 'retry over TCP of a truncated UDP answer';

export interface BuiltDnsRecord {
  readonly record: CallRecord;
  readonly query?: DnsMessage;
  readonly answer?: DnsMessage;
  readonly queryError?: string;
  readonly answerError?: string;
}

function body(text: string, maxBodyBytes: number): HttpMessage {
  const bytes = Buffer.from(text, 'utf8');
  const kept = bytes.length > maxBodyBytes ? bytes.subarray(0, maxBodyBytes) : bytes;
  return { headers: {}, body: new Uint8Array(kept), body_size: bytes.length, truncated: kept.length < bytes.length, content_type: 'application/json' };
}

export interface BuildOptions {
  readonly local: LocalPod;
  readonly maxBodyBytes: number;
}

export function buildDnsRecord(ex: DnsExchange, options: BuildOptions): BuiltDnsRecord {
  const q = decodeMessage(ex.query);
  const a = ex.answer === undefined ? undefined : decodeMessage(ex.answer);
  const query = q.ok ? q.message : undefined;
  const answer = a?.ok ? a.message : undefined;
  const src: Endpoint = { ip: ex.client.ip, port: ex.client.port, pod: options.local.pod, namespace: options.local.namespace };
  if (options.local.node !== undefined) src.node = options.local.node;
  const dst: Endpoint = ex.resolver ? { ip: ex.resolver.ip, port: ex.resolver.port } : { ip: '', port: 53 };
  const end = ex.answerAt ?? ex.endAt;
  const elapsedNs = end - ex.queryAt;
  const question = query?.questions[0] ?? answer?.questions[0];
  const notes: string[] = [];
  if (answer?.flags.tc) notes.push(TRUNCATED_NOTE);
  if (query && query.questions.length !== 1) notes.push(`${query.questions.length} questions in the query`);

  let error: RecordError | undefined;
  let errorDetail: string | undefined;
  if (!q.ok) {
    error = 'parse';
    errorDetail = `query: ${q.error}`;
  } else if (a !== undefined && !a.ok) {
    error = 'parse';
    errorDetail = `answer: ${a.error}`;
  } else if (ex.answer === undefined) {
    error = ex.failure === 'upstream_unreachable' ? 'upstream_unreachable' : ex.failure === 'closed' ? 'closed' : 'timeout';
    errorDetail = ex.failureDetail;
  }

  const record: CallRecord = {
    id: `${ex.connectionId}-o${ex.ordinal}`,
    protocol: 'dns',
    observer: 'outbound',
    connection_id: ex.connectionId,
    ordinal: ex.ordinal,
    start: ex.queryAt,
    request_end: ex.queryAt,
    end,
    elapsed_us: elapsedNs > 0n ? Number(elapsedNs / 1000n) : 0,
    src,
    dst,
    tls: { mesh: false },
    bytes_out: ex.query.length,
    bytes_in: ex.answer?.length ?? 0,
    redacted: [],
    sensitive: [],
  };
  if (ex.answerAt !== undefined) record.response_start = ex.answerAt;
  if (question) {
    record.method = typeName(question.type);
    record.path = question.name.toLowerCase();
  }
  if (answer) record.dns_rcode = rcodeName(answer.rcode);
  if (query) record.request = body(renderQuery(query, ex.transport), options.maxBodyBytes);
  else record.request = body(JSON.stringify({ transport: ex.transport, undecodable_bytes: ex.query.length }), options.maxBodyBytes);
  if (answer) record.response = body(renderAnswer(answer), options.maxBodyBytes);
  else if (ex.answer !== undefined) record.response = body(JSON.stringify({ undecodable_bytes: ex.answer.length }), options.maxBodyBytes);
  if (error !== undefined) record.error = error;
  if (errorDetail !== undefined) record.error_detail = errorDetail;
  if (notes.length > 0) record.notes = notes;
  return {
    record,
    query,
    answer,
    queryError: q.ok ? undefined : q.error,
    answerError: a === undefined || a.ok ? undefined : a.error,
  };
}

/** What both relays (UDP and TCP) are given: where to forward, a clock, counters, ids, and where exchanges go. */
export interface RelayOptions {
  readonly resolvers: ResolvConfSource;
  readonly clock: NsClock;
  readonly stats: DnsStats;
  readonly newId: () => string;
  readonly onExchange: (exchange: DnsExchange) => void;
}
