/**
 * DNS over UDP: the app's query arrives on the listener (redirected by the pod's nat rules),
 * goes upstream byte for byte from a fresh socket per attempt (a random source port, as the C
 * library's resolver uses; the sidecar runs as the proxy uid, so its own queries are never redirected),
 * and the first answer with the query's id goes back to the app from the listener socket.
 * Because that socket is bound to the address the redirect delivered to, the reply matches the
 * connection tracking entry and the app sees it come from the resolver it asked.
 *
 * Resolvers are tried in resolv.conf's order: the next one after the timeout or as soon as the
 * attempt fails (ICMP unreachable), while the earlier attempts stay open for a late answer.
 * When none answers, the app gets no answer — what it would have got without the sidecar.
 * Nothing here decodes the messages: only the 2-byte id is read, to ignore stray answers.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { messageId } from './codec.ts';
import type { Address, DnsExchange, RelayOptions } from './dns-record.ts';
import type { Resolver } from './resolv-conf.ts';
import { bump } from './stats.ts';

/** Queries waiting for an answer at once; beyond it a query is not forwarded (counted) and the app retries. */
export const MAX_IN_FLIGHT = 1024;

export type UdpRelayOptions = RelayOptions;

interface Pending {
  readonly query: Buffer;
  readonly id: number | undefined;
  readonly client: RemoteInfo;
  readonly queryAt: bigint;
  readonly sockets: Socket[];
  attempt: number;
  timer?: NodeJS.Timeout;
  done: boolean;
  lastTried?: Resolver;
  allFailedFast: boolean;
}

export class UdpRelay {
  private readonly options: UdpRelayOptions;
  private readonly listener: Socket;
  private inFlight = 0;
  private readonly pending = new Set<Pending>();

  constructor(listener: Socket, options: UdpRelayOptions) {
    this.listener = listener;
    this.options = options;
    listener.on('message', (msg, rinfo) => this.onQuery(msg, rinfo));
  }

  get active(): number {
    return this.inFlight;
  }

  /** Ends every pending query without an answer (shutdown). */
  close(): void {
    for (const p of [...this.pending]) this.finish(p, undefined, undefined, 'closed', 'the sidecar stopped');
  }

  private onQuery(query: Buffer, client: RemoteInfo): void {
    const { stats } = this.options;
    stats.queries.udp++;
    const queryAt = this.options.clock();
    if (this.inFlight >= MAX_IN_FLIGHT) {
      stats.overloaded++;
      return;
    }
    const p: Pending = { query, id: messageId(query), client, queryAt, sockets: [], attempt: -1, done: false, allFailedFast: true };
    this.inFlight++;
    this.pending.add(p);
    this.next(p);
  }

  private next(p: Pending): void {
    const conf = this.options.resolvers.current();
    p.attempt++;
    const resolver = conf.nameservers[p.attempt];
    if (resolver === undefined) {
      if (p.attempt === 0) {
        bump(this.options.stats.upstreamFailures, 'no_resolver');
        this.finish(p, undefined, undefined, 'upstream_unreachable', 'no nameserver in resolv.conf');
        return;
      }
      if (!p.allFailedFast) this.options.stats.timeouts++;
      this.finish(
        p,
        undefined,
        undefined,
        p.allFailedFast ? 'upstream_unreachable' : 'timeout',
        p.allFailedFast ? `every resolver failed (${p.attempt} tried)` : `no answer from ${p.attempt} resolver(s) within ${conf.timeoutMs} ms each`,
      );
      return;
    }
    p.lastTried = resolver;
    const attempt = p.attempt;
    const socket = createSocket(resolver.family === 6 ? 'udp6' : 'udp4');
    p.sockets.push(socket);
    const fail = (reason: 'timeout' | 'error') => {
      if (p.done || p.attempt !== attempt) return;
      clearTimeout(p.timer);
      if (reason === 'timeout') p.allFailedFast = false;
      bump(this.options.stats.upstreamFailures, reason);
      this.next(p);
    };
    socket.on('error', () => fail('error'));
    socket.on('message', (answer, from) => {
      if (p.done) return;
      // A resolver library only takes an answer with its query's id; a stray datagram is ignored.
      if (p.id !== undefined && messageId(answer) !== p.id) return;
      this.finish(p, answer, { ip: from.address, port: from.port });
    });
    p.timer = setTimeout(() => fail('timeout'), conf.timeoutMs);
    try {
      // A failed connect (no route to the resolver, an address the socket cannot take) comes
      // to this callback, not as an 'error' event, and leaves the socket unconnected: a send
      // then throws, out of reach of the try around connect.
      socket.connect(resolver.port, resolver.ip, (err?: Error) => {
        if (err !== undefined && err !== null) return fail('error');
        if (p.done) return;
        try {
          socket.send(p.query, (sendErr) => sendErr && fail('error'));
        } catch {
          fail('error');
        }
      });
    } catch {
      fail('error');
    }
  }

  private finish(p: Pending, answer: Buffer | undefined, from: Address | undefined, failure?: DnsExchange['failure'], detail?: string): void {
    if (p.done) return;
    p.done = true;
    clearTimeout(p.timer);
    this.inFlight--;
    this.pending.delete(p);
    const { stats } = this.options;
    const answerAt = answer ? this.options.clock() : undefined;
    if (answer) {
      stats.answers.udp++;
      this.listener.send(answer, p.client.port, p.client.address, (err) => err && bump(stats.upstreamFailures, 'reply_failed'));
    }
    for (const s of p.sockets) {
      try {
        s.close();
      } catch {
        // already closed by a failed send
      }
    }
    const resolver = from ?? (p.lastTried ? { ip: p.lastTried.ip, port: p.lastTried.port } : undefined);
    this.options.onExchange({
      transport: 'udp',
      connectionId: this.options.newId(),
      ordinal: 0,
      client: { ip: p.client.address, port: p.client.port },
      resolver,
      query: p.query,
      answer,
      queryAt: p.queryAt,
      answerAt,
      endAt: answerAt ?? this.options.clock(),
      failure,
      failureDetail: detail,
    });
  }
}
