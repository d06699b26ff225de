/**
 * The DNS listener of the sidecar: UDP and TCP on the DNS port, relaying to the pod's
 * resolvers (`udp-relay.ts`, `tcp-relay.ts`) and handing finished exchanges to capture.
 *
 * Bound to 127.0.0.1 (and ::1 when the pod has IPv6): the pod's nat `OUTPUT` rules REDIRECT
 * the app's port-53 traffic there (REDIRECT of a locally generated packet delivers to the
 * loopback address of its family), and a UDP answer must leave from exactly that address for
 * connection tracking to turn it back into the resolver's. Nothing outside the pod reaches it.
 *
 * `start()` binds both or neither; a bind failure is `SC_ERR_DNS_LISTEN`. The sidecar keeps
 * calling `start()` until it succeeds and reports ready only while `listening` is true.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { NsClock } from '../capture/session.ts';
import type { DnsExchange } from './dns-record.ts';
import { SC_ERR_DNS_LISTEN, dnsError } from './errors.ts';
import type { ResolvConfSource } from './resolv-conf-source.ts';
import type { DnsStats } from './stats.ts';
import { TcpRelay } from './tcp-relay.ts';
import { UdpRelay } from './udp-relay.ts';

export const DNS_LISTEN_ADDRESS = '127.0.0.1';
/** Where init's IPv6 DNS redirect delivers (REDIRECT of a local IPv6 packet goes to ::1). */
export const DNS_LISTEN_ADDRESS6 = '::1';

export interface DnsServerOptions {
  /** Addresses to listen on, each for UDP and TCP (default: 127.0.0.1). */
  readonly hosts?: readonly string[];
  readonly port: number;
  readonly resolvers: ResolvConfSource;
  readonly clock: NsClock;
  readonly stats: DnsStats;
  readonly newId: () => string;
  readonly onExchange: (exchange: DnsExchange) => void;
  /** A listener failed after it was bound (the sidecar turns not ready and restarts it). */
  readonly onListenerError?: (err: Error) => void;
}

export interface DnsServer {
  /** Binds UDP and TCP on the port of every address; rejects with `SC_ERR_DNS_LISTEN` (nothing stays bound). */
  start(): Promise<{ addresses: readonly string[]; port: number }>;
  readonly listening: boolean;
  /** Stops the listeners; pending UDP queries end unanswered, TCP connections are closed. */
  close(): Promise<void>;
}

function bindUdp(socket: Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function listenTcp(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, ipv6Only: host.includes(':') }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

interface Bound {
  readonly udp: Socket;
  readonly tcp: Server;
  readonly udpRelay: UdpRelay;
  readonly tcpRelay: TcpRelay;
}

function closeQuietly(udp: Socket, tcp: Server): void {
  try {
    udp.close();
  } catch {
    // never bound
  }
  tcp.close();
}

export function createDnsServer(options: DnsServerOptions): DnsServer {
  const hosts = options.hosts ?? [DNS_LISTEN_ADDRESS];
  let bound: Bound[] = [];

  const stop = () => {
    options.stats.listening = false;
    for (const b of bound) {
      b.udpRelay.close();
      b.tcpRelay.close();
      closeQuietly(b.udp, b.tcp);
    }
    bound = [];
  };

  return {
    get listening() {
      return options.stats.listening;
    },
    async start() {
      if (options.stats.listening) return { addresses: hosts, port: options.port };
      const relayOptions = { resolvers: options.resolvers, clock: options.clock, stats: options.stats, newId: options.newId, onExchange: options.onExchange };
      const sockets: { udp: Socket; tcp: Server }[] = [];
      try {
        for (const host of hosts) {
          const udp = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
          const tcp = createServer({ allowHalfOpen: true, noDelay: true });
          sockets.push({ udp, tcp });
          try {
            await bindUdp(udp, options.port, host);
            await listenTcp(tcp, options.port, host);
          } catch (err) {
            throw dnsError(SC_ERR_DNS_LISTEN, `cannot listen for DNS on ${host.includes(':') ? `[${host}]` : host}:${options.port} (UDP and TCP): ${(err as Error).message}`, err as Error);
          }
        }
      } catch (err) {
        for (const s of sockets) closeQuietly(s.udp, s.tcp);
        throw err;
      }
      const current = sockets.map(({ udp, tcp }) => ({ udp, tcp, udpRelay: new UdpRelay(udp, relayOptions), tcpRelay: new TcpRelay(tcp, relayOptions) }));
      bound = current;
      const failed = (err: Error) => {
        if (bound !== current) return;
        stop();
        options.onListenerError?.(err);
      };
      for (const b of current) {
        b.udp.on('error', failed);
        b.tcp.on('error', failed);
      }
      options.stats.listening = true;
      return { addresses: hosts, port: options.port };
    },
    async close() {
      stop();
    },
  };
}
