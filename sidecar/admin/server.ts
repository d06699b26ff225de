/**
 * The admin server on the admin port (never captured): `/healthz`, `/ready`, `/metrics`.
 * Plain `node:http`: three fixed routes do not need a framework in the sidecar's memory budget.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from '../../lib/prom/index.ts';
import { MeshtapError } from '../../lib/errors.ts';
import { SC_ERR_LISTEN } from '../errors.ts';

export interface AdminState {
  /** The listeners are bound (and not closed by a drain). */
  listening: boolean;
  /** Ready to take traffic: listening and not draining. */
  ready: boolean;
  draining: boolean;
}

export interface AdminServerOptions {
  host: string;
  port: number;
  registry: Registry;
  state: () => AdminState;
}

export interface AdminServer {
  listen(): Promise<AddressInfo>;
  close(): Promise<void>;
}

function reply(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

export function createAdminServer(options: AdminServerOptions): AdminServer {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      reply(res, 405, 'method not allowed\n');
      return;
    }
    const state = options.state();
    if (path === '/healthz') {
      if (state.listening || state.draining) reply(res, 200, 'ok\n');
      else reply(res, 503, 'listeners not bound\n');
    } else if (path === '/ready') {
      if (state.ready) reply(res, 200, 'ready\n');
      else reply(res, 503, state.draining ? 'draining\n' : state.listening ? 'not ready: waiting for a workload certificate\n' : 'not ready: listeners not bound\n');
    } else if (path === '/metrics') {
      try {
        reply(res, 200, await options.registry.metrics(), options.registry.contentType);
      } catch (err) {
        reply(res, 500, `metrics failed: ${(err as Error).message}\n`);
      }
    } else {
      reply(res, 404, 'not found: try /healthz, /ready or /metrics\n');
    }
  };
  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  return {
    listen() {
      return new Promise((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) =>
          reject(new MeshtapError(SC_ERR_LISTEN, `cannot listen for admin requests on ${options.host}:${options.port}: ${err.code ?? err.message}`, { cause: err }));
        server.once('error', onError);
        server.listen({ host: options.host, port: options.port }, () => {
          server.off('error', onError);
          server.on('error', () => undefined);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
