/**
 * The capture worker's core: replays the forwarding thread's ops into one `CaptureTap` per
 * connection and turns every exchange into an encoded, masked record.
 *
 * Everything a request costs to capture happens here — detection, parsing, pairing, record
 * building, masking, encoding — so none of it runs on the thread that forwards. Times come
 * from the ops (when the forwarding thread saw the bytes), never from this thread's clock, so
 * a worker that falls behind still dates every exchange right.
 *
 * Never throws out of `apply`: a failing parser is counted and dropped for its connection (the
 * tap does that), a record that cannot be built, masked or encoded is counted by stage.
 */
import type { CaptureEvent, CloseReason, Exchange } from '../capture/session.ts';
import { countDrop, createSidecarStats, type SidecarStats } from '../stats.ts';
import type { CallRecord } from '../../record/record.ts';
import { CaptureTap, type CaptureFactory } from '../proxy/capture-tap.ts';
import type { ConnectionMeta } from '../proxy/connection.ts';
import type { LocalPod } from '../proxy/record-builder.ts';
import { createRecordSink } from '../proxy/record-sink.ts';
import { FlowLinks, headerTraceId, type FlowLink, type FlowLinksOptions, type RequestStartInfo } from '../capture/flow-links.ts';
import { decodeCallRecordMessage } from '../../record/record-reader.ts';
import { appendFlowLink } from '../../record/record-writer.ts';
import {
  OP_CLIENT_DATA,
  OP_CLIENT_END,
  OP_CLIENT_SKIP,
  OP_SERVER_SKIP,
  payloadSkip,
  OP_CLOSE,
  OP_DISABLE,
  OP_META,
  OP_OPEN,
  OP_SERVER_DATA,
  OP_SERVER_END,
  OP_UNREACHABLE,
  OP_FACT,
  payloadFact,
  payloadText,
  HANDOFF_POST_MS,
  type OpVisitor,
} from './ops.ts';

/**
 * What the worker counts, in the sidecar's own shape: records emitted and dropped before the
 * shipper (`build_error`, `mask_error`, `encode_error`, `no_collector`), parser errors, and
 * connections by captured protocol (`none`: closed without a byte). The forwarding thread
 * mirrors the latest copy into its metrics.
 */
export type CaptureCounters = SidecarStats;

export interface CaptureEngineOptions {
  factory: CaptureFactory;
  maxBodyBytes: number;
  detectTimeoutMs: number;
  local: LocalPod;
  /** The forwarding thread's epoch in ns at its `performance.now()` zero. */
  timeBaseNs: bigint;
  mask: (record: CallRecord) => CallRecord;
  encode: (record: CallRecord) => Uint8Array;
  /** False without a collector: records are counted as `no_collector`, not built. */
  shipping: boolean;
  /** An encoded record; false when the shipper refused it (counted there), so it is not counted as offered. */
  onRecord: (bytes: Uint8Array) => boolean;
  /** A record could not be built, masked or encoded (for the log). */
  onFailure?: (stage: 'build' | 'mask' | 'encode', err: unknown) => void;
  /** Bounds of the inbound → outbound link table (defaults in flow-links.ts). */
  flowLinks?: Partial<FlowLinksOptions>;
}

interface Capture {
  tap: CaptureTap;
  meta: ConnectionMeta;
  openedAt: bigint;
  /** The next ordinal after the exchanges seen so far (a cut marker takes it). */
  nextOrdinal: number;
  /**
   * Inbound: the requests entered in the flow-link table whose exchange has not ended there yet,
   * as `[connection id, ordinal]` (the id they were entered under). Those still here when the
   * capture stops (unreachable app, a cut, the connection's close) are ended then: an entry
   * left behind would stay "in flight" for minutes and take every later link in the pod.
   */
  started?: [string, number][];
  /**
   * Outbound: the link decided when each request's head was read, by ordinal, until its
   * exchange ends. A long-lived call (a gRPC stream, a long poll, a WebSocket) ends long after
   * the inbound request that opened it; decided at its end, that request would have left the
   * table and the call would start a trace of its own.
   */
  decided?: Map<number, StartLink>;
}

/** What `link` applies to an outbound exchange, decided at its start. */
type StartLink = { link?: FlowLink; causedBy?: { trace_id: string; span_id: string } };

