/**
 * DNS over TCP: one upstream connection per app connection, a byte-exact relay in both
 * directions (pipelined queries and out-of-order answers pass through as they are). The first
 * resolver of resolv.conf is tried, then the next when the connect fails or takes longer than
 * the resolver timeout; the app's bytes wait (the socket is paused) until one accepts. When
 * none does, the app's connection is reset — what an unreachable resolver would have done.
 *
 * Capture reads copies through a `FrameReader` per direction and pairs answers with queries
 * by id on the connection; unanswered queries end with the connection.
 */
import { connect, type Server, type Socket } from 'node:net';
import { messageId } from './codec.ts';
import type { Address, DnsExchange, RelayOptions } from './dns-record.ts';
import { bump } from './stats.ts';
import { FrameReader } from './tcp-framing.ts';

/** Queries awaiting an answer on one connection that capture keeps track of; beyond, counted and not recorded. */
export const MAX_PENDING_PER_CONNECTION = 256;

export type TcpRelayOptions = RelayOptions;

interface PendingQuery {
  readonly ordinal: number;
  readonly query: Uint8Array;
  readonly at: bigint;
}

export class TcpRelay {
  private readonly options: TcpRelayOptions;
  private readonly sockets = new Set<Socket>();

  constructor(server: Server, options: TcpRelayOptions) {
    this.options = options;
    server.on('connection', (socket) => this.onConnection(socket));
  }

  get active(): number {
    return this.sockets.size;
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
  }

  private onConnection(app: Socket): void {
    const { stats, clock } = this.options;
    stats.tcpConnections++;
    this.sockets.add(app);
    app.pause();
    const connectionId = this.options.newId();
    const client: Address = { ip: app.remoteAddress ?? '', port: app.remotePort ?? 0 };
    const queries = new FrameReader();
    const answers = new FrameReader();
    const pending = new Map<number, PendingQuery[]>();
    let ordinal = 0;
    let resolver: Address | undefined;
    let upstream: Socket | undefined;
    let ended = false;

    const emit = (q: PendingQuery, answer?: Uint8Array, answerAt?: bigint, failure?: DnsExchange['failure'], detail?: string) => {
      this.options.onExchange({
        transport: 'tcp',
        connectionId,
        ordinal: q.ordinal,
        client,
        resolver,
        query: q.query,
        answer,
        queryAt: q.at,
        answerAt,
        endAt: answerAt ?? clock(),
        failure,
        failureDetail: detail,
      });
    };
    app.on('data', (chunk: Buffer) => {
      const at = clock();
      for (const query of queries.push(chunk)) {
        stats.queries.tcp++;
        const q = { ordinal: ordinal++, query, at };
        const id = messageId(query) ?? -1;
        const list = pending.get(id) ?? [];
        if (pending.size >= MAX_PENDING_PER_CONNECTION && list.length === 0) {
          bump(stats.records.dropped, 'pending_queries');
          continue;
        }
        list.push(q);
        pending.set(id, list);
      }
    });
    const onAnswer = (chunk: Buffer) => {
      const at = clock();
      for (const answer of answers.push(chunk)) {
        stats.answers.tcp++;
        const id = messageId(answer) ?? -1;
        const list = pending.get(id);
        const q = list?.shift();
        if (list && list.length === 0) pending.delete(id);
        if (q) emit(q, answer, at);
      }
    };
    const end = (failure: DnsExchange['failure'], detail: string) => {
      if (ended) return;
      ended = true;
      this.sockets.delete(app);
      for (const list of pending.values()) for (const q of list) emit(q, undefined, undefined, failure, detail);
      pending.clear();
      app.destroy();
      upstream?.destroy();
    };
    app.on('error', () => undefined);
    app.on('close', () => end('closed', 'the connection closed before the answer'));

    const conf = this.options.resolvers.current();
    const attempt = (i: number) => {
      const r = conf.nameservers[i];
      if (r === undefined) {
        bump(stats.upstreamFailures, i === 0 ? 'no_resolver' : 'connect');
        app.resetAndDestroy();
        end('upstream_unreachable', i === 0 ? 'no nameserver in resolv.conf' : `no resolver accepted a TCP connection (${i} tried)`);
        return;
      }
      const up = connect({ host: r.ip, port: r.port, allowHalfOpen: true });
      const timer = setTimeout(() => up.destroy(new Error('connect timeout')), conf.timeoutMs);
      let connected = false;
      up.once('connect', () => {
        clearTimeout(timer);
        connected = true;
        if (ended) {
          up.destroy();
          return;
        }
        upstream = up;
        resolver = { ip: r.ip, port: r.port };
        up.on('data', onAnswer);
        app.pipe(up);
        up.pipe(app);
        up.on('close', () => {
          // The resolver closed: let what it sent reach the app, then end like it did.
          if (!app.writableEnded) app.end();
        });
        app.resume();
      });
      up.on('error', () => {
        clearTimeout(timer);
        if (connected) {
          app.destroy();
          return;
        }
        if (ended) return;
        bump(stats.upstreamFailures, 'connect');
        attempt(i + 1);
      });
    };
    attempt(0);
  }
}
