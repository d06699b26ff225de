/**
 * `meshtap.v1.CallRecord`, `SidecarInfo` and `RecordBatch` encoded by hand, straight from the
 * `CallRecord`: no message objects, no reflection, one reusable scratch buffer and one copy out
 * per record.
 *
 * The bytes are exactly those protobufjs writes for `recordToProto(r)` (`codec.ts`), so either
 * encoder can feed the same collector and the tests compare the two byte for byte. That pins
 * down what is written when: protobufjs writes every plain proto3 field, zero or empty included
 * (it skips only null and undefined); a proto3 `optional` field, a wrapper message and a
 * sub-message are written iff the record has the value; a repeated field iff it has elements;
 * map entries in `Object.keys` order, key and value always written. Field numbers are those of
 * `proto/meshtap/v1/record.proto` and `collector.proto`.
 */
import type { SidecarInfoMessage } from './codec.ts';
import { ProtoWriter, varintSize } from './proto-writer.ts';
import type { AppTlsInfo, CallRecord, ConnectionFacts, Endpoint, HttpMessage } from './record.ts';

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;

function tag(field: number, wireType: number): number {
  return (field << 3) | wireType;
}

// CallRecord
const R_ID = tag(1, LEN);
const R_PROTOCOL = tag(2, LEN);
const R_OBSERVER = tag(3, LEN);
const R_CONNECTION_ID = tag(4, LEN);
const R_ORDINAL = tag(5, VARINT);
const R_START = tag(6, FIXED64);
const R_REQUEST_END = tag(7, FIXED64);
const R_RESPONSE_START = tag(8, FIXED64);
const R_END = tag(9, FIXED64);
const R_ELAPSED_US = tag(10, VARINT);
const R_SRC = tag(11, LEN);
const R_DST = tag(12, LEN);
const R_TLS = tag(13, LEN);
const R_METHOD = tag(14, LEN);
const R_PATH = tag(15, LEN);
const R_AUTHORITY = tag(16, LEN);
const R_STATUS_CODE = tag(17, VARINT);
const R_GRPC_STATUS = tag(18, VARINT);
const R_REQUEST = tag(19, LEN);
const R_RESPONSE = tag(20, LEN);
const R_BYTES_IN = tag(21, VARINT);
const R_BYTES_OUT = tag(22, VARINT);
const R_ERROR = tag(23, LEN);
const R_ERROR_DETAIL = tag(24, LEN);
const R_CLOSE_REASON = tag(25, LEN);
const R_TRACE_ID = tag(26, LEN);
const R_SPAN_ID = tag(27, LEN);
const R_PARENT_SPAN_ID = tag(28, LEN);
const R_REDACTED = tag(29, LEN);
const R_SENSITIVE = tag(30, LEN);
const R_NOTES = tag(31, LEN);
const R_GRPC_MESSAGE = tag(32, LEN);
const R_DNS_RCODE = tag(33, LEN);
const R_CONNECTION = tag(34, LEN);
const R_QUEUE_US = tag(35, VARINT);
const R_LINK_CONFIDENCE = tag(36, FIXED64);
const R_CAUSED_BY_TRACE_ID = tag(37, LEN);
const R_CAUSED_BY_SPAN_ID = tag(38, LEN);

// ConnectionFacts
const C_CONNECT_US = tag(1, VARINT);
const C_TLS_HANDSHAKE_US = tag(2, VARINT);
const C_RESET_BY = tag(3, LEN);
const C_HALF_CLOSED_BY = tag(4, LEN);
const C_EXCHANGES = tag(5, VARINT);

// Endpoint
const E_IP = tag(1, LEN);
const E_PORT = tag(2, VARINT);
const E_IDENTITY = tag(3, LEN);
const E_POD = tag(4, LEN);
const E_NAMESPACE = tag(5, LEN);
const E_WORKLOAD = tag(6, LEN);
const E_WORKLOAD_KIND = tag(7, LEN);
const E_SERVICE = tag(8, LEN);
const E_NODE = tag(9, LEN);
const E_LABELS = tag(10, LEN);

// TlsInfo, AppTlsInfo
const T_MESH = tag(1, VARINT);
const T_APP_TLS = tag(2, LEN);
const A_SNI = tag(1, LEN);
const A_ALPN = tag(2, LEN);
const A_VERSION = tag(3, LEN);
const A_CIPHER = tag(4, LEN);
const A_HANDSHAKE_US = tag(5, VARINT);
const A_ERROR = tag(6, LEN);