/** Outbound requests whose link waits for their exchange, per connection (beyond it, decided at the end). */
const MAX_DECIDED_PER_CONNECTION = 1024;

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export class CaptureEngine implements OpVisitor {
  readonly counters: CaptureCounters = createSidecarStats();
  private readonly captures = new Map<number, Capture>();
  private readonly options: CaptureEngineOptions;
  /** Exchange → record → masked → encoded → `onRecord`, each failure counted by stage. */
  private readonly record: (exchange: Exchange, meta: ConnectionMeta) => void;
  /** The time of the op being applied: the taps' clock. */
  private now = 0n;
  /** Outbound calls without trace context → the inbound call of this pod that caused them. */
  readonly flowLinks: FlowLinks;

  constructor(options: CaptureEngineOptions) {
    this.options = options;
    this.flowLinks = new FlowLinks(options.flowLinks);
    // The same object: the counters posted to the forwarding thread are always current.
    this.counters.flowLinks = this.flowLinks.counts as unknown as Record<string, number>;
    const counters = this.counters;
    this.record = createRecordSink({
      local: options.local,
      stats: counters,
      mask: options.mask,
      offer: options.shipping
        ? (record) => {
            let bytes: Uint8Array;
            try {
              bytes = options.encode(record);
            } catch (err) {
              countDrop(counters, 'encode_error');
              options.onFailure?.('encode', err);
              return false;
            }
            return options.onRecord(bytes);
          }
        : undefined,
      onFailure: options.onFailure,
    });
  }

  /** Open captures (for tests and the counters). */
  get size(): number {
    return this.captures.size;
  }

  op(op: number, id: number, time: number, payload: Uint8Array): void {
    this.now = this.options.timeBaseNs + BigInt(Math.round(time * 1e6));
    if (op === OP_OPEN) {
      this.open(id, payload);
      return;
    }
    const capture = this.captures.get(id);
    if (capture === undefined) return;
    const tap = capture.tap;
    switch (op) {
      case OP_CLIENT_DATA:
        tap.clientData(payload);
        break;
      case OP_SERVER_DATA:
        tap.serverData(payload);
        break;
      case OP_CLIENT_SKIP:
      case OP_SERVER_SKIP: {
        const { bytes, reason } = payloadSkip(payload);
        const before = this.counters.records.emitted;
        if (!(op === OP_CLIENT_SKIP ? tap.clientSkip(bytes) : tap.serverSkip(bytes))) this.cutBySkip(capture, reason, before);
        break;
      }
      case OP_CLIENT_END:
        tap.clientEnd();
        break;
      case OP_SERVER_END:
        tap.serverEnd();
        break;
      case OP_META:
        this.meta(capture, payload);
        break;
      case OP_FACT: {
        const fact = payloadFact(payload);
        if (fact !== undefined) tap.fact(fact);
        else this.counters.parserErrors.exception++;
        break;
      }
      case OP_UNREACHABLE:
        this.unreachable(capture, payload);
        break;
      case OP_DISABLE:
        tap.disable();
        break;
      case OP_CLOSE:
        this.close(id, capture, payloadText(payload) as CloseReason);
        break;
      default:
        break;
    }
  }

  private open(id: number, payload: Uint8Array): void {
    let meta: ConnectionMeta;
    try {
      meta = JSON.parse(payloadText(payload)) as ConnectionMeta;
    } catch {
      this.counters.parserErrors.exception++;
      return;
    }
    const o = this.options;
    const capture: Capture = {
      meta,
      openedAt: this.now,
      nextOrdinal: 0,
      tap: new CaptureTap({
        factory: o.factory,
        clock: () => this.now,
        maxBodyBytes: o.maxBodyBytes,
        detectTimeoutMs: o.detectTimeoutMs,
        // Bytes come here in the forwarding thread's batches (every `HANDOFF_POST_MS`): a detection
        // still waiting is ended by its timer only once bytes seen within the timeout have come.
        detectGraceMs: 2 * HANDOFF_POST_MS,
        onExchange: (exchange) => {
          capture.nextOrdinal = Math.max(capture.nextOrdinal, exchange.ordinal + 1);
          this.link(capture, exchange);
          this.record(exchange, capture.meta);
        },
        onEvent: (event) => this.event(event),
        // Read when the head is seen: a mesh connection has taken the client sidecar's id by then.
        onRequestStarted: (info) => (capture.meta.observer === 'inbound' ? this.requestStarted(capture, info) : this.outboundStarted(capture, info)),
        onProtocol: (protocol) => bump(this.counters[meta.observer].connectionsByProtocol, protocol),
        onFault: () => this.counters.parserErrors.exception++,
      }),
    };
    this.captures.set(id, capture);
    this.counters[meta.observer].active++;
  }

  private meta(capture: Capture, payload: Uint8Array): void {
    try {
      Object.assign(capture.meta, JSON.parse(payloadText(payload)) as Partial<ConnectionMeta>);
    } catch {
      this.counters.parserErrors.exception++;
    }
  }

  /** One record saying where capture stopped, when the cut left nothing else to say it. */
  private marker(capture: Capture, reason: string): void {
    this.record(
      {
        protocol: capture.tap.protocol ?? 'tcp',
        ordinal: capture.nextOrdinal++,
        start: this.now,
        end: this.now,
        error: 'capture_overflow',
        error_detail: `capture cut (${reason}): the connection's later bytes were forwarded, not captured`,
        bytes_out: 0,
        bytes_in: 0,
      },
      capture.meta,
    );
  }

  /** A skip the session could not absorb cut the capture (the tap flushed it as `capture_overflow`). */
  private cutBySkip(capture: Capture, reason: string, emittedBefore: number): void {
    bump(this.counters.captureOverflow, reason);
    if (this.counters.records.emitted === emittedBefore) this.marker(capture, reason);
  }

  private unreachable(capture: Capture, payload: Uint8Array): void {
    let facts: { detail: string; bytesOut: number };
    try {
      facts = JSON.parse(payloadText(payload)) as { detail: string; bytesOut: number };
    } catch {
      facts = { detail: 'unknown', bytesOut: 0 };
    }
    // The request the session read becomes the failed call's record (through onExchange).
    capture.tap.unreachable(facts.detail, facts.bytesOut, capture.openedAt);
    this.endStarted(capture);
  }

  private close(id: number, capture: Capture, reason: CloseReason): void {
    this.captures.delete(id);
    const direction = this.counters[capture.meta.observer];
    direction.active--;
    capture.tap.close(reason);
    this.endStarted(capture);
    if (capture.tap.protocol === undefined) bump(direction.connectionsByProtocol, 'none');
  }

  private requestStarted(capture: Capture, info: RequestStartInfo): void {
    const connectionId = capture.meta.connectionId;
    this.flowLinks.inboundStarted(connectionId, info, this.now);
    (capture.started ??= []).push([connectionId, info.ordinal]);
  }

  /** An outbound request's head: its link is decided now, while the request that caused it is in flight. */
  private outboundStarted(capture: Capture, info: RequestStartInfo): void {
    const decided = (capture.decided ??= new Map());
    if (decided.size >= MAX_DECIDED_PER_CONNECTION) return;
    decided.set(info.ordinal, this.decide(info.start, headerTraceId(info.headers)));
  }

  /**
   * The link of an outbound call started at `start`: with a trace of its own (`own`), the
   * inbound call that caused it; without, the trace of the inbound call it joins.
   */
  private decide(start: bigint, own: string | undefined): StartLink {
    if (own !== undefined) {
      const causedBy = this.flowLinks.causedBy(start, own, this.now);
      return causedBy === undefined ? {} : { causedBy };
    }
    const link = this.flowLinks.linkOutbound(start, this.now);
    return link === undefined ? {} : { link };
  }

  /** The inbound requests of a capture that stops without their exchanges end in the flow-link table now. */
  private endStarted(capture: Capture): void {
    const started = capture.started;
    if (started === undefined) return;
    for (const [connectionId, ordinal] of started) this.flowLinks.inboundEnded(connectionId, ordinal, this.now);
    started.length = 0;
  }

  /**
   * A record made and encoded on the forwarding thread (a DNS lookup), on its way to the
   * shipper: an outbound one without trace context takes the trace of the inbound call it was
   * made during, as the worker's own outbound exchanges do (the link is appended to its bytes).
   * Anything unreadable goes on as it came.
   */
  linkEncoded(bytes: Uint8Array): Uint8Array {
    let start: bigint;
    let end: bigint;
    try {
      const m = decodeCallRecordMessage(bytes);
      if (m.observer !== 'outbound' || (m.trace_id !== undefined && m.trace_id !== '') || m.link_confidence !== undefined) return bytes;
      start = BigInt(String(m.start));
      end = BigInt(String(m.end));
    } catch {
      return bytes;
    }
    const link = this.flowLinks.linkOutbound(start, end > this.now ? end : this.now);
    return link === undefined ? bytes : appendFlowLink(bytes, link);
  }

  /**
   * Inbound exchanges end their flow-link entry; outbound ones without trace context of their
   * own take the trace of the inbound call that contains them, and outbound ones with a new
   * trace of their own name the trace of the inbound call that caused them (`flow-links.ts`).
   */
  private link(capture: Capture, exchange: Exchange): void {
    const meta = capture.meta;
    if (meta.observer === 'inbound') {
      const started = capture.started;
      const at = started?.findIndex(([, ordinal]) => ordinal === exchange.ordinal) ?? -1;
      const connectionId = at >= 0 ? started![at][0] : meta.connectionId;
      if (at >= 0) started!.splice(at, 1);
      this.flowLinks.inboundEnded(connectionId, exchange.ordinal, exchange.end);
      return;
    }
    const decided = capture.decided?.get(exchange.ordinal);
    if (decided !== undefined) capture.decided!.delete(exchange.ordinal);
    const own = exchange.trace_id ?? headerTraceId(exchange.request?.headers);
    const { link, causedBy } = decided ?? this.decide(exchange.start, own);
    if (own !== undefined) {
      if (causedBy !== undefined) {
        exchange.caused_by_trace_id = causedBy.trace_id;
        exchange.caused_by_span_id = causedBy.span_id;
      }
      return;
    }
    if (link === undefined) return;
    exchange.trace_id = link.trace_id;
    exchange.parent_span_id = link.parent_span_id;
    exchange.link_confidence = link.link_confidence;
  }

  private event(event: CaptureEvent): void {
    if (event.kind === 'parse_error') this.counters.parserErrors.parse_error++;
    else if (event.kind === 'capture_overflow') bump(this.counters.captureOverflow, event.reason);
  }

}
