/**
 * The live stream: every newly stored record goes to each connected client whose filter
 * matches, as a Server-Sent Event (`event: call`, the record's JSON as `data`).
 *
 * A client that reads slower than records arrive must not make the collector hold an unbounded
 * backlog: each client has a bounded queue (events and bytes) of what its socket did not take
 * yet. When it is full, newer events are dropped and counted; once the client catches up it
 * gets one `event: dropped` with `{"count":N}` before the events that follow. Heartbeats are
 * SSE comment lines, sent only to clients that are keeping up.
 *
 * Filters are evaluated off the ingest path: `publish` only appends the batch to a queue
 * (O(1)), and a later tick hands each client its records and evaluates its filter on at most
 * `evalRecordsPerTick` of them, with the filter's budget reset each tick. A client whose
 * filter uses up its budget is ended with `event: error` (`{"code","message"}`) and counted;
 * a client whose unevaluated records pile up beyond `bufferEvents` loses the oldest (counted
 * as dropped, like a slow socket).
 */
import type { ServerResponse } from 'node:http';
import type { CallRecord } from '../record/record.ts';
import type { CompiledFilter } from './filter/compile.ts';
import { recordToJson } from '../record/record-json.ts';
import { isMeshtapError } from '../lib/errors.ts';
import { COL_ERR_FILTER_BUDGET } from './filter/errors.ts';
import { COL_ERR_INTERNAL } from './errors.ts';

export interface StreamHubOptions {
  /** Events queued for one client before newer ones are dropped. */
  bufferEvents: number;
  /** Bytes queued for one client before newer events are dropped. */
  bufferBytes: number;
  /** Comment line interval. */
  heartbeatMs: number;
  /** Open clients at most; `full()` says when a new one must be refused. Unbounded when absent. */
  maxClients?: number;
  /** Records one client's filter judges per tick before others get their turn (default 500). */
  evalRecordsPerTick?: number;
  /** Called when a client is ended because its filter used up its budget. */
  onBudgetExceeded?: () => void;
}

/** Work counters: what the hub did, for tests and metrics. */
export interface StreamHubStats {
  /** Records handed to `publish`. */
  published: number;
  /** Filter evaluations done (one per record per filtered client). */
  evaluations: number;
  /** Clients ended because their filter used up its budget. */
  budgetExceeded: number;
}

export interface StreamClientStats {
  /** Events sent or queued. */
  sent: number;
  /** Events dropped because the client's queue was full (all along). */
  dropped: number;
  /** Events waiting for the socket. */
  queued: number;
  queuedBytes: number;
}

export interface StreamClient {
  stats(): StreamClientStats;
  /** Ends the response (the client sees the stream close). */
  close(): void;
}

export interface StreamHub {
  /** Queues records for the clients; never evaluates a filter or serialises a record itself. */
  publish(records: readonly CallRecord[]): void;
  /** Starts an SSE response on `res` (headers included) and subscribes it. */
  attach(res: ServerResponse, filter?: CompiledFilter): StreamClient;
  /** Whether the hub holds its maximum of clients (a new one must be refused). */
  full(): boolean;
  clients(): StreamClient[];
  stats(): StreamHubStats;
  /** Ends every client's stream. */
  close(): void;
}

export function callEventFrame(record: CallRecord): string {
  return `event: call\nid: ${record.id.replace(/[\r\n]/g, '')}\ndata: ${JSON.stringify(recordToJson(record))}\n\n`;
}

function droppedFrame(count: number): string {
  return `event: dropped\ndata: ${JSON.stringify({ count })}\n\n`;
}

function errorFrame(code: string, message: string): string {
  return `event: error\ndata: ${JSON.stringify({ code, message })}\n\n`;
}

export const DEFAULT_EVAL_RECORDS_PER_TICK = 500;

