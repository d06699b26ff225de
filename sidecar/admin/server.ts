/**
 * The admin server on the admin port (never captured): `/healthz`, `/ready`, `/metrics`.
 * Plain `node:http`: three fixed routes do not need a framework in the sidecar's memory budget.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from '../../lib/prom/index.ts';
import { MeshtapError } from '../../lib/errors.ts';
import { SC_ERR_LISTEN } from '../errors.ts';

export interface AdminState {
  /** The listeners are bound (and not closed by a drain). */
  listening: boolean;
  /** Ready to take traffic: listening and not draining. */
  ready: boolean;
  draining: boolean;
  /** What readiness still waits for, when listening and not ready (for the 503's text). */
  waitingFor?: string;
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

/** What a request the admin port could not read is answered with, by Node's error code. */
const CLIENT_ERRORS: Record<string, { status: number; text: string; reason: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, text: 'Request Header Fields Too Large', reason: 'too_large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, text: 'Request Timeout', reason: 'timeout' },
};
const MALFORMED = { status: 400, text: 'Bad Request', reason: 'malformed' };
/** How long the answer to such a request has to reach the peer before its socket is closed. */
const CLOSE_AFTER_ANSWER_MS = 1000;

export function createAdminServer(options: AdminServerOptions): AdminServer {
  const badRequests = new Counter({
    name: 'meshtap_sidecar_admin_bad_requests_total',
    help: 'Requests to the admin port that could not be read, by reason (malformed: not HTTP/1; too_large: headers over the limit; timeout: headers too slow), answered 400, 431 or 408 and closed.',
    labelNames: ['reason'],
    registers: [options.registry],
  });
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
      else reply(res, 503, state.draining ? 'draining\n' : state.listening ? `not ready: waiting for ${state.waitingFor ?? 'start-up'}\n` : 'not ready: listeners not bound\n');
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
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // A peer that reset or already closed gets nothing: there is no one to answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const answer = CLIENT_ERRORS[err.code ?? ''] ?? MALFORMED;
    badRequests.inc({ reason: answer.reason });
    const body = `${answer.text.toLowerCase()}: the admin port serves GET /healthz, /ready and /metrics\n`;
    socket.end(`HTTP/1.1 ${answer.status} ${answer.text}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    // The server allows half-open sockets: a peer that never closes its end would hold this one.
    setTimeout(() => socket.destroy(), CLOSE_AFTER_ANSWER_MS).unref();
  });

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
