/**
 * What every shop app shares: config from env (defaults + validation, exit 2 on a bad value),
 * a tiny JSON HTTP server (routes with `:params`, `/healthz`, one log line per request,
 * graceful SIGTERM), W3C `traceparent` helpers and a JSON client for upstream calls.
 *
 * Not a demo app itself (the lab lists `lab/apps/*.ts` as apps; this one has no `main`).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';

// ---------------------------------------------------------------------------------------------
// Config

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function bad(name: string, raw: string, expected: string): never {
  throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected ${expected}`);
}

export function envString(name: string, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

export function envInt(name: string, fallback: number, range: { min: number; max: number }, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) bad(name, raw, `an integer ${range.min}-${range.max}`);
  return n;
}

export function envNumber(name: string, fallback: number, range: { min: number; max: number }, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < range.min || n > range.max) bad(name, raw, `a number ${range.min}-${range.max}`);
  return n;
}

/** An http(s) base URL, returned without a trailing slash. */
export function envUrl(name: string, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  const raw = envString(name, fallback, env);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad(name, raw, 'an absolute http:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') bad(name, raw, 'an http:// or https:// URL');
  return raw.replace(/\/+$/, '');
}

/** `host:port`, e.g. `redis.shop:6379`. */
export function envHostPort(name: string, env: NodeJS.ProcessEnv = process.env): { host: string; port: number } | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const m = /^([^:\s]+):(\d{1,5})$/.exec(raw.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) bad(name, raw, 'host:port');
  return { host: m[1], port: Number(m[2]) };
}

/** Reads config once; a bad value is printed with its variable name and the process exits 2. */
export function loadConfig<T extends object>(app: string, read: () => T): Readonly<T> {
  try {
    return Object.freeze(read());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(JSON.stringify({ t: new Date().toISOString(), app, level: 'error', msg: `config: ${err.message}` }));
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------------------------
// Logging

export function log(app: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ t: new Date().toISOString(), app, ...fields }));
}

// ---------------------------------------------------------------------------------------------
// Trace context (W3C traceparent: version-traceid-parentid-flags)

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceContext {
  traceId: string;
  spanId: string;
  flags: string;
}

export function parseTraceparent(value: string | string[] | undefined): TraceContext | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]) || /^0+$/.test(m[3])) return undefined;
  return { traceId: m[2], spanId: m[3], flags: m[4] };
}

