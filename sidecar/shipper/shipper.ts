/**
 * The shipper's core: a byte-bounded queue in front of a stream to the collector.
 *
 * `offer` only estimates a size and appends to the queue (or counts a drop); everything else
 * (batching, encoding, sending, reconnecting) happens later, off the caller's stack. Time,
 * timers, randomness and the transport are injected; `create-shipper.ts` wires the real ones.
 *
 * Delivery: a batch stays in flight until its ack. When a stream breaks, the unacknowledged
 * batches go back to the front of the queue, in order, and are sent again on the next stream
 * (at-least-once; the collector ignores record ids it already stored). A record is given up
 * as `stream_broken` after `maxSendAttempts` broken streams, so a batch that kills the
 * collector cannot loop forever.
 */
import type { CallRecord } from '../../record/record.ts';
import type { ShipAckMessage, SidecarInfoMessage } from '../../record/codec.ts';
import { createBackoff } from '../../lib/backoff.ts';
import { decideBatch } from './batcher.ts';
import { encodeCallRecord } from '../../record/record-writer.ts';
import { createByteQueue, type QueueEntry } from './byte-queue.ts';
import type { ShipperConfig } from './config.ts';
import { DROP_REASONS, type DropReason, type ShipperMetrics, type ShipperStats } from './metrics.ts';
import type { ShipStream, ShipTransport } from './transport.ts';

export interface TimerHandle {
  unref?(): unknown;
}

export interface ShipperClock {
  /** Milliseconds, monotonic enough for lingering and ack latency. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Runs `fn` soon, after the current call stack (the caller of `offer` never waits for it). */
  defer(fn: () => void): void;
}

export interface ShipperEvent {
  event: 'connected' | 'connect_failed' | 'stream_closed' | 'unexpected_ack' | 'metrics_hook_failed' | 'closed';
  detail?: string;
  /** Next reconnect delay, when one is scheduled. */
  delayMs?: number;
}

export interface ShipperCoreDeps {
  transport: ShipTransport;
  clock: ShipperClock;
  /** Uniform in [0, 1): the backoff's jitter. */
  random: () => number;
  metrics?: ShipperMetrics;
  log?: (event: ShipperEvent) => void;
  /** Encodes a record for `offer` (records from the capture worker arrive encoded). */
  encode?: (record: CallRecord) => Uint8Array;
}

export interface CloseOptions {
  /** How long close() may keep sending what is held before counting it dropped. Default 5000. */
  drainMs?: number;
}

export interface Shipper {
  /** Queues a record for the collector. Never blocks, never throws; false when it was dropped (and counted). */
  offer(record: CallRecord): boolean;
  /** The same for a record already encoded as a `meshtap.v1.CallRecord` message (the bytes are kept, not copied). */
  offerEncoded(record: Uint8Array): boolean;
  stats(): ShipperStats;
  /** Stops accepting records, sends what it can within `drainMs`, drops (counts) the rest. */
  close(options?: CloseOptions): Promise<ShipperStats>;
}

/** Per queued record besides its bytes: the entry, the view and the batch framing. */
const ENTRY_OVERHEAD_BYTES = 64;

interface InFlight {
  entries: QueueEntry<Uint8Array>[];
  bytes: number;
  sentAt: number;
}

type State = 'connecting' | 'connected' | 'waiting' | 'closed';

