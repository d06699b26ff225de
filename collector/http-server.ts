/**
 * The collector's HTTP API (fastify): records as JSON, the live stream (SSE), the service map,
 * traces, health and metrics. Errors are always `{ "error": { "code": "COL_ERR_...", "message": "..." } }`
 * (a filter error adds `position`).
 */
import { registerDashboard } from './dashboard/routes.ts';
import { MCP_PATH, registerMcpRoute } from './mcp/http-route.ts';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { CompiledFilter } from './filter/compile.ts';
import { compileFilter } from './filter/compile.ts';
import type { FilterPosition } from './filter/errors.ts';
import { COL_ERR_FILTER_BUDGET, isFilterError } from './filter/errors.ts';
import { STREAM_TICK_LIMITS, type FilterLimits } from './filter/limits.ts';
import { isMeshtapError } from '../lib/errors.ts';
import type { CollectorMetrics } from './metrics.ts';
import type { ListQuery, ListStats, RecordStore } from './record-store.ts';
import { recordToJson, type CallRecordJson } from '../record/record-json.ts';
import { buildServiceMap } from './servicemap.ts';
import { buildCoverage, type CaptureExclusions } from './coverage.ts';
import { collectorDrops } from './coverage-drops.ts';
import type { StreamHub } from './stream.ts';
import { buildTrace } from './traces.ts';
import { joinWithPartners, type JoinedCall } from './calls/join.ts';
import { callIdAsRecordMessage, callOfRecord, findCall, missingCallMessage, parseCallId, unknownIdMessage } from './calls/call-id.ts';
import { buildHar, HAR_FILTER, NOT_HAR_FILTER } from './calls/har.ts';
import { harCreator } from './calls/version.ts';
import { buildOffenders, RANKED_KINDS, type RankedKind } from './offenders.ts';
import {
  COL_ERR_AUTH_UNAVAILABLE,
  COL_ERR_BAD_QUERY,
  COL_ERR_HOST,
  COL_ERR_INTERNAL,
  COL_ERR_NOT_FOUND,
  COL_ERR_STREAM_FULL,
  COL_ERR_UNAUTHENTICATED,
} from './errors.ts';
import type { Logger } from '../lib/log.ts';
import { bearerToken as bearer } from './auth/bearer.ts';
import type { AccessControl, Viewer } from './auth/access.ts';
import { hostAllowed } from './auth/host-check.ts';
import { createStreamAccessGuard, type StreamCredential } from './stream-access.ts';
import { clearedSessionCookie, createSessionStore, readCookie, SESSION_COOKIE, sessionCookie, type SessionStore } from './auth/sessions.ts';
import type { CallRecord } from '../record/record.ts';
import { encodingProblem, paramText, parseLimit, parseSince, parseUntil, queryProblem, type QueryResult } from './api-query.ts';

export const DEFAULT_SERVICEMAP_WINDOW_MS = 15 * 60_000;
/** Most records one worst-offenders ranking reads (the newest of its window). */
export const MAX_OFFENDER_RECORDS = 50_000;
export const DEFAULT_OFFENDER_ROWS = 20;
export const MAX_OFFENDER_ROWS = 200;
/** Most records one service map reads (the newest of its window). */
export const MAX_SERVICEMAP_RECORDS = 500_000;

export interface HttpAppDeps {
  store: RecordStore;
  /** Who may read call data (every `/api/` route); `openAccess()` lets everyone. */
  access: AccessControl;
  /** Dashboard sessions; a fresh store when absent. */
  sessions?: SessionStore;
  /** The address the API is bound to: on loopback only loopback Host headers are served. */
  bindHost?: string;
  metrics: CollectorMetrics;
  log: Logger;
  /** The live stream; without it `/api/stream` answers 404. */
  hub?: StreamHub;
  servicemapWindowMs?: number;
  /** A workload's capture exclusions for `/api/coverage`, when the inventory carries the pods' annotations. */
  coverageExclusions?: (namespace: string, workload: string) => CaptureExclusions | undefined;
  /** ns since the epoch; injected by tests. */
  now?: () => bigint;
  /** How often open live streams have their credentials checked again (ms; default 60 s). */
  streamRecheckMs?: number;
  /**
   * The trace a trace id was joined into (`trace-links.ts`), so `/api/traces/:id` still finds a
   * flow by an id its records no longer carry (an app's own trace id, a hop's derived one).
   */
  resolveTrace?: (traceId: string) => string;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string, position?: FilterPosition): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send({ error: { code, message, ...(position !== undefined ? { position } : {}) } });
}