// HttpMessage
const H_HEADERS = tag(1, LEN);
const H_TRAILERS = tag(2, LEN);
const H_BODY = tag(3, LEN);
const H_BODY_SIZE = tag(4, VARINT);
const H_TRUNCATED = tag(5, VARINT);
const H_CONTENT_TYPE = tag(6, LEN);
const H_CONTENT_ENCODING = tag(7, LEN);

// StringMap, StringList, and a map<string, string> entry
const MAP_ENTRIES = tag(1, LEN);
const LIST_VALUES = tag(1, LEN);
const ENTRY_KEY = tag(1, LEN);
const ENTRY_VALUE = tag(2, LEN);

// SidecarInfo, RecordBatch
const S_POD = tag(1, LEN);
const S_NAMESPACE = tag(2, LEN);
const S_POD_IP = tag(3, LEN);
const S_NODE = tag(4, LEN);
const S_SERVICE_ACCOUNT = tag(5, LEN);
const S_SIDECAR_VERSION = tag(6, LEN);
const B_SEQ = tag(1, VARINT);
const B_SIDECAR = tag(2, LEN);
const B_RECORDS = tag(3, LEN);

/** Every tag above fits one byte except CallRecord's fields 16..31, which take two. */
function writeTag(w: ProtoWriter, t: number): void {
  w.ensure(2);
  w.varint32(t);
}

function writeOptionalString(w: ProtoWriter, t: number, value: string | undefined): void {
  if (value !== undefined) w.stringField(t, value);
}

function writeStringList(w: ProtoWriter, t: number, values: readonly string[]): void {
  for (let i = 0; i < values.length; i++) w.stringField(t, values[i]);
}

/** Map entries, one length-delimited `{key = 1, value = 2}` message each, as protobufjs orders them. */
function writeMapEntries(w: ProtoWriter, t: number, map: Record<string, string>): void {
  const keys = Object.keys(map);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    writeTag(w, t);
    const mark = w.begin(1);
    w.stringField(ENTRY_KEY, key);
    w.stringField(ENTRY_VALUE, map[key]);
    w.end(mark, 1);
  }
}

/** A `StringMap` wrapper message: present (even when empty) iff the map is. */
function writeStringMap(w: ProtoWriter, t: number, map: Record<string, string>): void {
  writeTag(w, t);
  const mark = w.begin(1);
  writeMapEntries(w, MAP_ENTRIES, map);
  w.end(mark, 1);
}

function writeEndpoint(w: ProtoWriter, t: number, e: Endpoint): void {
  writeTag(w, t);
  // Pod, namespace, identity and labels usually take an endpoint past 127 bytes.
  const reserved = e.labels === undefined && e.identity === undefined ? 1 : 2;
  const mark = w.begin(reserved);
  w.stringField(E_IP, e.ip);
  w.uint32Field(E_PORT, e.port);
  writeOptionalString(w, E_IDENTITY, e.identity);
  writeOptionalString(w, E_POD, e.pod);
  writeOptionalString(w, E_NAMESPACE, e.namespace);
  writeOptionalString(w, E_WORKLOAD, e.workload);
  writeOptionalString(w, E_WORKLOAD_KIND, e.workload_kind);
  writeOptionalString(w, E_SERVICE, e.service);
  writeOptionalString(w, E_NODE, e.node);
  if (e.labels !== undefined) writeStringMap(w, E_LABELS, e.labels);
  w.end(mark, reserved);
}

function writeAppTls(w: ProtoWriter, t: number, a: AppTlsInfo): void {
  writeTag(w, t);
  const mark = w.begin(1);
  writeOptionalString(w, A_SNI, a.sni);
  if (a.alpn !== undefined) {
    writeTag(w, A_ALPN);
    const alpn = w.begin(1);
    writeStringList(w, LIST_VALUES, a.alpn);
    w.end(alpn, 1);
  }
  writeOptionalString(w, A_VERSION, a.version);
  writeOptionalString(w, A_CIPHER, a.cipher);
  if (a.handshake_us !== undefined) w.uint64Field(A_HANDSHAKE_US, a.handshake_us);
  writeOptionalString(w, A_ERROR, a.error);
  w.end(mark, 1);
}

