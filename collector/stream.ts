/**
 * The live stream: every newly stored record goes to each connected client whose filter
 * matches, as a Server-Sent Event (`event: call`, the record's JSON as `data`).
 *
 * A client that reads slower than records arrive must not make the collector hold an unbounded
 * backlog: each client has a bounded queue (events and bytes) of what its socket did not take
 * yet. When it is full, newer events are dropped and counted; once the client catches up it
 * gets one `event: dropped` with `{"count":N}` before the events that follow. Heartbeats are
 * SSE comment lines, sent only to clients that are keeping up.
 */
import type { ServerResponse } from 'node:http';
import type { CallRecord } from '../record/record.ts';
import type { CompiledFilter } from './filter/compile.ts';
import { recordToJson } from '../record/record-json.ts';

export interface StreamHubOptions {
  /** Events queued for one client before newer ones are dropped. */
  bufferEvents: number;
  /** Bytes queued for one client before newer events are dropped. */
  bufferBytes: number;
  /** Comment line interval. */
  heartbeatMs: number;
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
  publish(records: readonly CallRecord[]): void;
  /** Starts an SSE response on `res` (headers included) and subscribes it. */
  attach(res: ServerResponse, filter?: CompiledFilter): StreamClient;
  clients(): StreamClient[];
  /** Ends every client's stream. */
  close(): void;
}

export function callEventFrame(record: CallRecord): string {
  return `event: call\nid: ${record.id.replace(/[\r\n]/g, '')}\ndata: ${JSON.stringify(recordToJson(record))}\n\n`;
}

function droppedFrame(count: number): string {
  return `event: dropped\ndata: ${JSON.stringify({ count })}\n\n`;
}

export function createStreamHub(options: StreamHubOptions): StreamHub {
  interface Subscriber extends StreamClient {
    filter?: CompiledFilter;
    send(frame: string): void;
  }
  const subscribers = new Set<Subscriber>();

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
      if (subscribers.size === 0) return;
      for (const record of records) {
        let frame: string | undefined;
        for (const subscriber of subscribers) {
          if (subscriber.filter !== undefined && !subscriber.filter.matches(record)) continue;
          frame ??= callEventFrame(record);
          subscriber.send(frame);
        }
      }
    },
    attach,
    clients: () => [...subscribers],
    close() {
      for (const subscriber of [...subscribers]) subscriber.close();
    },
  };
}