/** The filter that matches everything, as a compiled filter the stream can wrap. */
function compileAll(): CompiledFilter {
  const all = compileFilter('true');
  if (isFilterError(all)) throw new Error(all.message);
  return all;
}

type FilterResult = { ok: true; filter: CompiledFilter | undefined } | { ok: false; reply: FastifyReply };

/** A list's start-time window: from `since` (inclusive) to `until` (exclusive), each open when absent. */
type TimeWindow = Pick<ListQuery, 'since' | 'until'>;

function parseFilter(raw: unknown, reply: FastifyReply, limits?: FilterLimits): FilterResult {
  if (raw === undefined) return { ok: true, filter: undefined };
  const compiled = compileFilter(String(raw), limits !== undefined ? { limits } : {});
  if (isFilterError(compiled)) return { ok: false, reply: sendError(reply, 400, compiled.code, compiled.message, compiled.position) };
  return { ok: true, filter: compiled.ast === undefined ? undefined : compiled };
}

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** A viewer limited to some namespaces may see fewer calls than a page: read more, this many times over at most. */
const MAX_VISIBILITY_OVERFETCH = 16;

async function visible<T extends { src: { namespace?: string }; dst: { namespace?: string } }>(viewer: Viewer, items: T[]): Promise<T[]> {
  if (viewer.all) return items;
  await viewer.prepare(items.flatMap((r) => [r.src.namespace, r.dst.namespace]));
  return items.filter((r) => viewer.sees(r.src.namespace, r.dst.namespace));
}

/** Routes (as registered) that serve call data or act for a viewer: everything under /api/, and MCP. */
export function needsAuthentication(route: string): boolean {
  return route.startsWith('/api/') || route === MCP_PATH;
}

/**
 * A request Node's HTTP parser refused (headers over 16 KiB — a long filter in the URL —, a
 * timeout, bytes that are not HTTP), answered in the API's error shape before the connection closes.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request line and headers are over 16 KiB: a filter that long must be shortened (percent-encoding makes quotes, & and | three characters each)']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request did not arrive in time']
        : [400, 'Bad Request', 'the request is not valid HTTP (a URL must be ASCII: percent-encode other characters)'];
  const body = JSON.stringify({ error: { code: COL_ERR_BAD_QUERY, message } });
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  socket.destroy(err);
}

/** The calls the retry rules cover: what the offenders ranking reads. */
const OFFENDER_FILTER = 'http || http2 || grpc';

