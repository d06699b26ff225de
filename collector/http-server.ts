/**
 * The collector's HTTP API (fastify): records as JSON, health and metrics.
 * Errors are always `{ "error": { "code": "COL_ERR_...", "message": "..." } }`.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { CollectorMetrics } from './metrics.ts';
import type { RecordStore } from './record-store.ts';
import { recordToJson } from './record-json.ts';
import { COL_ERR_BAD_QUERY, COL_ERR_FILTER_UNSUPPORTED, COL_ERR_INTERNAL, COL_ERR_NOT_FOUND } from './errors.ts';
import type { Logger } from './log.ts';

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

export interface HttpAppDeps {
  store: RecordStore;
  metrics: CollectorMetrics;
  log: Logger;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

type QueryResult<T> = { ok: true; value: T } | { ok: false; message: string };

export function parseLimit(raw: unknown): QueryResult<number> {
  if (raw === undefined) return { ok: true, value: DEFAULT_LIST_LIMIT };
  const text = Array.isArray(raw) ? raw.join(',') : String(raw);
  if (!/^\d{1,7}$/.test(text) || Number(text) < 1 || Number(text) > MAX_LIST_LIMIT) {
    return { ok: false, message: `limit must be an integer from 1 to ${MAX_LIST_LIMIT}, got ${JSON.stringify(text)}` };
  }
  return { ok: true, value: Number(text) };
}

/** `since`: ns since the epoch as digits, or an RFC 3339 / ISO 8601 timestamp. */
export function parseSince(raw: unknown): QueryResult<bigint | undefined> {
  if (raw === undefined) return { ok: true, value: undefined };
  const text = Array.isArray(raw) ? raw.join(',') : String(raw);
  if (/^\d{1,19}$/.test(text)) return { ok: true, value: BigInt(text) };
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) {
    return { ok: false, message: `since must be nanoseconds since the epoch or an RFC 3339 timestamp, got ${JSON.stringify(text)}` };
  }
  return { ok: true, value: BigInt(ms) * 1_000_000n };
}

export function buildHttpApp(deps: HttpAppDeps): FastifyInstance {
  const { store, metrics, log } = deps;
  const app = Fastify({ logger: false });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  app.get('/api/calls', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    if (query.filter !== undefined) {
      return sendError(reply, 501, COL_ERR_FILTER_UNSUPPORTED, 'filter is not supported by this collector yet; omit it to list all calls');
    }
    const limit = parseLimit(query.limit);
    if (!limit.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, limit.message);
    const since = parseSince(query.since);
    if (!since.ok) return sendError(reply, 400, COL_ERR_BAD_QUERY, since.message);
    const records = await store.list({ limit: limit.value, since: since.value });
    return { calls: records.map(recordToJson) };
  });

  app.get('/api/calls/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const record = await store.get(id);
    if (!record) return sendError(reply, 404, COL_ERR_NOT_FOUND, `no call with id ${JSON.stringify(id)}`);
    return { call: recordToJson(record) };
  });

  app.setNotFoundHandler((request, reply) => sendError(reply, 404, COL_ERR_NOT_FOUND, `no route ${request.method} ${request.url.split('?')[0]}`));

  app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log('error', 'http handler failed', { url: request.url, detail: err.message });
    return sendError(reply, status, status === 500 ? COL_ERR_INTERNAL : COL_ERR_BAD_QUERY, status === 500 ? 'internal error' : err.message);
  });

  return app;
}
