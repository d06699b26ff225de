/**
 * The DNS listener of the sidecar: UDP and TCP on the DNS port, relaying to the pod's
 * resolvers (`udp-relay.ts`, `tcp-relay.ts`) and handing finished exchanges to capture.
 *
 * Bound to 127.0.0.1: the pod's nat `OUTPUT` rules REDIRECT the app's port-53 traffic there
 * (REDIRECT of a locally generated packet delivers to 127.0.0.1), and a UDP answer must leave
 * from exactly that address for connection tracking to turn it back into the resolver's.
 * Nothing outside the pod can reach it.
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

export interface DnsServerOptions {
  readonly host?: string;
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
  /** Binds UDP and TCP on the port; rejects with `SC_ERR_DNS_LISTEN` (nothing stays bound). */
  start(): Promise<{ address: string; port: number }>;
  readonly listening: boolean;
  /** Stops both listeners; pending UDP queries end unanswered, TCP connections are closed. */
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
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function createDnsServer(options: DnsServerOptions): DnsServer {
  const host = options.host ?? DNS_LISTEN_ADDRESS;
  let udp: Socket | undefined;
  let tcp: Server | undefined;
  let udpRelay: UdpRelay | undefined;
  let tcpRelay: TcpRelay | undefined;

  const stop = () => {
    options.stats.listening = false;
    udpRelay?.close();
    tcpRelay?.close();
    try {
      udp?.close();
    } catch {
      // not bound
    }
    tcp?.close();
    udp = undefined;
    tcp = undefined;
  };

  return {
    get listening() {
      return options.stats.listening;
    },
    async start() {
      if (options.stats.listening) return { address: host, port: options.port };
      const relayOptions = { resolvers: options.resolvers, clock: options.clock, stats: options.stats, newId: options.newId, onExchange: options.onExchange };
      const u = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
      const t = createServer({ allowHalfOpen: true, noDelay: true });
      try {
        await bindUdp(u, options.port, host);
        await listenTcp(t, options.port, host);
      } catch (err) {
        try {
          u.close();
        } catch {
          // never bound
        }
        t.close();
        throw dnsError(SC_ERR_DNS_LISTEN, `cannot listen for DNS on ${host}:${options.port} (UDP and TCP): ${(err as Error).message}`, err as Error);
      }
      udp = u;
      tcp = t;
      udpRelay = new UdpRelay(u, relayOptions);
      tcpRelay = new TcpRelay(t, relayOptions);
      const failed = (err: Error) => {
        if (udp !== u) return;
        stop();
        options.onListenerError?.(err);
      };
      u.on('error', failed);
      t.on('error', failed);
      options.stats.listening = true;
      return { address: host, port: options.port };
    },
    async close() {
      stop();
    },
  };
}
