/**
 * `meshtap.v1.RecordBatch` decoded by hand, the counterpart of `record-writer.ts`: the
 * collector's ingest reads every batch through this instead of proto-loader's
 * deserializer (protobufjs `decode` into message instances, then `toObject` into plain objects,
 * 64-bit integers through `Long`).
 *
 * The result is exactly the plain object proto-loader hands over with
 * `protoLoaderOptions(String)` (`codec.ts`), which is what `decodeRecord` reads: plain proto3
 * fields always present (their defaults when absent on the wire), proto3 `optional` fields
 * present iff they were on the wire, absent sub-messages `null`, repeated fields `[]` when
 * empty, maps as plain objects in wire order (a repeated key keeps its first position and its
 * last value), 64-bit integers as decimal strings (signed for `sfixed64`, unsigned for
 * `uint64`), `uint32` as an unsigned number, `int32` as a signed one (both from the low 32 bits
 * of the varint), `bool` as the low 32 bits being non-zero, `bytes` as a Buffer over the
 * batch's own memory (no copy), strings decoded as Node decodes UTF-8 (an invalid sequence
 * becomes U+FFFD). A field given twice keeps the last value; a sub-message given twice is
 * replaced, as protobufjs does. The tests compare it field for field with protobufjs.
 *
 * Unknown fields are skipped, whatever their wire type; so is a known field number arriving with
 * another wire type than its own (the rule of the official parsers). Anything that is not a
 * well-formed message throws a `ProtoDecodeError`: a length or a value running past the end of
 * the bytes or of its enclosing message, a varint longer than ten bytes, field number 0, wire
 * types 4, 6 and 7 outside a group. (protobufjs would instead cut a string whose length runs past
 * the end short and carry on; a batch like that is refused here.) Field numbers are those of
 * `proto/meshtap/v1/record.proto` and `collector.proto`.
 */
import type {
  AppTlsInfoMessage,
  CallRecordMessage,
  ConnectionFactsMessage,
  EndpointMessage,
  HttpMessageMessage,
  RecordBatchMessage,
  RejectionMessage,
  ShipAckMessage,
  SidecarInfoMessage,
  StringListMessage,
  StringMapMessage,
} from './codec.ts';
import { FIXED64, LEN, Reader, VARINT } from './proto-reader.ts';

export { int64ToString, ProtoDecodeError, uint64ToString } from './proto-reader.ts';

// ---------------------------------------------------------------------------------------------
// messages

function stringMapEntries(r: Reader, end: number, map: Record<string, string>): void {
  const to = r.lengthEnd(end);
  let key = '';
  let value = '';
  while (r.pos < to) {
    const tag = r.tag(to);
    if (tag === 0x0a) key = r.string(to);
    else if (tag === 0x12) value = r.string(to);
    else r.skip(tag & 7, to);
  }
  map[key] = value;
}

function stringMap(r: Reader, end: number): StringMapMessage {
  const to = r.lengthEnd(end);
  const entries: Record<string, string> = {};
  while (r.pos < to) {
    const tag = r.tag(to);
    if (tag === 0x0a) stringMapEntries(r, to, entries);
    else r.skip(tag & 7, to);
  }
  return { entries };
}

function stringList(r: Reader, end: number): StringListMessage {
  const to = r.lengthEnd(end);
  const values: string[] = [];
  while (r.pos < to) {
    const tag = r.tag(to);
    if (tag === 0x0a) values.push(r.string(to));
    else r.skip(tag & 7, to);
  }
  return { values };
}

function endpoint(r: Reader, end: number): EndpointMessage {
  const to = r.lengthEnd(end);
  const m: EndpointMessage = { ip: '', port: 0, labels: null };
  while (r.pos < to) {
    const tag = r.tag(to);
    switch (tag) {
      case 0x0a: m.ip = r.string(to); break;
      case 0x10: m.port = r.uint32(to); break;
      case 0x1a: m.identity = r.string(to); break;
      case 0x22: m.pod = r.string(to); break;
      case 0x2a: m.namespace = r.string(to); break;
      case 0x32: m.workload = r.string(to); break;
      case 0x3a: m.workload_kind = r.string(to); break;
      case 0x42: m.service = r.string(to); break;
      case 0x4a: m.node = r.string(to); break;
      case 0x52: m.labels = stringMap(r, to); break;
      default: r.skip(tag & 7, to);
    }
  }
  return m;
}