function writeConnection(w: ProtoWriter, t: number, c: ConnectionFacts): void {
  writeTag(w, t);
  const mark = w.begin(1);
  if (c.connect_us !== undefined) w.uint64Field(C_CONNECT_US, c.connect_us);
  if (c.tls_handshake_us !== undefined) w.uint64Field(C_TLS_HANDSHAKE_US, c.tls_handshake_us);
  writeOptionalString(w, C_RESET_BY, c.reset_by);
  writeOptionalString(w, C_HALF_CLOSED_BY, c.half_closed_by);
  if (c.exchanges !== undefined) w.uint32Field(C_EXCHANGES, c.exchanges);
  w.end(mark, 1);
}

function writeHttpMessage(w: ProtoWriter, t: number, m: HttpMessage): void {
  writeTag(w, t);
  // The body dominates the length; headers rarely push it across another varint boundary.
  const reserved = varintSize(m.body.length + 64);
  const mark = w.begin(reserved);
  writeMapEntries(w, H_HEADERS, m.headers);
  if (m.trailers !== undefined) writeStringMap(w, H_TRAILERS, m.trailers);
  w.bytesField(H_BODY, m.body);
  w.uint64Field(H_BODY_SIZE, m.body_size);
  w.boolField(H_TRUNCATED, m.truncated);
  writeOptionalString(w, H_CONTENT_TYPE, m.content_type);
  writeOptionalString(w, H_CONTENT_ENCODING, m.content_encoding);
  w.end(mark, reserved);
}

function writeCallRecord(w: ProtoWriter, r: CallRecord): void {
  w.stringField(R_ID, r.id);
  w.stringField(R_PROTOCOL, r.protocol);
  w.stringField(R_OBSERVER, r.observer);
  w.stringField(R_CONNECTION_ID, r.connection_id);
  w.uint32Field(R_ORDINAL, r.ordinal);
  w.sfixed64Field(R_START, r.start);
  if (r.request_end !== undefined) w.sfixed64Field(R_REQUEST_END, r.request_end);
  if (r.response_start !== undefined) w.sfixed64Field(R_RESPONSE_START, r.response_start);
  w.sfixed64Field(R_END, r.end);
  w.uint64Field(R_ELAPSED_US, r.elapsed_us);
  writeEndpoint(w, R_SRC, r.src);
  writeEndpoint(w, R_DST, r.dst);

  writeTag(w, R_TLS);
  const tls = w.begin(1);
  w.boolField(T_MESH, r.tls.mesh);
  if (r.tls.app_tls !== undefined) writeAppTls(w, T_APP_TLS, r.tls.app_tls);
  w.end(tls, 1);

  writeOptionalString(w, R_METHOD, r.method);
  writeOptionalString(w, R_PATH, r.path);
  writeOptionalString(w, R_AUTHORITY, r.authority);
  if (r.status_code !== undefined) w.uint32Field(R_STATUS_CODE, r.status_code);
  if (r.grpc_status !== undefined) w.int32Field(R_GRPC_STATUS, r.grpc_status);
  if (r.request !== undefined) writeHttpMessage(w, R_REQUEST, r.request);
  if (r.response !== undefined) writeHttpMessage(w, R_RESPONSE, r.response);
  w.uint64Field(R_BYTES_IN, r.bytes_in);
  w.uint64Field(R_BYTES_OUT, r.bytes_out);
  writeOptionalString(w, R_ERROR, r.error);
  writeOptionalString(w, R_ERROR_DETAIL, r.error_detail);
  writeOptionalString(w, R_CLOSE_REASON, r.close_reason);
  writeOptionalString(w, R_TRACE_ID, r.trace_id);
  writeOptionalString(w, R_SPAN_ID, r.span_id);
  writeOptionalString(w, R_PARENT_SPAN_ID, r.parent_span_id);
  writeStringList(w, R_REDACTED, r.redacted);
  writeStringList(w, R_SENSITIVE, r.sensitive);
  if (r.notes !== undefined) writeStringList(w, R_NOTES, r.notes);
  writeOptionalString(w, R_GRPC_MESSAGE, r.grpc_message);
  writeOptionalString(w, R_DNS_RCODE, r.dns_rcode);
  if (r.connection !== undefined) writeConnection(w, R_CONNECTION, r.connection);
  if (r.queue_us !== undefined) w.uint64Field(R_QUEUE_US, r.queue_us);
  if (r.link_confidence !== undefined) w.doubleField(R_LINK_CONFIDENCE, r.link_confidence);
  writeOptionalString(w, R_CAUSED_BY_TRACE_ID, r.caused_by_trace_id);
  writeOptionalString(w, R_CAUSED_BY_SPAN_ID, r.caused_by_span_id);
}