export function buildHttpApp(deps: HttpAppDeps): FastifyInstance {
  const { store, metrics, log, hub, access } = deps;
  const sessions = deps.sessions ?? createSessionStore();
  const now = deps.now ?? nowNs;
  const windowNs = BigInt(deps.servicemapWindowMs ?? DEFAULT_SERVICEMAP_WINDOW_MS) * 1_000_000n;
  const app = Fastify({
    logger: false,
    // What the router refuses before any route runs answers in the API's error shape too.
    frameworkErrors: (error, _request, reply) => {
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, 414, COL_ERR_BAD_QUERY, 'a part of the path is longer than the 100 characters an id or trace id can be');
      if (error.code === 'FST_ERR_BAD_URL') return sendError(reply, 400, COL_ERR_BAD_QUERY, 'the path is not valid URL encoding (each % must start a UTF-8 byte as two hex digits)');
      return sendError(reply, 400, COL_ERR_BAD_QUERY, error.message);
    },
    clientErrorHandler: answerClientError,
  });
  const viewers = new WeakMap<object, Viewer>();
  /** How each request was authenticated, for the streams that must stay held to it. */
  const credentials = new WeakMap<object, StreamCredential>();
  const streamAccess = createStreamAccessGuard({ access, sessionToken: (id) => sessions.token(id), log, ...(deps.streamRecheckMs !== undefined ? { recheckMs: deps.streamRecheckMs } : {}) });
  const viewerOf = (request: object): Viewer => {
    const v = viewers.get(request);
    if (v === undefined) throw new Error('no viewer: the route is not behind authentication');
    return v;
  };

  app.addHook('onRequest', async (request, reply) => {
    if (deps.bindHost !== undefined && !hostAllowed(deps.bindHost, request.headers.host)) {
      return sendError(reply, 403, COL_ERR_HOST, `the API is bound to ${deps.bindHost} and serves only loopback names in the Host header, got ${JSON.stringify(request.headers.host ?? '')}`);
    }
    // Decided on the route the router matched, not on the URL as sent: the router decodes the
    // path (`/%61pi/calls` is `/api/calls`), so a check of the raw URL could be walked around.
    // An unmatched request (undefined) reaches only the not-found answer.
    const route = request.routeOptions.url;
    if (route === undefined || !needsAuthentication(route)) return undefined;
    // MCP clients send a bearer token; the dashboard's session cookie does not open /mcp.
    const bearerToken = bearer(request.headers.authorization);
    const sessionId = bearerToken === undefined && route !== MCP_PATH ? readCookie(request.headers.cookie, SESSION_COOKIE) : undefined;
    const token = bearerToken ?? (sessionId === undefined ? undefined : sessions.token(sessionId));
    const result = await access.authenticate(token, request.headers.authorization);
    if (!result.ok) {
      metrics.authFailures.inc({ status: String(result.status) });
      return sendError(reply.header('www-authenticate', 'Bearer realm="meshtap"'), result.status, result.status === 401 ? COL_ERR_UNAUTHENTICATED : COL_ERR_AUTH_UNAVAILABLE, result.message);
    }
    viewers.set(request, result.viewer);
    credentials.set(request, sessionId !== undefined && token !== undefined ? { sessionId } : { token });
    return undefined;
  });

  // After authentication: a query a route does not take is refused before the route runs.
  app.addHook('preValidation', async (request, reply) => {
    const route = request.routeOptions.url;
    const problem = route === undefined ? undefined : (encodingProblem(request.url) ?? queryProblem(route, request.query as Record<string, unknown>));
    return problem === undefined ? undefined : sendError(reply, 400, COL_ERR_BAD_QUERY, problem);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  // The dashboard trades its token (from the login link's fragment) for an HttpOnly cookie.
  app.post('/api/session', async (request, reply) => {
    const token = bearer(request.headers.authorization);
    if (token === undefined) return sendError(reply, 400, COL_ERR_BAD_QUERY, 'send the token as "Authorization: Bearer <token>" to open a session');
    const { id, maxAgeSeconds } = sessions.create(token);
    return reply.header('set-cookie', sessionCookie(id, maxAgeSeconds)).send({ viewer: viewerOf(request).name });
  });
  // `auth` and `session` tell the dashboard whether it has anything to sign out of: not with
  // `--auth none` (no token is needed), nor when a bearer token came instead of the session
  // cookie (a proxy in front adds the user's credentials to every request).
  app.get('/api/session', async (request) => {
    const viewer = viewerOf(request);
    const credential = credentials.get(request);
    return { viewer: viewer.name, all: viewer.all, auth: access.mode, session: credential !== undefined && 'sessionId' in credential };
  });
  app.delete('/api/session', async (request, reply) => {
    const id = readCookie(request.headers.cookie, SESSION_COOKIE);
    sessions.remove(id);
    // Signing out ends the live streams the session opened, not only its later requests.
    if (id !== undefined) streamAccess.endSession(id);
    return reply.header('set-cookie', clearedSessionCookie()).send({ ok: true });
  });
  registerDashboard(app);
  registerMcpRoute(app, { now });
  app.addHook('onClose', async () => streamAccess.stop());

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  /** A list's `since` and `until`, read against one clock reading. */
  function timeWindow(query: Record<string, unknown>): QueryResult<TimeWindow> {
    const at = now();
    const since = parseSince(query.since, at);
    if (!since.ok) return since;
    const until = parseUntil(query.until, at, since.value);
    if (!until.ok) return until;
    return { ok: true, value: { since: since.value, until: until.value } };
  }

  /** Newest first: at most `want` records the query matches that the viewer may see. */
  async function listVisible(viewer: Viewer, want: number, window: TimeWindow, filter: CompiledFilter | undefined, stats: ListStats): Promise<CallRecord[]> {
    let records = await store.list({ limit: want, ...window, filter, stats });
    if (viewer.all) return records;
    // The store pages by time, not by namespace: read more until a page of visible calls or the end.
    let fetchLimit = want;
    let shown: CallRecord[] = await visible(viewer, records);
    while (shown.length < want && records.length === fetchLimit && !stats.truncated && fetchLimit < want * MAX_VISIBILITY_OVERFETCH) {
      fetchLimit *= 4;
      records = await store.list({ limit: fetchLimit, ...window, filter, stats });
      shown = await visible(viewer, records);
    }
    return shown.slice(0, want);
  }

  /** `view=call` and `/api/har`: the newest `limit` calls with a matching observation, the other one looked up by its id. */
  async function listJoined(viewer: Viewer, limit: number, window: TimeWindow, filter: CompiledFilter | undefined, stats: ListStats): Promise<JoinedCall[]> {
    const records = await listVisible(viewer, limit * 2, window, filter, stats);
    return joinWithPartners(records.map(recordToJson), limit, async (id) => {
      const partner = await store.get(id);
      return partner !== undefined && (await visible(viewer, [partner])).length > 0 ? recordToJson(partner) : undefined;
    });
  }

  app.get('/api/calls', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const view = query.view === undefined ? 'record' : paramText(query.view);
    if (view !== 'record' && view !== 'call') return sendError(reply, 400, COL_ERR_BAD_QUERY, `view must be record or call, got ${JSON.stringify(view)}`);
    const limit = parseLimit(query.limit);
    if (!limit.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, limit.message);
    const window = timeWindow(query);
    if (!window.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, window.message);
    const filter = parseFilter(query.filter, reply);
    if (!filter.ok) return filter.reply;
    const viewer = viewerOf(request);
    // One compiled filter per request: its budget is the request's evaluation budget.
    const stats: ListStats = { scanned: 0, truncated: false };
    let records: CallRecord[];
    try {
      if (view === 'call') {
        const calls = await listJoined(viewer, limit.value, window.value, filter.filter, stats);
        return { calls, ...(stats.truncated ? { truncated: true, scanned: stats.scanned } : {}) };
      }
      records = await listVisible(viewer, limit.value, window.value, filter.filter, stats);
    } catch (err) {
      if (!isMeshtapError(err, COL_ERR_FILTER_BUDGET)) throw err;
      metrics.filterBudgetExceeded.inc({ where: 'list' });
      return sendError(reply, 400, COL_ERR_FILTER_BUDGET, err.message);
    }
    // The row budget (the store's scan limit) was spent before a full page: say so, with what was found.
    return { calls: records.map(recordToJson), ...(stats.truncated ? { truncated: true, scanned: stats.scanned } : {}) };
  });

  // HAR 1.2 of the HTTP-family calls (one entry per call, the client's observation first), as a download.
  app.get('/api/har', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const limit = parseLimit(query.limit);
    if (!limit.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, limit.message);
    const window = timeWindow(query);
    if (!window.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, window.message);
    // The user's filter alone first, so that an error points into their own text.
    const own = parseFilter(query.filter, reply);
    if (!own.ok) return own.reply;
    const filter = parseFilter(own.filter === undefined ? HAR_FILTER : `(${HAR_FILTER}) && (\n${paramText(query.filter)}\n)`, reply);
    if (!filter.ok) return filter.reply;
    const stats: ListStats = { scanned: 0, truncated: false };
    let calls: JoinedCall[];
    try {
      calls = await listJoined(viewerOf(request), limit.value, window.value, filter.filter, stats);
    } catch (err) {
      if (!isMeshtapError(err, COL_ERR_FILTER_BUDGET)) throw err;
      metrics.filterBudgetExceeded.inc({ where: 'list' });
      return sendError(reply, 400, COL_ERR_FILTER_BUDGET, err.message);
    }
    // The calls of other protocols the same filter and window hold, counted for `log.comment`:
    // when the limit cut the entries, only those since the oldest entry's start.
    const otherFilter = parseFilter(own.filter === undefined ? NOT_HAR_FILTER : `(${NOT_HAR_FILTER}) && (\n${paramText(query.filter)}\n)`, reply);
    if (!otherFilter.ok) return otherFilter.reply;
    let since = window.value.since;
    if (calls.length >= limit.value) {
      let oldest: bigint | undefined;
      for (const call of calls) {
        const start = BigInt((call.client ?? call.server)!.start);
        if (oldest === undefined || start < oldest) oldest = start;
      }
      if (oldest !== undefined && (since === undefined || oldest > since)) since = oldest;
    }
    const otherStats: ListStats = { scanned: 0, truncated: false };
    let others: JoinedCall[];
    try {
      others = await listJoined(viewerOf(request), limit.value, { ...window.value, since }, otherFilter.filter, otherStats);
    } catch (err) {
      if (!isMeshtapError(err, COL_ERR_FILTER_BUDGET)) throw err;
      metrics.filterBudgetExceeded.inc({ where: 'list' });
      return sendError(reply, 400, COL_ERR_FILTER_BUDGET, err.message);
    }
    const leftOut = new Map<string, number>();
    for (const call of others) leftOut.set(call.protocol, (leftOut.get(call.protocol) ?? 0) + 1);
    const har = buildHar(calls, harCreator(), { leftOut, leftOutAtLeast: others.length >= limit.value || otherStats.truncated });
    const notes = [har.log.comment, stats.truncated ? `the search stopped after examining ${stats.scanned} records: older matching calls may exist` : undefined].filter((n): n is string => n !== undefined);
    if (notes.length > 0) har.log.comment = notes.join('; ');
    return reply.type('application/json').header('content-disposition', 'attachment; filename="meshtap.har"').send(har);
  });

  // A record id answers its record; a call id (as view=call gives it) the joined call, found from its records.
  app.get('/api/calls/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const query = request.query as Record<string, unknown>;
    const view = query.view === undefined ? undefined : paramText(query.view);
    if (view !== undefined && view !== 'record' && view !== 'call') return sendError(reply, 400, COL_ERR_BAD_QUERY, `view must be record or call, got ${JSON.stringify(view)}`);
    const viewer = viewerOf(request);
    // A record the viewer may not see does not exist for them.
    const lookup = async (recordId: string): Promise<CallRecordJson | undefined> => {
      const record = await store.get(recordId);
      return record !== undefined && (await visible(viewer, [record])).length > 0 ? recordToJson(record) : undefined;
    };
    const record = await lookup(id);
    if (record !== undefined) return { call: view === 'call' ? await callOfRecord(record, lookup) : record };
    const parts = parseCallId(id);
    if (parts === undefined) return sendError(reply, 404, COL_ERR_NOT_FOUND, unknownIdMessage(id));
    if (view === 'record') return sendError(reply, 400, COL_ERR_BAD_QUERY, callIdAsRecordMessage(id, parts));
    const call = await findCall(id, parts, lookup);
    if (call === undefined) return sendError(reply, 404, COL_ERR_NOT_FOUND, missingCallMessage(id, parts));
    return { call };
  });

  if (hub !== undefined) {
    app.get('/api/stream', async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      // A stream filter runs on every new record for as long as the client stays: a smaller budget, per tick.
      const filter = parseFilter(query.filter, reply, STREAM_TICK_LIMITS);
      if (!filter.ok) return filter.reply;
      // HEAD: the stream's headers, and no stream (nothing would ever be sent on it).
      if (request.method === 'HEAD') return reply.code(200).type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache, no-transform').send();
      const refuseFull = (): FastifyReply => {
        metrics.streamClientsRefused.inc();
        const message = `the collector already serves its maximum of ${hub.clients().length} live stream clients (--max-stream-clients); retry later`;
        return sendError(reply.header('retry-after', '10'), 503, COL_ERR_STREAM_FULL, message);
      };
      if (hub.full()) return refuseFull();
      const viewer = viewerOf(request);
      let streamFilter = filter.filter;
      if (!viewer.all) {
        // Decisions for the namespaces seen lately are settled now; a namespace first seen
        // later is asked about on its first call, which the viewer then misses (once per cache period).
        const recent = await store.summaries({ since: now() - windowNs, limit: 10_000 });
        await viewer.prepare(recent.flatMap((c) => [c.src.namespace, c.dst.namespace]));
        const inner = filter.filter;
        const base = inner ?? compileAll();
        streamFilter = {
          ...base,
          matches(record: CallRecord): boolean {
            if (!viewer.sees(record.src.namespace, record.dst.namespace)) {
              void viewer.prepare([record.src.namespace, record.dst.namespace]);
              return false;
            }
            return inner === undefined || inner.matches(record);
          },
        };
      }
      // Checked again: other streams may have opened while this one awaited its viewer's decisions.
      if (hub.full()) return refuseFull();
      reply.hijack();
      const client = hub.attach(reply.raw, streamFilter);
      streamAccess.track(client, credentials.get(request) ?? { token: undefined }, reply.raw);
      return reply;
    });
    // Open streams never end by themselves: end them so closing the server does not wait on them.
    app.addHook('preClose', async () => hub.close());
  }

  /**
   * Where the records behind a window's rates start: the oldest read when the read was cut (the
   * newest were read), else the oldest the store holds (a collector up for less than the window,
   * or whose store keeps less than it). Before that the window is unknown, not quiet.
   */
  async function dataSince(read: readonly { start: bigint }[], truncated: boolean): Promise<bigint | undefined> {
    if (truncated) {
      let oldest: bigint | undefined;
      for (const c of read) if (oldest === undefined || c.start < oldest) oldest = c.start;
      return oldest;
    }
    return store.oldestStart?.();
  }

  /**
   * The window of the aggregate views (service map, offenders, coverage): `since` up to `until`
   * (exclusive, at most now), by default the last `windowNs` before `until` or now.
   */
  function windowOf(query: Record<string, unknown>): QueryResult<{ from: bigint; until: bigint }> {
    const at = now();
    const since = parseSince(query.since, at);
    if (!since.ok) return since;
    const upTo = parseUntil(query.until, at, since.value);
    if (!upTo.ok) return upTo;
    const until = upTo.value === undefined || upTo.value > at ? at : upTo.value;
    const from = since.value ?? until - windowNs;
    if (from >= until) return { ok: false, message: 'since must be in the past' };
    return { ok: true, value: { from, until } };
  }

  app.get('/api/servicemap', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const window = windowOf(query);
    if (!window.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, window.message);
    const { from, until } = window.value;
    const read = await store.summaries({ since: from, until, limit: MAX_SERVICEMAP_RECORDS });
    const truncated = read.length >= MAX_SERVICEMAP_RECORDS;
    const calls = await visible(viewerOf(request), read);
    const map = buildServiceMap(calls, { since: from, until, truncated, ratesSince: await dataSince(read, truncated) });
    return { ...map, since: map.since.toString(), until: map.until.toString(), ...(map.rates_since !== undefined ? { rates_since: map.rates_since.toString() } : {}) };
  });

  // Clients and edges ranked by retry, timeout and 429 rates over a window (collector/offenders.ts).
  app.get('/api/offenders', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const window = windowOf(query);
    if (!window.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, window.message);
    const { from, until } = window.value;
    const rows = parseLimit(query.limit, MAX_OFFENDER_ROWS, DEFAULT_OFFENDER_ROWS);
    if (!rows.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, rows.message);
    const by = query.by === undefined ? 'score' : paramText(query.by);
    if (by !== 'score' && !(RANKED_KINDS as readonly string[]).includes(by)) {
      return sendError(reply, 400, COL_ERR_BAD_QUERY, `by must be one of score, ${RANKED_KINDS.join(', ')}, got ${JSON.stringify(by)}`);
    }
    const stats: ListStats = { scanned: 0, truncated: false };
    // Compiled per request: a compiled filter's evaluation budget is one request's.
    const filter = compileFilter(OFFENDER_FILTER);
    if (isFilterError(filter)) throw new Error(filter.message);
    const records = await listVisible(viewerOf(request), MAX_OFFENDER_RECORDS, { since: from, until }, filter, stats);
    const result = buildOffenders(records, { limit: rows.value, by: by as RankedKind | 'score' });
    return {
      since: from.toString(),
      until: until.toString(),
      ...result,
      ...(records.length >= MAX_OFFENDER_RECORDS || stats.truncated ? { truncated: true } : {}),
    };
  });

  // What meshtap can see over the window (same window rules as the service map).
  app.get('/api/coverage', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const window = windowOf(query);
    if (!window.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, window.message);
    const { from, until } = window.value;
    const calls = await visible(viewerOf(request), await store.summaries({ since: from, until, limit: MAX_SERVICEMAP_RECORDS }));
    const coverage = buildCoverage(calls, {
      since: from,
      until,
      truncated: calls.length >= MAX_SERVICEMAP_RECORDS,
      collector: await collectorDrops(metrics),
      ...(deps.coverageExclusions !== undefined ? { exclusions: deps.coverageExclusions } : {}),
    });
    return { ...coverage, since: coverage.since.toString(), until: coverage.until.toString() };
  });

  app.get('/api/traces/:traceId', async (request, reply) => {
    const { traceId: asked } = request.params as { traceId: string };
    // Stored trace ids are lower-case hex: an id of 32 hex digits in any case is that id.
    const askedId = /^[0-9a-f]{32}$/i.test(asked) ? asked.toLowerCase() : asked;
    let traceId = askedId;
    let records = await visible(viewerOf(request), await store.byTrace(traceId));
    // A trace joined into another since (an app's own id, a hop's derived one): the flow it is part of.
    const joined = records.length === 0 ? deps.resolveTrace?.(traceId) : undefined;
    if (joined !== undefined && joined !== traceId) {
      records = await visible(viewerOf(request), await store.byTrace(joined));
      traceId = joined;
    }
    if (records.length === 0) {
      const shape = /^[0-9a-f]{32}$/.test(askedId) ? '' : ' (a trace id is 32 lower-case hexadecimal digits, as in a traceparent header and the trace_id of a call)';
      return sendError(reply, 404, COL_ERR_NOT_FOUND, `no calls in trace ${JSON.stringify(askedId)}${shape}`);
    }
    const entries = buildTrace(records);
    return {
      trace_id: traceId,
      calls: entries.map((e) => ({
        call: recordToJson(e.record),
        depth: e.depth,
        ...(e.parentId !== undefined ? { parent_id: e.parentId } : {}),
        ...(e.linkedBy !== undefined ? { linked_by: e.linkedBy } : {}),
        ...(e.linkConfidence !== undefined ? { link_confidence: e.linkConfidence } : {}),
      })),
    };
  });

  app.setNotFoundHandler((request, reply) => sendError(reply, 404, COL_ERR_NOT_FOUND, `no route ${request.method} ${request.url.split('?')[0]}`));

  app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ url: request.url, detail: err.message }, 'http handler failed');
    return sendError(reply, status, status === 500 ? COL_ERR_INTERNAL : COL_ERR_BAD_QUERY, status === 500 ? 'internal error' : err.message);
  });

  return app;
}
