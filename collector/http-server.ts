/**
 * The collector's HTTP API (fastify): records as JSON, the live stream (SSE), the service map,
 * traces, health and metrics. Errors are always `{ "error": { "code": "COL_ERR_...", "message": "..." } }`
 * (a filter error adds `position`).
 */
import { registerDashboard } from './dashboard/routes.ts';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { CompiledFilter } from './filter/compile.ts';
import { compileFilter } from './filter/compile.ts';
import type { FilterPosition } from './filter/errors.ts';
import { isFilterError } from './filter/errors.ts';
import type { CollectorMetrics } from './metrics.ts';
import type { RecordStore } from './record-store.ts';
import { recordToJson } from '../record/record-json.ts';
import { buildServiceMap } from './servicemap.ts';
import type { StreamHub } from './stream.ts';
import { buildTrace } from './traces.ts';
import { COL_ERR_BAD_QUERY, COL_ERR_INTERNAL, COL_ERR_NOT_FOUND } from './errors.ts';
import type { Logger } from '../lib/log.ts';

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
export const DEFAULT_SERVICEMAP_WINDOW_MS = 15 * 60_000;
/** Most records one service map reads (the newest of its window). */
export const MAX_SERVICEMAP_RECORDS = 500_000;

export interface HttpAppDeps {
  store: RecordStore;
  metrics: CollectorMetrics;
  log: Logger;
  /** The live stream; without it `/api/stream` answers 404. */
  hub?: StreamHub;
  servicemapWindowMs?: number;
  /** ns since the epoch; injected by tests. */
  now?: () => bigint;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string, position?: FilterPosition): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send({ error: { code, message, ...(position !== undefined ? { position } : {}) } });
}

type QueryResult<T> = { ok: true; value: T } | { ok: false; message: string };

function single(raw: unknown): string {
  return Array.isArray(raw) ? raw.join(',') : String(raw);
}

export function parseLimit(raw: unknown): QueryResult<number> {
  if (raw === undefined) return { ok: true, value: DEFAULT_LIST_LIMIT };
  const text = single(raw);
  if (!/^\d{1,7}$/.test(text) || Number(text) < 1 || Number(text) > MAX_LIST_LIMIT) {
    return { ok: false, message: `limit must be an integer from 1 to ${MAX_LIST_LIMIT}, got ${JSON.stringify(text)}` };
  }
  return { ok: true, value: Number(text) };
}

const UNIT_NS: Record<string, bigint> = {
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
};

/**
 * `since`: nanoseconds since the epoch (digits), an RFC 3339 timestamp
 * (`2025-11-27T10:00:00Z`, `…+01:00`, fractions to the nanosecond), or a duration back from
 * now (`500ms`, `30s`, `5m`, `2h`, `1d`).
 */
export function parseSince(raw: unknown, now: bigint): QueryResult<bigint | undefined> {
  if (raw === undefined) return { ok: true, value: undefined };
  const text = single(raw);
  if (/^\d{1,19}$/.test(text)) return { ok: true, value: BigInt(text) };
  const relative = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text);
  if (relative) return { ok: true, value: now - BigInt(relative[1]) * UNIT_NS[relative[2]] };
  const rfc = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(text);
  const ms = rfc ? Date.parse(`${rfc[1]}${rfc[3].toUpperCase()}`) : NaN;
  if (!rfc || Number.isNaN(ms)) {
    return {
      ok: false,
      message: `since must be nanoseconds since the epoch, an RFC 3339 timestamp or a duration like 5m (ms, s, m, h, d), got ${JSON.stringify(text)}`,
    };
  }
  const fraction = BigInt((rfc[2] ?? '').padEnd(9, '0'));
  return { ok: true, value: BigInt(ms) * 1_000_000n + fraction };
}

type FilterResult = { ok: true; filter: CompiledFilter | undefined } | { ok: false; reply: FastifyReply };

function parseFilter(raw: unknown, reply: FastifyReply): FilterResult {
  if (raw === undefined) return { ok: true, filter: undefined };
  if (Array.isArray(raw)) return { ok: false, reply: sendError(reply, 400, COL_ERR_BAD_QUERY, 'give filter once (combine conditions with && or ||)') };
  const compiled = compileFilter(String(raw));
  if (isFilterError(compiled)) return { ok: false, reply: sendError(reply, 400, compiled.code, compiled.message, compiled.position) };
  return { ok: true, filter: compiled.ast === undefined ? undefined : compiled };
}

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

export function buildHttpApp(deps: HttpAppDeps): FastifyInstance {
  const { store, metrics, log, hub } = deps;
  const now = deps.now ?? nowNs;
  const windowNs = BigInt(deps.servicemapWindowMs ?? DEFAULT_SERVICEMAP_WINDOW_MS) * 1_000_000n;
  const app = Fastify({ logger: false });

  app.get('/healthz', async () => ({ status: 'ok' }));
  registerDashboard(app);

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  app.get('/api/calls', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const limit = parseLimit(query.limit);
    if (!limit.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, limit.message);
    const since = parseSince(query.since, now());
    if (!since.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, since.message);
    const filter = parseFilter(query.filter, reply);
    if (!filter.ok) return filter.reply;
    const records = await store.list({ limit: limit.value, since: since.value, filter: filter.filter });
    return { calls: records.map(recordToJson) };
  });

  app.get('/api/calls/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const record = await store.get(id);
    if (!record) return sendError(reply, 404, COL_ERR_NOT_FOUND, `no call with id ${JSON.stringify(id)}`);
    return { call: recordToJson(record) };
  });

  if (hub !== undefined) {
    app.get('/api/stream', async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const filter = parseFilter(query.filter, reply);
      if (!filter.ok) return filter.reply;
      reply.hijack();
      hub.attach(reply.raw, filter.filter);
      return reply;
    });
    // Open streams never end by themselves: end them so closing the server does not wait on them.
    app.addHook('preClose', async () => hub.close());
  }

  app.get('/api/servicemap', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const until = now();
    const since = parseSince(query.since, until);
    if (!since.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, since.message);
    const from = since.value ?? until - windowNs;
    if (from >= until) return sendError(reply, 400, COL_ERR_BAD_QUERY, 'since must be in the past');
    const calls = await store.summaries({ since: from, limit: MAX_SERVICEMAP_RECORDS });
    const map = buildServiceMap(calls, { since: from, until, truncated: calls.length >= MAX_SERVICEMAP_RECORDS });
    return { ...map, since: map.since.toString(), until: map.until.toString() };
  });

  app.get('/api/traces/:traceId', async (request, reply) => {
    const { traceId } = request.params as { traceId: string };
    const records = await store.byTrace(traceId);
    if (records.length === 0) return sendError(reply, 404, COL_ERR_NOT_FOUND, `no calls in trace ${JSON.stringify(traceId)}`);
    const entries = buildTrace(records);
    return {
      trace_id: traceId,
      calls: entries.map((e) => ({ call: recordToJson(e.record), depth: e.depth, ...(e.parentId !== undefined ? { parent_id: e.parentId } : {}) })),
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