/** The header for a call made on behalf of `parent` (a new span in the same trace), or a new trace. */
export function childTraceparent(parent: TraceContext | undefined): string {
  const traceId = parent?.traceId ?? randomBytes(16).toString('hex');
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${parent?.flags ?? '01'}`;
}

// ---------------------------------------------------------------------------------------------
// Server

export class HttpError extends Error {
  readonly status: number;
  readonly details: Record<string, unknown>;
  constructor(status: number, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.details = details;
  }
}

export interface AppRequest {
  method: string;
  path: string;
  /** The matched route template, e.g. `/products/:id`. */
  route: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when there is none). */
  body: unknown;
  /** The caller's trace context, if it sent a valid `traceparent`. */
  trace: TraceContext | undefined;
}

export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: AppRequest) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  path: string;
  handler: Handler;
}

export interface ServeOptions {
  app: string;
  port: number;
  host?: string;
  routes: Route[];
  /** More fields for the `listening` log line (e.g. a second listener's port). */
  listening?: Record<string, unknown>;
  /** `Upgrade` requests (WebSocket); without it they are refused. */
  onUpgrade?: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  /** Runs first on SIGTERM, before the server closes (e.g. closing upgraded connections it does not track). */
  onClosing?: () => void;
  /** Extra work on SIGTERM after the server stopped accepting (closing clients, flushing). */
  onShutdown?: () => void | Promise<void>;
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

function matchRoute(routes: Route[], method: string, path: string): { route: Route; params: Record<string, string> } | 'method' | undefined {
  const parts = path.split('/').filter(Boolean);
  let pathMatched = false;
  for (const route of routes) {
    const tpl = route.path.split('/').filter(Boolean);
    if (tpl.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = tpl.every((seg, i) => {
      if (seg.startsWith(':')) {
        params[seg.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return seg === parts[i];
    });
    if (!ok) continue;
    pathMatched = true;
    if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
  }
  return pathMatched ? 'method' : undefined;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

/** Starts the app's server and wires SIGTERM/SIGINT to a graceful stop (exit 0). */
export function serve(options: ServeOptions): Promise<RunningServer> {
  const { app, routes } = options;
  const pod = process.env.HOSTNAME ?? hostname();
  const server = createServer(async (req, res) => {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://local');
    const method = req.method ?? 'GET';
    const trace = parseTraceparent(req.headers.traceparent);
    let route = '';
    let status = 500;
    try {
      if (url.pathname === '/healthz') {
        route = '/healthz';
        status = 200;
        send(res, 200, { status: 'ok', app, pod });
        return;
      }
      const found = matchRoute(routes, method, url.pathname);
      if (found === undefined) throw new HttpError(404, `no route for ${url.pathname}`);
      if (found === 'method') throw new HttpError(405, `method ${method} not allowed on ${url.pathname}`);
      route = found.route.path;
      const body = await readBody(req);
      const reply = await found.route.handler({ method, path: url.pathname, route, params: found.params, query: url.searchParams, headers: req.headers, body, trace });
      status = reply.status ?? 200;
      send(res, status, reply.body, reply.headers);
    } catch (err) {
      if (err instanceof HttpError) {
        status = err.status;
        send(res, status, { error: err.message, ...err.details });
      } else {
        status = 500;
        log(app, { level: 'error', msg: 'handler failed', error: String((err as Error)?.stack ?? err) });
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      }
    } finally {
      // Health checks are frequent and uninteresting; everything else gets one line.
      if (route !== '/healthz') {
        log(app, { method, path: url.pathname, route: route || undefined, status, ms: Math.round(performance.now() - started), trace: trace?.traceId ?? null });
      }
    }
  });
  server.keepAliveTimeout = 5000;
  if (options.onUpgrade) server.on('upgrade', options.onUpgrade);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      options.onClosing?.();
      // Give in-flight requests a moment; then cut whatever is still open.
      const force = setTimeout(() => server.closeAllConnections(), 3000);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    }).then(() => options.onShutdown?.());
    return closing;
  };
  const stop = (signal: string) => {
    log(app, { msg: 'stopping', signal });
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log(app, { level: 'error', msg: 'shutdown failed', error: String(err) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      const port = (server.address() as AddressInfo).port;
      log(app, { msg: 'listening', port, pod, ...options.listening });
      resolve({ port, close });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Client

export interface UpstreamReply {
  status: number;
  body: unknown;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string | undefined>;
  json?: unknown;
  timeoutMs?: number;
}

/** Calls an upstream and parses its JSON; an unreachable upstream becomes a 502/504 HttpError. */
export async function callJson(url: string, options: CallOptions = {}): Promise<UpstreamReply> {
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const [k, v] of Object.entries(options.headers ?? {})) if (v !== undefined) headers[k] = v;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, {
      method: options.method ?? (options.json === undefined ? 'GET' : 'POST'),
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
  } catch (err) {
    const e = err as Error & { cause?: unknown };
    if (e.name === 'TimeoutError') throw new HttpError(504, `upstream timed out: ${new URL(url).host}`);
    throw new HttpError(502, `upstream unreachable: ${new URL(url).host}`, { cause: String(e.cause ?? e.message) });
  }
  const text = await res.text();
  let body: unknown = text;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: keep the text.
    }
  }
  return { status: res.status, body };
}

/** The bearer token of an `authorization` header, if any. */
export function bearer(headers: IncomingHttpHeaders): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '');
  return m?.[1];
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Numeric id from a route param, or a 404 (ids are numbers, so meshtap templates them as `{id}`). */
export function numericId(raw: string | undefined, what: string): number {
  if (raw === undefined || !/^\d{1,12}$/.test(raw)) throw new HttpError(404, `no ${what} ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** Luhn check over the digits of `s` (spaces and dashes ignored). */
export function luhn(s: string): boolean {
  const digits = s.replace(/[ -]/g, '');
  if (!/^\d{12,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence, so tests can predict it. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