function appTls(r: Reader, end: number): AppTlsInfoMessage {
  const to = r.lengthEnd(end);
  const m: AppTlsInfoMessage = { alpn: null };
  while (r.pos < to) {
    const tag = r.tag(to);
    switch (tag) {
      case 0x0a: m.sni = r.string(to); break;
      case 0x12: m.alpn = stringList(r, to); break;
      case 0x1a: m.version = r.string(to); break;
      case 0x22: m.cipher = r.string(to); break;
      case 0x28: m.handshake_us = r.uint64String(to); break;
      case 0x32: m.error = r.string(to); break;
      default: r.skip(tag & 7, to);
    }
  }
  return m;
}

function tlsInfo(r: Reader, end: number): CallRecordMessage['tls'] {
  const to = r.lengthEnd(end);
  const m: NonNullable<CallRecordMessage['tls']> = { mesh: false, app_tls: null };
  while (r.pos < to) {
    const tag = r.tag(to);
    if (tag === 0x08) m.mesh = r.uint32(to) !== 0;
    else if (tag === 0x12) m.app_tls = appTls(r, to);
    else r.skip(tag & 7, to);
  }
  return m;
}

function httpMessage(r: Reader, end: number): HttpMessageMessage {
  const to = r.lengthEnd(end);
  const m: HttpMessageMessage = { headers: {}, trailers: null, body: EMPTY, body_size: '0', truncated: false };
  let body: Buffer | undefined;
  while (r.pos < to) {
    const tag = r.tag(to);
    switch (tag) {
      case 0x0a: stringMapEntries(r, to, m.headers); break;
      case 0x12: m.trailers = stringMap(r, to); break;
      case 0x1a: body = r.bytes(to); break;
      case 0x20: m.body_size = r.uint64String(to); break;
      case 0x28: m.truncated = r.uint32(to) !== 0; break;
      case 0x32: m.content_type = r.string(to); break;
      case 0x3a: m.content_encoding = r.string(to); break;
      default: r.skip(tag & 7, to);
    }
  }
  // protobufjs's default is a fresh empty Buffer for each message.
  m.body = body ?? Buffer.alloc(0);
  return m;
}

const EMPTY = Buffer.alloc(0);

function connectionFacts(r: Reader, end: number): ConnectionFactsMessage {
  const to = r.lengthEnd(end);
  const m: ConnectionFactsMessage = {};
  while (r.pos < to) {
    const tag = r.tag(to);
    switch (tag) {
      case 0x08: m.connect_us = r.uint64String(to); break;
      case 0x10: m.tls_handshake_us = r.uint64String(to); break;
      case 0x1a: m.reset_by = r.string(to); break;
      case 0x22: m.half_closed_by = r.string(to); break;
      case 0x28: m.exchanges = r.uint32(to); break;
      default: r.skip(tag & 7, to);
    }
  }
  return m;
}

function callRecord(r: Reader, end: number): CallRecordMessage {
  return callRecordFields(r, r.lengthEnd(end));
}

/** The fields of a `CallRecord` from `r.pos` to `to`. */
function callRecordFields(r: Reader, to: number): CallRecordMessage {
  const m: CallRecordMessage = {
    id: '',
    protocol: '',
    observer: '',
    connection_id: '',
    ordinal: 0,
    start: '0',
    end: '0',
    elapsed_us: '0',
    src: null,
    dst: null,
    tls: null,
    request: null,
    response: null,
    bytes_in: '0',
    bytes_out: '0',
    redacted: [],
    sensitive: [],
    notes: [],
    connection: null,
  };
  while (r.pos < to) {
    const tag = r.tag(to);
    // Tags of fields 16 and up are two-byte varints; as numbers they are `field << 3 | wire`.
    switch (tag) {
      case 0x0a: m.id = r.string(to); break;
      case 0x12: m.protocol = r.string(to); break;
      case 0x1a: m.observer = r.string(to); break;
      case 0x22: m.connection_id = r.string(to); break;
      case 0x28: m.ordinal = r.uint32(to); break;
      case 0x31: m.start = r.sfixed64String(to); break;
      case 0x39: m.request_end = r.sfixed64String(to); break;
      case 0x41: m.response_start = r.sfixed64String(to); break;
      case 0x49: m.end = r.sfixed64String(to); break;
      case 0x50: m.elapsed_us = r.uint64String(to); break;
      case 0x5a: m.src = endpoint(r, to); break;
      case 0x62: m.dst = endpoint(r, to); break;
      case 0x6a: m.tls = tlsInfo(r, to); break;
      case 0x72: m.method = r.string(to); break;
      case 0x7a: m.path = r.string(to); break;
      case (16 << 3) | LEN: m.authority = r.string(to); break;
      case (17 << 3) | VARINT: m.status_code = r.uint32(to); break;
      case (18 << 3) | VARINT: m.grpc_status = r.uint32(to) | 0; break;
      case (19 << 3) | LEN: m.request = httpMessage(r, to); break;
      case (20 << 3) | LEN: m.response = httpMessage(r, to); break;
      case (21 << 3) | VARINT: m.bytes_in = r.uint64String(to); break;
      case (22 << 3) | VARINT: m.bytes_out = r.uint64String(to); break;
      case (23 << 3) | LEN: m.error = r.string(to); break;
      case (24 << 3) | LEN: m.error_detail = r.string(to); break;
      case (25 << 3) | LEN: m.close_reason = r.string(to); break;
      case (26 << 3) | LEN: m.trace_id = r.string(to); break;
      case (27 << 3) | LEN: m.span_id = r.string(to); break;
      case (28 << 3) | LEN: m.parent_span_id = r.string(to); break;
      case (29 << 3) | LEN: m.redacted.push(r.string(to)); break;
      case (30 << 3) | LEN: m.sensitive.push(r.string(to)); break;
      case (31 << 3) | LEN: m.notes!.push(r.string(to)); break;
      case (32 << 3) | LEN: m.grpc_message = r.string(to); break;
      case (33 << 3) | LEN: m.dns_rcode = r.string(to); break;
      case (34 << 3) | LEN: m.connection = connectionFacts(r, to); break;
      case (35 << 3) | VARINT: m.queue_us = r.uint64String(to); break;
      case (36 << 3) | FIXED64: m.link_confidence = r.double(to); break;
      case (37 << 3) | LEN: m.caused_by_trace_id = r.string(to); break;
      case (38 << 3) | LEN: m.caused_by_span_id = r.string(to); break;
      default: r.skip(tag & 7, to);
    }
  }
  return m;
}