export function createStreamHub(options: StreamHubOptions): StreamHub {
  interface Subscriber extends StreamClient {
    filter?: CompiledFilter;
    /** Records published since the last evaluation, oldest first; `inboxStart` is the next to judge. */
    inbox: CallRecord[];
    inboxStart: number;
    send(frame: string): void;
    /** Records dropped before evaluation (the inbox was full). */
    dropUnjudged(n: number): void;
    fail(code: string, message: string): void;
  }
  const subscribers = new Set<Subscriber>();
  const perTick = options.evalRecordsPerTick ?? DEFAULT_EVAL_RECORDS_PER_TICK;
  const stats: StreamHubStats = { published: 0, evaluations: 0, budgetExceeded: 0 };
  let pending: Array<readonly CallRecord[]> = [];
  let scheduled = false;

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  };

  /** One tick: deliver the queued batches to every inbox, then judge a bounded slice of each. */
  function drain(): void {
    scheduled = false;
    const batches = pending;
    pending = [];
    for (const subscriber of subscribers) {
      for (const batch of batches) for (const record of batch) subscriber.inbox.push(record);
      const unjudged = subscriber.inbox.length - subscriber.inboxStart;
      if (unjudged > options.bufferEvents) {
        subscriber.dropUnjudged(unjudged - options.bufferEvents);
        subscriber.inboxStart += unjudged - options.bufferEvents;
      }
    }
    // Frames are built once per record for all the clients that want it.
    const frames = new Map<CallRecord, string>();
    let more = false;
    for (const subscriber of [...subscribers]) {
      const filter = subscriber.filter;
      filter?.budget?.reset();
      const end = Math.min(subscriber.inbox.length, subscriber.inboxStart + perTick);
      try {
        for (; subscriber.inboxStart < end; subscriber.inboxStart++) {
          const record = subscriber.inbox[subscriber.inboxStart];
          if (filter !== undefined) {
            stats.evaluations++;
            if (!filter.matches(record)) continue;
          }
          let frame = frames.get(record);
          if (frame === undefined) {
            frame = callEventFrame(record);
            frames.set(record, frame);
          }
          subscriber.send(frame);
        }
      } catch (err) {
        if (isMeshtapError(err, COL_ERR_FILTER_BUDGET)) {
          stats.budgetExceeded++;
          options.onBudgetExceeded?.();
          subscriber.fail(COL_ERR_FILTER_BUDGET, err.message);
        } else {
          // Never expected (matches does not throw otherwise); one client must not take the hub down.
          subscriber.fail(COL_ERR_INTERNAL, 'the stream filter failed');
        }
        continue;
      }
      if (subscriber.inboxStart >= subscriber.inbox.length) {
        subscriber.inbox = [];
        subscriber.inboxStart = 0;
      } else {
        more = true;
      }
    }
    if (more) schedule();
  }

  function attach(res: ServerResponse, filter?: CompiledFilter): StreamClient {
    const queue: string[] = [];
    let queuedBytes = 0;
    let blocked = false;
    let dropped = 0;
    let droppedTotal = 0;
    let sent = 0;
    let closed = false;

    const write = (frame: string): void => {
      if (!res.write(frame)) blocked = true;
    };
    const flush = (): void => {
      blocked = false;
      while (!blocked && queue.length > 0) {
        const frame = queue.shift()!;
        queuedBytes -= Buffer.byteLength(frame);
        write(frame);
      }
      if (!blocked && dropped > 0) {
        write(droppedFrame(dropped));
        dropped = 0;
      }
    };
    const heartbeat = setInterval(() => {
      if (!blocked && queue.length === 0) write(': heartbeat\n\n');
    }, options.heartbeatMs);
    heartbeat.unref();

    const client: Subscriber = {
      filter,
      inbox: [],
      inboxStart: 0,
      dropUnjudged(n) {
        droppedTotal += n;
        // Said in order: before the events that follow. Without a backlog nothing would flush a pending count.
        if (!blocked && queue.length === 0 && dropped === 0) write(droppedFrame(n));
        else dropped += n;
      },
      fail(code, message) {
        if (closed) return;
        // Events still queued are discarded: the error is what the client must see before the end.
        queue.length = 0;
        queuedBytes = 0;
        if (!res.writableEnded) res.write(errorFrame(code, message));
        client.close();
      },
      send(frame) {
        if (closed) return;
        if (!blocked && queue.length === 0 && dropped === 0) {
          sent++;
          write(frame);
          return;
        }
        const size = Buffer.byteLength(frame);
        if (queue.length >= options.bufferEvents || queuedBytes + size > options.bufferBytes) {
          dropped++;
          droppedTotal++;
          return;
        }
        if (dropped > 0) {
          // The drop happened before this event: say so in order.
          const marker = droppedFrame(dropped);
          queue.push(marker);
          queuedBytes += Buffer.byteLength(marker);
          dropped = 0;
        }
        queue.push(frame);
        queuedBytes += size;
        sent++;
      },
      stats() {
        return { sent, dropped: droppedTotal, queued: queue.length, queuedBytes };
      },
      close() {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        subscribers.delete(client);
        queue.length = 0;
        queuedBytes = 0;
        client.inbox = [];
        client.inboxStart = 0;
        if (!res.writableEnded) res.end();
      },
    };

    res.on('drain', flush);
    res.on('close', () => client.close());
    res.on('error', () => client.close());
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The first bytes tell the client the stream is open (and fetch() resolves).
    write(': stream open\n\n');
    subscribers.add(client);
    return client;
  }

  return {
    publish(records) {
      stats.published += records.length;
      if (subscribers.size === 0 || records.length === 0) return;
      pending.push(records);
      schedule();
    },
    attach,
    full: () => options.maxClients !== undefined && subscribers.size >= options.maxClients,
    clients: () => [...subscribers],
    stats: () => ({ ...stats }),
    close() {
      for (const subscriber of [...subscribers]) subscriber.close();
      pending = [];
    },
  };
}