export function createShipperCore(config: ShipperConfig, deps: ShipperCoreDeps): Shipper {
  const { clock, transport } = deps;
  const encode = deps.encode ?? encodeCallRecord;
  const queue = createByteQueue<Uint8Array>(config.maxQueueBytes);
  const backoff = createBackoff({ baseMs: config.backoffBaseMs, capMs: config.backoffCapMs, random: deps.random });
  const limits = { maxRecords: config.batchMaxRecords, maxBytes: config.batchMaxBytes, lingerMs: config.batchLingerMs };
  const sidecar: SidecarInfoMessage = { ...config.sidecar };
  const sidecarBytes = deps.transport.encodeSidecar(sidecar);
  const inFlight = new Map<number, InFlight>();
  const dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  const counts = { offered: 0, shipped: 0, connects: 0, connectFailures: 0, streamBreaks: 0, batchesResent: 0, batchesSent: 0, batchesAcked: 0 };

  let state: State = 'connecting';
  let stream: ShipStream | null = null;
  let generation = 0;
  let nextSeq = 1;
  let connectedAt = 0;
  let closing = false;
  let pumpPending = false;
  let lingerTimer: TimerHandle | null = null;
  let reconnectTimer: TimerHandle | null = null;
  let drained: (() => void) | null = null;
  let closePromise: Promise<ShipperStats> | null = null;

  function log(event: ShipperEvent): void {
    try {
      deps.log?.(event);
    } catch {
      // a logger must not break shipping
    }
  }

  function hook(call: (m: ShipperMetrics) => void): void {
    if (!deps.metrics) return;
    try {
      call(deps.metrics);
    } catch (err) {
      log({ event: 'metrics_hook_failed', detail: err instanceof Error ? err.message : String(err) });
    }
  }

  function drop(reason: DropReason, count: number): void {
    if (count <= 0) return;
    dropped[reason] += count;
    hook((m) => m.recordsDropped?.(reason, count));
  }

  function timer(fn: () => void, ms: number): TimerHandle {
    const handle = clock.setTimeout(fn, ms);
    handle.unref?.();
    return handle;
  }

  function schedulePump(): void {
    if (pumpPending || state !== 'connected') return;
    pumpPending = true;
    clock.defer(pump);
  }

  function pump(): void {
    pumpPending = false;
    if (state !== 'connected' || stream === null) return;
    if (lingerTimer) {
      clock.clearTimeout(lingerTimer);
      lingerTimer = null;
    }
    while (inFlight.size < config.maxInFlightBatches) {
      const decision = decideBatch(
        { queuedRecords: queue.queuedRecords, queuedBytes: queue.queuedBytes, oldestAt: queue.oldestAt() },
        clock.now(),
        limits,
        closing,
      );
      if (!decision.send) {
        if (decision.waitMs !== undefined) lingerTimer = timer(() => {
          lingerTimer = null;
          schedulePump();
        }, decision.waitMs);
        break;
      }
      const entries = queue.take(config.batchMaxRecords, config.batchMaxBytes);
      let bytes = 0;
      for (const e of entries) {
        bytes += e.bytes;
        if (e.attempts > 0 && e === entries[0]) counts.batchesResent++;
        e.attempts++;
      }
      const seq = nextSeq++;
      inFlight.set(seq, { entries, bytes, sentAt: clock.now() });
      try {
        stream.send({ seq, sidecar: sidecarBytes, records: entries.map((e) => e.item) });
      } catch (err) {
        streamClosed(generation, `send failed: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      counts.batchesSent++;
      hook((m) => m.batchSent?.(entries.length, bytes));
    }
    checkDrained();
  }

  function onAck(ack: ShipAckMessage): void {
    const seq = Number(ack.seq);
    const batch = inFlight.get(seq);
    if (!batch) {
      log({ event: 'unexpected_ack', detail: `seq ${String(ack.seq)}` });
      return;
    }
    inFlight.delete(seq);
    queue.release(batch.entries);
    counts.batchesAcked++;
    backoff.reset();
    hook((m) => m.batchAcked?.((clock.now() - batch.sentAt) / 1000));
    const n = batch.entries.length;
    if (ack.error !== undefined && ack.error !== null) {
      drop('collector_error', n);
    } else {
      const accepted = Math.min(Math.max(Number(ack.accepted) || 0, 0), n);
      counts.shipped += accepted;
      if (accepted > 0) hook((m) => m.recordsShipped?.(accepted));
      drop('rejected', n - accepted);
    }
    schedulePump();
    checkDrained();
  }

  function streamClosed(gen: number, reason: string): void {
    if (gen !== generation || state === 'closed') return;
    generation++;
    const wasConnected = state === 'connected';
    const old = stream;
    stream = null;
    if (wasConnected) {
      counts.streamBreaks++;
      hook((m) => m.streamClosed?.(reason));
      old?.cancel();
      if (clock.now() - connectedAt >= config.backoffResetAfterMs) backoff.reset();
    }
    // Oldest batch first, so the queue keeps the order records were offered in.
    const unacked = [...inFlight.keys()].sort((a, b) => a - b).map((seq) => inFlight.get(seq)!);
    inFlight.clear();
    const again: QueueEntry<Uint8Array>[] = [];
    const givenUp: QueueEntry<Uint8Array>[] = [];
    for (const batch of unacked) {
      for (const e of batch.entries) (e.attempts >= config.maxSendAttempts ? givenUp : again).push(e);
    }
    queue.release(givenUp);
    drop('stream_broken', givenUp.length);
    queue.restore(again);
    scheduleReconnect(reason);
  }

  function scheduleReconnect(reason: string): void {
    state = 'waiting';
    const delayMs = backoff.next();
    log({ event: 'stream_closed', detail: reason, delayMs });
    reconnectTimer = timer(() => {
      reconnectTimer = null;
      connect();
    }, delayMs);
  }

  function connect(): void {
    if (state === 'closed') return;
    state = 'connecting';
    const gen = ++generation;
    transport
      .connect({
        onAck: (ack) => {
          if (gen === generation) onAck(ack);
        },
        onClose: (reason) => streamClosed(gen, reason),
      })
      .then(
        (s) => {
          if (gen !== generation || state !== 'connecting') {
            s.cancel();
            return;
          }
          state = 'connected';
          stream = s;
          connectedAt = clock.now();
          nextSeq = 1;
          counts.connects++;
          hook((m) => m.streamConnected?.());
          log({ event: 'connected' });
          schedulePump();
        },
        (err: unknown) => {
          if (gen !== generation || state !== 'connecting') return;
          counts.connectFailures++;
          generation++;
          const delayMs = backoff.next();
          state = 'waiting';
          log({ event: 'connect_failed', detail: err instanceof Error ? err.message : String(err), delayMs });
          reconnectTimer = timer(() => {
            reconnectTimer = null;
            connect();
          }, delayMs);
        },
      );
  }

  function checkDrained(): void {
    if (drained && queue.queuedRecords === 0 && inFlight.size === 0) drained();
  }

  function stats(): ShipperStats {
    let inFlightRecords = 0;
    for (const b of inFlight.values()) inFlightRecords += b.entries.length;
    let droppedTotal = 0;
    for (const r of DROP_REASONS) droppedTotal += dropped[r];
    return {
      offered: counts.offered,
      shipped: counts.shipped,
      dropped: { ...dropped },
      droppedTotal,
      queueBytes: queue.queuedBytes,
      queueRecords: queue.queuedRecords,
      inFlightBatches: inFlight.size,
      inFlightRecords,
      heldBytes: queue.queuedBytes + queue.reservedBytes,
      connected: state === 'connected',
      connects: counts.connects,
      connectFailures: counts.connectFailures,
      streamBreaks: counts.streamBreaks,
      batchesResent: counts.batchesResent,
      batchesSent: counts.batchesSent,
      batchesAcked: counts.batchesAcked,
      closed: state === 'closed',
    };
  }

  function offerEncoded(record: Uint8Array): boolean {
    counts.offered++;
    hook((m) => m.recordsOffered?.(1));
    if (closing) {
      drop('shutdown', 1);
      return false;
    }
    const bytes = record.byteLength + ENTRY_OVERHEAD_BYTES;
    if (bytes > config.batchMaxBytes) {
      drop('too_large', 1);
      return false;
    }
    if (!queue.tryPush(record, bytes, clock.now())) {
      drop(state === 'connected' ? 'queue_full' : 'collector_unavailable', 1);
      return false;
    }
    schedulePump();
    return true;
  }

  function offer(record: CallRecord): boolean {
    let bytes: Uint8Array;
    try {
      bytes = encode(record);
    } catch {
      // A record the encoder cannot read (not a CallRecord): refuse it rather than throw into the proxy.
      counts.offered++;
      hook((m) => m.recordsOffered?.(1));
      drop('rejected', 1);
      return false;
    }
    return offerEncoded(bytes);
  }

  function close(options: CloseOptions = {}): Promise<ShipperStats> {
    if (closePromise) return closePromise;
    closing = true;
    const drainMs = options.drainMs ?? 5000;
    closePromise = new Promise<ShipperStats>((resolve) => {
      let drainTimer: TimerHandle | null = null;
      const finish = (): void => {
        drained = null;
        if (drainTimer) clock.clearTimeout(drainTimer);
        if (lingerTimer) clock.clearTimeout(lingerTimer);
        if (reconnectTimer) clock.clearTimeout(reconnectTimer);
        lingerTimer = reconnectTimer = null;
        const everythingAcked = queue.queuedRecords === 0 && inFlight.size === 0;
        let left = queue.drain().length;
        for (const b of inFlight.values()) {
          left += b.entries.length;
          queue.release(b.entries);
        }
        inFlight.clear();
        drop('shutdown', left);
        const s = stream;
        stream = null;
        state = 'closed';
        generation++;
        // After a full drain the stream ends cleanly; otherwise there is nothing worth waiting for.
        if (s) {
          if (everythingAcked) s.end();
          else s.cancel();
        }
        if (!everythingAcked || !s) transport.close();
        else timer(() => transport.close(), 1000);
        log({ event: 'closed' });
        resolve(stats());
      };
      drained = finish;
      drainTimer = timer(finish, drainMs);
      schedulePump();
      checkDrained();
    });
    return closePromise;
  }

  connect();
  return { offer, offerEncoded, stats, close };
}
