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

export class ProtoDecodeError extends Error {}

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;

const TWO_32 = 4294967296;

/**
 * A position in one Buffer. Every read is bounded by `end`, the end of the message being read
 * (not of the buffer), so a field cannot run past its enclosing message.
 */
class Reader {
  readonly buf: Buffer;
  pos: number;
  /** The high 32 bits of the last `varint64`. */
  hi = 0;

  /** Reads `bytes` in place (a view, never a copy). */
  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  fail(what: string): never {
    throw new ProtoDecodeError(`${what} at byte ${this.pos} of ${this.buf.length}`);
  }

  /** A varint's low 32 bits, unsigned; the rest of a longer varint is read and dropped. */
  uint32(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= end) this.fail('truncated varint');
    let b = buf[pos++];
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let value = b & 0x7f;
    for (let shift = 7; shift < 70; shift += 7) {
      if (pos >= end) this.fail('truncated varint');
      b = buf[pos++];
      // Bits past 32 are dropped (shift 28 keeps the low 4 of the byte).
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return value >>> 0;
      }
    }
    return this.fail('varint longer than ten bytes');
  }

  /** A varint as two unsigned 32-bit halves: returns the low one, the high one is in `hi`. */
  varint64(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.fail('truncated varint');
      b = buf[pos++];
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if (b < 0x80) {
        this.pos = pos;
        this.hi = hi >>> 0;
        return lo >>> 0;
      }
    }
    return this.fail('varint longer than ten bytes');
  }

  uint64String(end: number): string {
    const lo = this.varint64(end);
    return uint64ToString(lo, this.hi);
  }

  sfixed64String(end: number): string {
    if (this.pos + 8 > end) this.fail('truncated fixed64');
    const buf = this.buf;
    const p = this.pos;
    const lo = (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24)) >>> 0;
    const hi = (buf[p + 4] | (buf[p + 5] << 8) | (buf[p + 6] << 16) | (buf[p + 7] << 24)) >>> 0;
    this.pos = p + 8;
    return int64ToString(lo, hi);
  }

  double(end: number): number {
    if (this.pos + 8 > end) this.fail('truncated double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** The end of a length-delimited field whose length is read now. */
  lengthEnd(end: number): number {
    const length = this.uint32(end);
    const to = this.pos + length;
    if (to > end) this.fail(`length ${length} past the end of its message`);
    return to;
  }

  string(end: number): string {
    const to = this.lengthEnd(end);
    const from = this.pos;
    this.pos = to;
    return from === to ? '' : this.buf.toString('utf8', from, to);
  }

  bytes(end: number): Buffer {
    const to = this.lengthEnd(end);
    const from = this.pos;
    this.pos = to;
    return from === to ? Buffer.alloc(0) : this.buf.subarray(from, to);
  }

  /** Skips the value of a field of `wireType` whose tag was just read. */
  skip(wireType: number, end: number, depth = 0): void {
    switch (wireType) {
      case VARINT:
        this.varint64(end);
        return;
      case FIXED64:
        if (this.pos + 8 > end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case LEN:
        this.pos = this.lengthEnd(end);
        return;
      case START_GROUP:
        if (depth > 32) this.fail('groups nested too deep');
        for (;;) {
          const tag = this.uint32(end);
          if ((tag & 7) === END_GROUP) return;
          this.skip(tag & 7, end, depth + 1);
        }
      case FIXED32:
        if (this.pos + 4 > end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`invalid wire type ${wireType}`);
    }
  }

  /** The next tag of a message ending at `end`; field number 0 is refused. */
  tag(end: number): number {
    const tag = this.uint32(end);
    if (tag >>> 3 === 0) this.fail('field number 0');
    return tag;
  }
}

/** `'0000000'` padding for the low decimal digits. */
function pad7(n: number): string {
  const s = String(n);
  return s.length >= 7 ? s : '0000000'.slice(s.length) + s;
}

/** The unsigned 64-bit integer `hi * 2^32 + lo` in decimal, exactly. */
export function uint64ToString(lo: number, hi: number): string {
  if (hi <= 0x1fffff) return String(hi * TWO_32 + lo);
  // Three base-2^24 digits recombined in base 10^7 (as protobuf's own JavaScript runtimes do).
  const low = lo & 0xffffff;
  const mid = ((lo >>> 24) | (hi << 8)) & 0xffffff;
  const high = (hi >>> 16) & 0xffff;
  let digitA = low + mid * 6777216 + high * 6710656;
  let digitB = mid + high * 8147497;
  let digitC = high * 2;
  const base = 10000000;
  if (digitA >= base) {
    digitB += Math.floor(digitA / base);
    digitA %= base;
  }
  if (digitB >= base) {
    digitC += Math.floor(digitB / base);
    digitB %= base;
  }
  return String(digitC) + pad7(digitB) + pad7(digitA);
}

/** The two's-complement signed 64-bit integer `hi * 2^32 + lo` in decimal, exactly. */
export function int64ToString(lo: number, hi: number): string {
  if (hi < 0x80000000) return uint64ToString(lo, hi);
  // Negate: two's complement of (hi, lo).
  const nlo = (~lo + 1) >>> 0;
  let nhi = ~hi >>> 0;
  if (nlo === 0) nhi = (nhi + 1) >>> 0;
  return '-' + uint64ToString(nlo, nhi);
}

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
  const to = r.lengthEnd(end);
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
