/** A manual clock and an in-memory transport for driving the shipper core step by step. */
import { collectorMessageType, type CallRecordMessage, type ShipAckMessage, type SidecarInfoMessage } from '../../../record/codec.ts';
import type { ShipperClock, TimerHandle } from '../../../sidecar/shipper/shipper.ts';
import type { ShipStream, ShipStreamHandlers, ShipTransport } from '../../../sidecar/shipper/transport.ts';

export interface ManualClock extends ShipperClock {
  advance(ms: number): Promise<void>;
  pendingTimers(): number[];
}

/** Lets promise callbacks and deferred work run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

export function createManualClock(): ManualClock {
  let now = 1000;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return { id } as TimerHandle;
    },
    clearTimeout(handle) {
      timers.delete((handle as { id: number }).id);
    },
    defer(fn) {
      setImmediate(fn);
    },
    async advance(ms) {
      const until = now + ms;
      for (;;) {
        await settle();
        const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
      }
      now = until;
      await settle();
    },
    pendingTimers() {
      return [...timers.values()].map((t) => t.at - now).sort((a, b) => a - b);
    },
  };
}

const recordType = collectorMessageType('meshtap.v1.CallRecord');
const sidecarType = collectorMessageType('meshtap.v1.SidecarInfo');
const toObject = { longs: String, defaults: false } as const;

/** A batch as the fake stream saw it: the encoded parts decoded back with the official .proto. */
export interface SentBatch {
  seq: number;
  sidecar: SidecarInfoMessage;
  records: CallRecordMessage[];
}

export interface FakeStream extends ShipStream {
  handlers: ShipStreamHandlers;
  sent: SentBatch[];
  ended: boolean;
  cancelled: boolean;
  ack(seq: number | string, accepted?: number, extra?: Partial<ShipAckMessage>): void;
  breakStream(reason?: string): void;
}

export interface FakeTransport extends ShipTransport {
  streams: FakeStream[];
  connectAttempts: number;
  /** When true, connect() rejects as if the collector were down. */
  down: boolean;
  closed: boolean;
  current(): FakeStream;
}

export function createFakeTransport(): FakeTransport {
  const transport: FakeTransport = {
    streams: [],
    connectAttempts: 0,
    down: false,
    closed: false,
    current() {
      return transport.streams[transport.streams.length - 1];
    },
    async connect(handlers) {
      transport.connectAttempts++;
      if (transport.down) throw new Error('connection refused');
      let closed = false;
      const stream: FakeStream = {
        handlers,
        sent: [],
        ended: false,
        cancelled: false,
        send(batch) {
          if (closed) throw new Error('stream closed');
          stream.sent.push({
            seq: batch.seq,
            sidecar: sidecarType.toObject(sidecarType.decode(batch.sidecar), toObject) as SidecarInfoMessage,
            records: batch.records.map((r) => recordType.toObject(recordType.decode(r), toObject) as CallRecordMessage),
          });
        },
        end() {
          stream.ended = true;
        },
        cancel() {
          stream.cancelled = true;
        },
        ack(seq, accepted, extra = {}) {
          const batch = stream.sent.find((b) => String(b.seq) === String(seq));
          handlers.onAck({ seq: String(seq), accepted: accepted ?? batch?.records.length ?? 0, rejected: 0, rejections: [], ...extra });
        },
        breakStream(reason = 'broken') {
          closed = true;
          handlers.onClose(reason);
        },
      };
      transport.streams.push(stream);
      return stream;
    },
    close() {
      transport.closed = true;
    },
    encodeSidecar: (info) => sidecarType.encode(info).finish(),
  };
  return transport;
}
