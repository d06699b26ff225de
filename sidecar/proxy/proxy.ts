/**
 * The two listeners (outbound and inbound) and the connections they accept.
 *
 * Outbound connections go to their original destination as the proxy's own uid, which the pod
 * rules never redirect. Inbound connections go to the app at the original destination (the
 * pod's IP and port) from the passthrough source address, which the rules let through.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { MeshtapError } from '../../lib/errors.ts';
import type { NsClock } from '../capture/session.ts';
import { SC_ERR_LISTEN } from '../errors.ts';
import type { SidecarStats } from '../metrics.ts';
import type { OriginalDstResult } from '../original-dst.ts';
import type { Observer } from '../../record/record.ts';
import type { CaptureChannel } from './capture-channel.ts';
import { ProxyConnection } from './connection.ts';
import { createConnectionIdSource } from './connection-id.ts';
import type { MtlsHooks } from '../mtls/plans.ts';

export interface ProxyOptions {
  host: string;
  outboundPort: number;
  inboundPort: number;
  podIp: string;
  /** Source address of connections to the local app (inbound). */
  inboundSourceAddress: string;
  clock: NsClock;
  stats: SidecarStats;
  /** Absent: forward only. */
  capture: CaptureChannel | undefined;
  originalDst: (socket: Socket) => OriginalDstResult;
  /** Absent: no mTLS, every connection plaintext as it came. */
  mtls?: MtlsHooks;
}

export interface ProxyAddresses {
  outbound: AddressInfo;
  inbound: AddressInfo;
}

export interface SidecarProxy {
  listen(): Promise<ProxyAddresses>;
  /** Closes the listeners; open connections carry on. */
  stopAccepting(): Promise<void>;
  /**
   * Waits up to `timeoutMs` for open connections to finish, then ends the rest.
   * Resolves with the number of connections it had to end.
   */
  drain(timeoutMs: number): Promise<number>;
  readonly activeConnections: number;
}

function listenOn(server: Server, host: string, port: number, what: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new MeshtapError(SC_ERR_LISTEN, `cannot listen for ${what} connections on ${host}:${port}: ${err.code ?? err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port, backlog: 1024 }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

export function createSidecarProxy(options: ProxyOptions): SidecarProxy {
  const connections = new Set<ProxyConnection>();
  const newConnectionId = createConnectionIdSource();
  let idle: (() => void) | undefined;

  const onClosed = (connection: ProxyConnection) => {
    connections.delete(connection);
    if (connections.size === 0 && idle) idle();
  };

  const envFor = (observer: Observer) => ({
    observer,
    clock: options.clock,
    stats: options.stats,
    direction: options.stats[observer],
    capture: options.capture,
    upstreamLocalAddress: observer === 'inbound' ? options.inboundSourceAddress : undefined,
    newConnectionId,
    mtls: options.mtls,
    onClosed,
  });
  const envs = { outbound: envFor('outbound'), inbound: envFor('inbound') };

  const accept = (observer: Observer, socket: Socket) => {
    const direction = options.stats[observer];
    const result = options.originalDst(socket);
    let reason: string | undefined;
    if (!result.ok) reason = result.reason;
    else if (
      result.dst.port === socket.localPort &&
      (result.dst.ip === socket.localAddress || result.dst.ip === options.podIp || result.dst.ip.startsWith('127.'))
    ) {
      // Not redirected: someone connected to the listener itself. Forwarding would loop.
      reason = 'not_redirected';
    }
    if (reason !== undefined || !result.ok) {
      const key = reason ?? 'unknown';
      direction.originalDstFailures[key] = (direction.originalDstFailures[key] ?? 0) + 1;
      socket.on('error', () => undefined);
      socket.resetAndDestroy();
      return;
    }
    connections.add(new ProxyConnection(socket, result.dst, envs[observer]));
  };

  const serverOptions = { allowHalfOpen: true, noDelay: true };
  const outbound = createServer(serverOptions, (socket) => accept('outbound', socket));
  const inbound = createServer(serverOptions, (socket) => accept('inbound', socket));
  // A failing accept (EMFILE, ...) is reported on the server; it must not end the process.
  outbound.on('error', () => undefined);
  inbound.on('error', () => undefined);

  return {
    async listen() {
      const [o, i] = await Promise.all([
        listenOn(outbound, options.host, options.outboundPort, 'outbound'),
        listenOn(inbound, options.host, options.inboundPort, 'inbound'),
      ]).catch((err: unknown) => {
        outbound.close();
        inbound.close();
        throw err;
      });
      return { outbound: o, inbound: i };
    },
    async stopAccepting() {
      // close() stops listening at once; its callback would wait for every connection, drain does that.
      for (const server of [outbound, inbound]) if (server.listening) server.close();
    },
    async drain(timeoutMs) {
      if (connections.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      const remaining = [...connections];
      if (remaining.length === 0) return 0;
      const closed = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      for (const connection of remaining) connection.abort();
      await closed;
      return remaining.length;
    },
    get activeConnections() {
      return connections.size;
    },
  };
}
