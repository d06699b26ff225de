/**
 * Which inbound call caused an outbound call, when the app propagated no trace context.
 *
 * The capture worker sees every connection of its pod. An app that takes a request and calls
 * another service on its behalf does so while the inbound request is in flight; this table
 * remembers the inbound requests (from their head until shortly after their record) and, for an
 * outbound exchange that carries no trace context of its own, names the inbound call that
 * contains it in time: started at or before the outbound request, not ended before it. When
 * several did (a busy pod serving concurrent requests), the most recent start wins (ties: the
 * one seen last) and the link's confidence is 1/n: timing alone cannot tell them apart.
 *
 * The link is expressed in ids the collector derives the same way (`record/trace-ids.ts`): the
 * inbound call's trace id (from its headers, else derived from its connection id and ordinal)
 * and its SERVER span id, so the outbound CLIENT span lands under it without shared state.
 *
 * An outbound exchange that does carry a trace context of its own may still have been caused by
 * an inbound call that carried none: the app's tracing SDK started a new trace for it. When
 * exactly one inbound call contains it and that call had no trace header (its trace derived, or
 * from its `x-request-id`), `causedBy` names that call's trace and SERVER span, and the collector joins the two
 * traces (`collector/trace-links.ts`). An app starts one trace per request, so an inbound call
 * already joined to another new trace did not cause this one, and is not counted among the
 * candidates. With several candidates left it names none: joining two whole traces on a guess
 * would mix two users' requests.
 *
 * Pure: times are the ops' times (ns), handed in; nothing here reads a clock. Bounded by count
 * and age, and every entry that leaves before it could serve its purpose is counted.
 */
import { derivedTraceId, requestIdTraceId, serverSpanId } from '../../record/trace-ids.ts';
import { resolveTraceContext } from '../http1/trace-context.ts';

/** What a session says when an inbound request's head has been read. */
export interface RequestStartInfo {
  ordinal: number;
  /** When the request's first byte was seen (ns). */
  start: bigint;
  /** The request's headers (lower-case names), for its trace context. */
  headers: Readonly<Record<string, string>>;
}

export interface FlowLink {
  trace_id: string;
  parent_span_id: string;
  /** 1 / the number of inbound calls in flight that could have caused it. */
  link_confidence: number;
}

export interface FlowLinksOptions {
  /** Most inbound calls remembered; beyond it the oldest entry is dropped (`evicted_full`). */
  maxEntries: number;
  /** An inbound call with no record after this long is forgotten (`evicted_age`), in ns. */
  maxInFlightNs: bigint;
  /**
   * How long an ended inbound call stays linkable, in ns: an outbound exchange that started
   * before it ended may complete (and reach this table) after it. The capture worker asks at an
   * outbound request's head where a session reports one, so this grace serves the rest (DNS
   * lookups, exchanges whose head was never read).
   */
  keepEndedNs: bigint;
}

export const DEFAULT_FLOW_LINKS: Readonly<FlowLinksOptions> = Object.freeze({
  maxEntries: 2048,
  maxInFlightNs: 300_000_000_000n,
  keepEndedNs: 2_000_000_000n,
});

export interface FlowLinkCounts {
  /** Inbound requests entered. */
  started: number;
  /** Outbound exchanges linked with confidence 1. */
  linked: number;
  /** Outbound exchanges linked among several candidates (confidence below 1). */
  linked_ambiguous: number;
  /** Outbound exchanges without context and without an inbound call in flight. */
  unlinked: number;
  /**
   * Outbound exchanges with a trace context of their own made during exactly one inbound call
   * that had none: that call's trace goes with them (`caused_by_trace_id`).
   */
  new_trace_joined: number;
  /** Entries dropped because the table was full. */
  evicted_full: number;
  /** Inbound calls forgotten without ever ending (their record never came). */
  evicted_age: number;
}

interface Entry {
  start: bigint;
  end?: bigint;
  connectionId: string;
  ordinal: number;
  /** The request's own trace id (traceparent/b3), else its bounded `x-request-id`: no headers are kept. */
  headerTrace?: string;
  requestId?: string;
  /** Arrival order: breaks ties between equal starts. */
  seq: number;
  /** The new trace its app started for it, once an outbound call named this call (`causedBy`). */
  newTrace?: string;
}

const entryKey = (connectionId: string, ordinal: number): string => `${connectionId}\u0000${ordinal}`;