/** Shared by every call: encoding is synchronous, so one scratch buffer serves the process. */
const scratch = new ProtoWriter();

/**
 * The `meshtap.v1.CallRecord` message for `r`: the bytes protobufjs writes for `recordToProto(r)`.
 * A Buffer of its own length; like protobufjs's output, a small one may share its ArrayBuffer
 * with other Buffers (Node's pool), so use the view, not `.buffer`.
 */
export function encodeCallRecord(r: CallRecord): Uint8Array {
  scratch.reset();
  writeCallRecord(scratch, r);
  return scratch.take();
}

/**
 * An encoded record with a flow link's fields (`trace_id`, `parent_span_id`, `link_confidence`)
 * appended: protobuf takes fields in any order, so a record made and encoded elsewhere (DNS)
 * gets its link without being decoded and encoded again. For a record that has none of the
 * three; it reads as the record with them set.
 */
export function appendFlowLink(record: Uint8Array, link: { trace_id: string; parent_span_id: string; link_confidence: number }): Uint8Array {
  scratch.reset();
  scratch.stringField(R_TRACE_ID, link.trace_id);
  scratch.stringField(R_PARENT_SPAN_ID, link.parent_span_id);
  scratch.doubleField(R_LINK_CONFIDENCE, link.link_confidence);
  const tail = scratch.take();
  const out = new Uint8Array(record.byteLength + tail.byteLength);
  out.set(record);
  out.set(tail, record.byteLength);
  return out;
}

/** The `meshtap.v1.SidecarInfo` message, encoded once per stream and reused by every batch. */
export function encodeSidecarInfo(info: SidecarInfoMessage): Uint8Array {
  scratch.reset();
  scratch.stringField(S_POD, info.pod);
  scratch.stringField(S_NAMESPACE, info.namespace);
  scratch.stringField(S_POD_IP, info.pod_ip);
  scratch.stringField(S_NODE, info.node);
  scratch.stringField(S_SERVICE_ACCOUNT, info.service_account);
  scratch.stringField(S_SIDECAR_VERSION, info.sidecar_version);
  return scratch.take();
}

/**
 * A `meshtap.v1.RecordBatch` from pieces already encoded (`encodeSidecarInfo`,
 * `encodeCallRecord`), framed and concatenated into one allocation. `sidecar: null` leaves the
 * field out, as protobufjs does for a null sub-message. `headroom` bytes are left free in front
 * of the message (for a transport's own frame header, so it need not copy the batch again).
 * `alloc` gives the output's memory (a Buffer of exactly the size asked for): a pool's, to reuse it.
 */
export function encodeRecordBatch(
  seq: number,
  sidecar: Uint8Array | null,
  records: readonly Uint8Array[],
  headroom = 0,
  alloc: (size: number) => Buffer = Buffer.allocUnsafe,
): Buffer {
  // The seq field through the scratch writer, so a JS number is split into halves as protobufjs does.
  scratch.reset();
  scratch.uint64Field(B_SEQ, seq);
  let size = scratch.pos;
  if (sidecar !== null) size += 1 + varintSize(sidecar.length) + sidecar.length;
  for (let i = 0; i < records.length; i++) size += 1 + varintSize(records[i].length) + records[i].length;

  const out = alloc(headroom + size);
  let p = headroom + scratch.buf.copy(out, headroom, 0, scratch.pos);
  const frame = (t: number, piece: Uint8Array): void => {
    out[p++] = t;
    let len = piece.length;
    while (len > 0x7f) {
      out[p++] = (len & 0x7f) | 0x80;
      len >>>= 7;
    }
    out[p++] = len;
    out.set(piece, p);
    p += piece.length;
  };
  if (sidecar !== null) frame(B_SIDECAR, sidecar);
  for (let i = 0; i < records.length; i++) frame(B_RECORDS, records[i]);
  return out;
}