function sidecarInfo(r: Reader, end: number): SidecarInfoMessage {
  const to = r.lengthEnd(end);
  const m: SidecarInfoMessage = { pod: '', namespace: '', pod_ip: '', node: '', service_account: '', sidecar_version: '' };
  while (r.pos < to) {
    const tag = r.tag(to);
    switch (tag) {
      case 0x0a: m.pod = r.string(to); break;
      case 0x12: m.namespace = r.string(to); break;
      case 0x1a: m.pod_ip = r.string(to); break;
      case 0x22: m.node = r.string(to); break;
      case 0x2a: m.service_account = r.string(to); break;
      case 0x32: m.sidecar_version = r.string(to); break;
      default: r.skip(tag & 7, to);
    }
  }
  return m;
}

/**
 * A `RecordBatch` as proto-loader's deserializer would give it (see the top of this file).
 * Throws `ProtoDecodeError` for bytes that are not a well-formed message.
 */
export function decodeRecordBatch(bytes: Uint8Array): RecordBatchMessage {
  const r = new Reader(bytes);
  const end = r.buf.length;
  const batch: RecordBatchMessage = { seq: '0', sidecar: null, records: [] };
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case 0x08: batch.seq = r.uint64String(end); break;
      case 0x12: batch.sidecar = sidecarInfo(r, end); break;
      case 0x1a: batch.records.push(callRecord(r, end)); break;
      default: r.skip(tag & 7, end);
    }
  }
  return batch;
}

/**
 * One `CallRecord` message on its own (not inside a batch), as `decodeRecordBatch` gives each
 * of a batch's records: the collector's store keeps records in this form. Throws
 * `ProtoDecodeError` for bytes that are not a well-formed message.
 */
export function decodeCallRecordMessage(bytes: Uint8Array): CallRecordMessage {
  const r = new Reader(bytes);
  return callRecordFields(r, r.buf.length);
}

function rejection(r: Reader, end: number): RejectionMessage {
  const to = r.lengthEnd(end);
  const m: RejectionMessage = { index: 0, reason: '' };
  while (r.pos < to) {
    const tag = r.tag(to);
    switch (tag) {
      case 0x08: m.index = r.uint32(to); break;
      case 0x12: m.reason = r.string(to); break;
      default: r.skip(tag & 7, to);
    }
  }
  return m;
}

/**
 * A `ShipAck` (the collector's answer to a batch), read the same way, so the sidecar's shipper
 * needs neither proto-loader nor protobufjs: `seq` as a decimal string, `error` present iff it
 * was on the wire.
 */
export function decodeShipAck(bytes: Uint8Array): ShipAckMessage {
  const r = new Reader(bytes);
  const end = r.buf.length;
  const ack: ShipAckMessage = { seq: '0', accepted: 0, rejected: 0, rejections: [] };
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case 0x08: ack.seq = r.uint64String(end); break;
      case 0x10: ack.accepted = r.uint32(end); break;
      case 0x18: ack.rejected = r.uint32(end); break;
      case 0x22: ack.rejections.push(rejection(r, end)); break;
      case 0x2a: ack.error = r.string(end); break;
      default: r.skip(tag & 7, end);
    }
  }
  return ack;
}