/** Longest `x-request-id` used, as in the collector: a longer one is ignored there too. */
const MAX_REQUEST_ID_CHARS = 512;

/** What of a request decides its trace id, kept small (a few dozen bytes per request in flight). */
function traceFacts(info: RequestStartInfo): { headerTrace?: string; requestId?: string } {
  const context = resolveTraceContext(info.headers as Record<string, string>);
  if (context !== undefined) return { headerTrace: context.trace_id };
  const requestId = info.headers['x-request-id']?.trim();
  return requestId !== undefined && requestId !== '' && requestId.length <= MAX_REQUEST_ID_CHARS ? { requestId } : {};
}

function traceIdOf(connectionId: string, ordinal: number, facts: { headerTrace?: string; requestId?: string }): string {
  if (facts.headerTrace !== undefined) return facts.headerTrace;
  if (facts.requestId !== undefined) return requestIdTraceId(facts.requestId);
  return derivedTraceId(connectionId, ordinal);
}

/** An inbound request's trace id, by the collector's precedence: traceparent, b3, x-request-id, derived. */
export function inboundTraceId(connectionId: string, info: RequestStartInfo): string {
  return traceIdOf(connectionId, info.ordinal, traceFacts(info));
}

/** The trace id of the context the request headers carry (traceparent, b3), as the collector reads it; undefined without one. */
export function headerTraceId(headers: Readonly<Record<string, string>> | undefined): string | undefined {
  return headers === undefined ? undefined : resolveTraceContext(headers as Record<string, string>)?.trace_id;
}

export class FlowLinks {
  readonly counts: FlowLinkCounts = { started: 0, linked: 0, linked_ambiguous: 0, unlinked: 0, new_trace_joined: 0, evicted_full: 0, evicted_age: 0 };
  private readonly options: FlowLinksOptions;
  /** Inbound calls whose record has not come yet; insertion order is arrival order. */
  private readonly inFlight = new Map<string, Entry>();
  /**
   * Ended inbound calls, in the order their records came — which is the order of their ends
   * (op times only grow) — so expiry pops the front and a lookup reads back from the newest
   * until an end before the outbound call's start. `endedHead` is the first live slot.
   */
  private ended: Entry[] = [];
  private endedHead = 0;
  private seq = 0;
  private lastSweep = 0n;
  /**
   * Entries whose request had no trace header: without any, `causedBy` has no candidate and
   * returns at once (an instrumented app's calls all carry context, and it is asked for each).
   */
  private unheaded = 0;

  constructor(options: Partial<FlowLinksOptions> = {}) {
    this.options = { ...DEFAULT_FLOW_LINKS, ...options };
  }

  get size(): number {
    return this.inFlight.size + this.ended.length - this.endedHead;
  }

  /** An inbound request's head was read (`connectionId` as the record will carry it). */
  inboundStarted(connectionId: string, info: RequestStartInfo, now: bigint): void {
    this.sweep(now);
    const key = entryKey(connectionId, info.ordinal);
    if (this.inFlight.has(key)) return;
    if (this.size >= this.options.maxEntries) this.evictOldest();
    this.counts.started++;
    // Ids are hashed only for the entries that get linked: most inbound requests never are.
    const entry: Entry = { start: info.start, connectionId, ordinal: info.ordinal, seq: this.seq++, ...traceFacts(info) };
    if (entry.headerTrace === undefined) this.unheaded++;
    this.inFlight.set(key, entry);
  }

  /** The inbound exchange's record was made: it stays linkable for `keepEndedNs` after `end`. */
  inboundEnded(connectionId: string, ordinal: number, end: bigint): void {
    const key = entryKey(connectionId, ordinal);
    const entry = this.inFlight.get(key);
    if (entry === undefined) return;
    this.inFlight.delete(key);
    entry.end = end;
    this.ended.push(entry);
  }

  /**
   * The link for an outbound exchange without trace context that started at `start`, or
   * undefined when no inbound call contains it.
   */
  linkOutbound(start: bigint, now: bigint): FlowLink | undefined {
    this.sweep(now);
    const { best, n } = this.latestContaining(start);
    if (best === undefined) {
      this.counts.unlinked++;
      return undefined;
    }
    if (n === 1) this.counts.linked++;
    else this.counts.linked_ambiguous++;
    return {
      trace_id: traceIdOf(best.connectionId, best.ordinal, best),
      parent_span_id: serverSpanId(best.connectionId, best.ordinal),
      link_confidence: 1 / n,
    };
  }

  /**
   * For an outbound exchange that started at `start` carrying trace `ownTraceId` from its own
   * headers: the trace and SERVER span of the one inbound call that caused it when that call had
   * no trace header — the only candidate, or the one an earlier call of the same trace named —
   * else undefined (none, several, or one whose context the app could have propagated).
   */
  causedBy(start: bigint, ownTraceId: string, now: bigint): { trace_id: string; span_id: string } | undefined {
    this.sweep(now);
    if (this.unheaded === 0) return undefined;
    let cause: Entry | undefined;
    let joined: Entry | undefined;
    let n = 0;
    this.containing(start, (entry) => {
      if (entry.newTrace === undefined) {
        n++;
        cause = entry;
      } else if (entry.newTrace === ownTraceId) {
        joined = entry;
      }
    });
    // Another call of the same new trace named its cause already.
    const found = (joined ?? (n === 1 ? cause : undefined)) as Entry | undefined;
    if (found === undefined || found.headerTrace !== undefined) return undefined;
    const traceId = traceIdOf(found.connectionId, found.ordinal, found);
    if (traceId === ownTraceId) return undefined;
    found.newTrace = ownTraceId;
    this.counts.new_trace_joined++;
    return { trace_id: traceId, span_id: serverSpanId(found.connectionId, found.ordinal) };
  }

  /** The most recent start among the calls that contain `start` (ties: the one seen last), and how many there are. */
  private latestContaining(start: bigint): { best: Entry | undefined; n: number } {
    let best: Entry | undefined;
    let n = 0;
    this.containing(start, (entry) => {
      n++;
      if (best === undefined || entry.start > best.start || (entry.start === best.start && entry.seq > best.seq)) best = entry;
    });
    return { best, n };
  }

  /**
   * Visits the inbound calls that contain an outbound exchange starting at `start`: started at or
   * before it, not ended before it. Reads the calls in flight and the ended calls that ended at or
   * after `start`, not the whole table.
   */
  private containing(start: bigint, visit: (entry: Entry) => void): void {
    for (const entry of this.inFlight.values()) if (entry.start <= start) visit(entry);
    for (let i = this.ended.length - 1; i >= this.endedHead; i--) {
      const entry = this.ended[i]!;
      if (entry.end! < start) break;
      if (entry.start <= start) visit(entry);
    }
  }

  /** The table is full: the oldest ended call goes first, else the oldest in flight (counted). */
  private evictOldest(): void {
    if (this.endedHead < this.ended.length) this.dropEndedFront();
    else {
      const [key, entry] = this.inFlight.entries().next().value!;
      this.inFlight.delete(key);
      this.drop(entry);
    }
    this.counts.evicted_full++;
    this.compact();
  }

  /**
   * Drops ended entries past `keepEndedNs` (their purpose served: not counted) at every call —
   * they leave from the front, so this costs only what it drops — and, at most once per second
   * of op time, in-flight ones past `maxInFlightNs` (counted).
   */
  private sweep(now: bigint): void {
    const { keepEndedNs, maxInFlightNs } = this.options;
    while (this.endedHead < this.ended.length && now - this.ended[this.endedHead]!.end! > keepEndedNs) {
      this.dropEndedFront();
    }
    this.compact();
    if (now - this.lastSweep < 1_000_000_000n) return;
    this.lastSweep = now;
    for (const [key, entry] of this.inFlight) {
      if (now - entry.start > maxInFlightNs) {
        this.inFlight.delete(key);
        this.drop(entry);
        this.counts.evicted_age++;
      }
    }
  }

  /** An entry left the table. */
  private drop(entry: Entry): void {
    if (entry.headerTrace === undefined) this.unheaded--;
  }

  /** The oldest ended entry leaves (its slot cleared, so it can be collected before `compact` runs). */
  private dropEndedFront(): void {
    this.drop(this.ended[this.endedHead]!);
    this.ended[this.endedHead++] = undefined as unknown as Entry;
  }

  /** Gives the dropped front of `ended` back once it is most of the array. */
  private compact(): void {
    if (this.endedHead > 1024 && this.endedHead * 2 > this.ended.length) {
      this.ended = this.ended.slice(this.endedHead);
      this.endedHead = 0;
    } else if (this.endedHead === this.ended.length && this.endedHead > 0) {
      this.ended = [];
      this.endedHead = 0;
    }
  }
}
