/**
 * The MCP tools, over a `CollectorApi`: the same definitions serve `meshtap mcp` (stdio, the
 * API over HTTP) and the collector's `/mcp` (the API in-process, with the caller's token).
 * Outputs are compact JSON, bounded in size; a problem (a filter the collector rejects, no
 * credentials, an unknown id) is a tool error (`isError`) with the collector's message.
 */
import { z } from 'zod';
import type { CallRecordJson } from '../../record/record-json.ts';
import type { ApiAnswer, CollectorApi } from './api-client.ts';
import type { JoinedCall } from '../calls/join.ts';
import { SUB_WINDOWS, subWindows, weighWindow, type SubWindowRead, type WindowSample } from './window-sample.ts';
import { briefCall, briefJoinedCall, clipText, compareWindows, edgeSummaries, isoTime, onePerCall, parseInstant, rfc3339Ns, withoutUndefined, type CallBrief, type JoinedCallBrief } from './summaries.ts';

export interface ToolResult {
  [key: string]: unknown;
  content: { type: 'text'; text: string }[];
  isError?: boolean;
}

export interface ToolContext {
  api: CollectorApi;
  /** ns since the epoch. */
  now: () => bigint;
}

export interface McpTool {
  name: string;
  title: string;
  description: string;
  inputSchema: z.ZodRawShape;
  call(args: unknown, ctx: ToolContext): Promise<ToolResult>;
}

/** Most records the API returns in one answer. */
const API_PAGE = 1000;

function defineTool<S extends z.ZodRawShape>(def: {
  name: string;
  title: string;
  description: string;
  inputSchema: S;
  run(args: z.output<z.ZodObject<S>>, ctx: ToolContext): Promise<ToolResult>;
}): McpTool {
  const schema = z.object(def.inputSchema);
  return {
    name: def.name,
    title: def.title,
    description: def.description,
    inputSchema: def.inputSchema,
    async call(args, ctx) {
      const parsed = schema.safeParse(args ?? {});
      if (!parsed.success) return fail(`invalid arguments: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}`);
      return def.run(parsed.data, ctx);
    },
  };
}

export function ok(value: unknown): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }] };
}

export function fail(message: string): ToolResult {
  return { content: [{ type: 'text', text: `Error: ${message}` }], isError: true };
}

interface ApiError {
  code?: string;
  message?: string;
  position?: { offset: number; line: number; column: number };
}

function apiError(answer: ApiAnswer): ApiError | undefined {
  const error = (answer.body as { error?: ApiError } | undefined)?.error;
  return typeof error === 'object' && error !== null ? error : undefined;
}

/** A caret under the position the collector named in the filter. */
function caret(filter: string, position: ApiError['position']): string {
  if (position === undefined) return '';
  const line = filter.split('\n')[position.line - 1];
  if (line === undefined) return '';
  return `\n  ${line}\n  ${' '.repeat(Math.max(0, position.column - 1))}^`;
}

/** The tool error for an answer that is not a 200, in the collector's words. */
export function answerProblem(answer: ApiAnswer, filter?: string): ToolResult {
  if (answer.status === 0) return fail(answer.problem ?? 'the collector could not be reached');
  const error = apiError(answer);
  const said = error?.message ?? answer.problem ?? 'no message';
  const code = error?.code !== undefined ? ` (${error.code})` : '';
  if (answer.status === 400 && error?.code?.startsWith('COL_ERR_FILTER_') === true) {
    return fail(`the collector rejected the filter${code}: ${said}${filter !== undefined ? caret(filter, error.position) : ''}\nFix the CEL filter (see the search_calls description for its variables) and call again.`);
  }
  if (answer.status === 400) return fail(`the collector rejected the request${code}: ${said}`);
  if (answer.status === 401 || answer.status === 403) {
    return fail(`the collector refused the request (${answer.status}${code}): ${said}. meshtap mcp takes --token or MESHTAP_COLLECTOR_TOKEN; /mcp takes "Authorization: Bearer <token>".`);
  }
  if (answer.status === 404) return fail(said);
  return fail(`the collector answered ${answer.status}${code}: ${said}`);
}

type Calls = { calls: CallRecordJson[]; truncated?: boolean; scanned?: number };

/** The user's filter and our own conditions as one CEL expression (the user's text kept on its own lines, so its positions stay readable). */
export function combineFilter(user: string | undefined, ...clauses: string[]): string | undefined {
  const parts = [...(user !== undefined && user.trim() !== '' ? [`(\n${user}\n)`] : []), ...clauses];
  return parts.length === 0 ? undefined : parts.join(' && ');
}

interface Collected {
  records: CallRecordJson[];
  /** `max` calls were read: more may match. */
  capped: boolean;
  /** The collector's row budget ran out before a full page. */
  scanLimited: boolean;
}

/**
 * Up to `max` matching calls, newest first, in pages of the API's maximum: each next page asks
 * for calls that started no later than the earliest one seen (the store pages by arrival, so
 * this is close to, not exactly, "the next older calls"; ids already seen are skipped).
 */
async function collectCalls(
  ctx: ToolContext,
  options: { filter: string | undefined; since?: string; untilNs?: bigint; max: number },
): Promise<{ ok: true; value: Collected } | { ok: false; result: ToolResult }> {
  const seen = new Set<string>();
  const records: CallRecordJson[] = [];
  let upper: string | undefined = options.untilNs !== undefined ? `start < timestamp("${rfc3339Ns(options.untilNs)}")` : undefined;
  let scanLimited = false;
  let capped = false;
  for (let page = 0; records.length < options.max; page++) {
    // One more than wanted tells whether more match; later pages overlap the earliest instant already read: whole pages.
    const limit = page === 0 ? Math.min(API_PAGE, options.max + 1) : API_PAGE;
    const filter = combineFilter(options.filter, ...(upper !== undefined ? [upper] : []));
    const answer = await ctx.api.get('/api/calls', { filter, limit, since: options.since });
    if (answer.status !== 200) {
      // Our own clauses are known good: a rejected filter is the user's, told against their own text.
      if (answer.status === 400 && options.filter !== undefined && filter !== options.filter) {
        const alone = await ctx.api.get('/api/calls', { filter: options.filter, limit: 1, since: options.since });
        if (alone.status !== 200) return { ok: false, result: answerProblem(alone, options.filter) };
      }
      return { ok: false, result: answerProblem(answer, options.filter) };
    }
    const body = answer.body as Calls;
    if (body.truncated === true) scanLimited = true;
    let fresh = 0;
    let earliest: bigint | undefined;
    for (const r of body.calls) {
      const start = BigInt(r.start);
      if (earliest === undefined || start < earliest) earliest = start;
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      fresh++;
      if (records.length < options.max) records.push(r);
      else capped = true;
    }
    if (body.calls.length < limit || fresh === 0 || earliest === undefined || scanLimited) break;
    if (records.length >= options.max) {
      capped = true;
      break;
    }
    upper = `start <= timestamp("${rfc3339Ns(earliest)}")`;
  }
  return { ok: true, value: { records, capped, scanLimited } };
}

function spanOf(records: readonly CallRecordJson[]): { oldest: string; newest: string } | undefined {
  if (records.length === 0) return undefined;
  let lo = BigInt(records[0].start);
  let hi = lo;
  for (const r of records) {
    const s = BigInt(r.start);
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  return { oldest: isoTime(lo), newest: isoTime(hi) };
}

const CEL_HELP = `CEL over one call record. Variables: protocol booleans http, http2, grpc, ws, redis, postgres, mysql, tcp; method, path (with query string), authority, status_code (int), grpc_status (int), grpc_message, error ("reset", "timeout", "client_timeout", "unpaired", "closed", "upstream_unreachable", "server_error", …), error_detail, attempt (int), retry (attempt > 1), retry_after_honoured (bool, on retries after a 429/503 with Retry-After), client_timeout (error == "client_timeout"), elapsed_us (int, microseconds), start/end (timestamps), trace_id, observer ("outbound" = caller's sidecar, "inbound" = callee's), src/dst endpoints {namespace, workload, pod, service, ip, port, node, labels}, request/response {headers (lower-case map), body (string), body_size, truncated}. Absent fields never match (status_code >= 500 is false for TCP). Examples: 'status_code >= 500 && dst.workload == "payment"', 'path.startsWith("/api/orders") && method == "POST"', 'response.body.contains("order-42")', 'grpc && grpc_status != 0', 'error == "timeout"', 'elapsed_us > 1000000', 'src.namespace == "shop" && start > timestamp("2025-11-24T16:00:00Z")', 'true' for everything.`;

const filterSchema = (what: string) => z.string().max(8192).describe(`CEL filter: ${what}, e.g. 'status_code >= 500 && dst.workload == "payment"' ('true' for all calls; variables in the tool description).`);
const optionalFilter = (what: string) => z.string().max(8192).optional().describe(`Optional CEL filter (same language as search_calls): ${what}. Omit for all calls.`);

const searchCalls = defineTool({
  name: 'search_calls',
  title: 'Search calls',
  description: `Find API calls captured by meshtap (HTTP, gRPC, Redis, SQL, TCP between Kubernetes workloads) with a CEL filter; newest first, one result per call (a meshed call's two observations, the caller's sidecar and the callee's, are joined). Each result: id (pass it to get_call), time, protocol, seen_by ("both", or "client"/"server" when only one sidecar saw it), method, path (full, with query string), status (HTTP code, gRPC NAME(code), or "error"), error, latency_ms (the caller's view), server_ms (the callee's own view; the difference is network and mesh), src and dst (namespace/workload, else pod, else ip:port) with src_pod/dst_pod, attempt (2, 3, … = a retry of a failed call) with first_attempt_id and retry_after_honoured, trace_id. Use get_call with an id for headers and bodies, get_trace with a trace_id for the whole request flow. The filter matches either observation (observer "outbound" = the caller's record, "inbound" = the callee's). Filter language: ${CEL_HELP}`,
  inputSchema: {
    filter: filterSchema('which calls to return'),
    limit: z.number().int().min(1).max(200).default(20).describe('Most calls to return (1–200, default 20).'),
  },
  async run({ filter, limit }, ctx) {
    const answer = await ctx.api.get('/api/calls', { filter, limit, view: 'call' });
    if (answer.status !== 200) return answerProblem(answer, filter);
    const body = answer.body as { calls: JoinedCall[]; truncated?: boolean; scanned?: number };
    const calls = body.calls.map(briefJoinedCall);
    const note =
      body.truncated === true
        ? `the collector stopped after examining ${body.scanned ?? 'many'} stored calls: there may be older matches; narrow the filter (e.g. add a start > timestamp(...) bound)`
        : calls.length === limit
          ? `limit of ${limit} reached: more calls match; narrow the filter or raise limit (max 200)`
          : undefined;
    return ok(withoutUndefined({ count: calls.length, calls, note }));
  },
});

/** Longest header value shown by get_call. */
const MAX_HEADER_CHARS = 1000;

type MessageJson = NonNullable<CallRecordJson['request']>;

function clipMessage(m: MessageJson, maxBody: number, name: string, notes: string[]): MessageJson {
  const clipMap = (map: Record<string, string> | undefined): Record<string, string> | undefined =>
    map === undefined ? undefined : Object.fromEntries(Object.entries(map).map(([k, v]) => [k, clipText(v, MAX_HEADER_CHARS)]));
  const body = m.body;
  let clipped = body;
  if ('text' in body && body.text.length > maxBody) {
    clipped = { text: body.text.slice(0, maxBody) };
    notes.push(`${name}.body: first ${maxBody} of ${body.text.length} characters shown (raise max_body_chars for more)`);
  } else if ('base64' in body && body.base64.length > maxBody) {
    clipped = { base64: body.base64.slice(0, maxBody - (maxBody % 4)) };
    notes.push(`${name}.body: first ${maxBody - (maxBody % 4)} of ${body.base64.length} base64 characters shown (raise max_body_chars for more)`);
  }
  if (m.truncated) notes.push(`${name}.body: the sidecar captured only part of the body (body_size ${m.body_size} bytes on the wire)`);
  return withoutUndefined({ ...m, headers: clipMap(m.headers) ?? {}, trailers: clipMap(m.trailers), body: clipped });
}

/** A record with its bodies and header values cut (each cut named in `notes`, prefixed by `where`). */
function clipRecord(record: CallRecordJson, maxBody: number, notes: string[], where = ''): CallRecordJson {
  const shown: CallRecordJson = { ...record };
  if (record.request) shown.request = clipMessage(record.request, maxBody, `${where}request`, notes);
  if (record.response) shown.response = clipMessage(record.response, maxBody, `${where}response`, notes);
  return shown;
}

const getCall = defineTool({
  name: 'get_call',
  title: 'Get one call in full',
  description:
    'One call by id, in full: timing (ns), both endpoints with Kubernetes identity, TLS, method, path, status, request and response headers and bodies as captured (secrets already masked by the sidecar; masked fields are listed in "redacted"). Takes either kind of id: a record id (what search_calls and get_trace give, e.g. "6b16…-o0": one sidecar\'s observation, "-o" the caller\'s, "-i" the callee\'s) answers that record; a call id ("6b16…:0", as the API\'s view=call gives) answers the joined call, with the caller\'s record under "client" and the callee\'s under "server" (one of them absent when only one sidecar saw it). Bodies are {"text": …} or {"base64": …}, cut to max_body_chars with a note.',
  inputSchema: {
    id: z.string().min(1).max(256).describe('A record id (from search_calls or get_trace, "<connection>-o<n>" or "-i<n>") or a call id ("<connection>:<n>").'),
    max_body_chars: z.number().int().min(0).max(65536).default(4000).describe('Longest request/response body shown, in characters (default 4000, max 65536).'),
  },
  async run({ id, max_body_chars }, ctx) {
    const answer = await ctx.api.get(`/api/calls/${encodeURIComponent(id)}`);
    if (answer.status !== 200) return answerProblem(answer);
    const found = (answer.body as { call: CallRecordJson | JoinedCall }).call;
    const notes: string[] = [];
    let summary: CallBrief | JoinedCallBrief;
    let shown: CallRecordJson | JoinedCall;
    if ('observer' in found) {
      summary = briefCall(found);
      shown = clipRecord(found, max_body_chars, notes);
    } else {
      // A joined call: its short form under the id asked, each observation cut as a record is.
      summary = { ...briefJoinedCall(found), id: found.id };
      shown = { ...found };
      if (found.client) shown.client = clipRecord(found.client, max_body_chars, notes, 'client.');
      if (found.server) shown.server = clipRecord(found.server, max_body_chars, notes, 'server.');
    }
    return ok(withoutUndefined({ summary, call: shown, notes: notes.length > 0 ? notes : undefined }));
  },
});

interface ServiceMapJson {
  since: string;
  until: string;
  edges: { source: string; target: string; protocols: string[]; requests: number; rate_per_s: number; messages?: number; errors: number; error_rate: number; p50_ms: number; p99_ms: number }[];
  truncated: boolean;
}

const serviceMap = defineTool({
  name: 'service_map',
  title: 'Service map',
  description:
    'Who calls whom over a recent window: one edge per caller → callee (workloads as namespace/workload; namespace/pod/NAME, namespace/service/NAME or ip/ADDR when the workload is unknown) with protocols, requests, rate_per_s, messages (WebSocket messages: not calls, not in requests or latencies), errors (5xx, gRPC server failures such as UNAVAILABLE or INTERNAL — not NOT_FOUND or INVALID_ARGUMENT, failed exchanges), error_rate (0–1), p50_ms and p99_ms. Each meshed call counted once. Busiest edges first. Start here to see the topology and where errors or latency are.',
  inputSchema: {
    window: z.string().max(64).optional().describe('How far back: a duration (30s, 15m, 2h, 1d; default 15m) or an RFC 3339 start time (2025-11-24T16:00:00Z).'),
    until: z.string().max(64).optional().describe('End of the window, exclusive (default now): a duration back from now (1h) or an RFC 3339 time, to look at a fixed window in the past (an incident); without window, the 15 minutes before it.'),
    limit: z.number().int().min(1).max(500).default(100).describe('Most edges to return (default 100).'),
  },
  async run({ window, until, limit }, ctx) {
    const answer = await ctx.api.get('/api/servicemap', { since: window, until });
    if (answer.status !== 200) return answerProblem(answer);
    const map = answer.body as ServiceMapJson;
    const edges = [...map.edges].sort((a, b) => b.requests - a.requests || b.errors - a.errors);
    return ok(
      withoutUndefined({
        since: isoTime(map.since),
        until: isoTime(map.until),
        edge_count: edges.length,
        edges: edges.slice(0, limit).map((e) => ({
          edge: `${e.source} → ${e.target}`,
          protocols: e.protocols,
          requests: e.requests,
          rate_per_s: e.rate_per_s,
          messages: e.messages,
          errors: e.errors,
          error_rate: e.error_rate,
          p50_ms: e.p50_ms,
          p99_ms: e.p99_ms,
        })),
        note: [
          edges.length > limit ? `${edges.length - limit} quieter edges left out (raise limit)` : undefined,
          map.truncated ? 'the window held more calls than the collector reads for a map: the newest were used' : undefined,
        ]
          .filter(Boolean)
          .join('; ') || undefined,
      }),
    );
  },
});

/** Most spans get_trace lists. */
const MAX_TRACE_SPANS = 200;

const getTrace = defineTool({
  name: 'get_trace',
  title: 'Get a trace',
  description:
    'The calls of one trace (trace_id from search_calls or get_call), ordered by start: each with id, parent_id, depth (0 = root), offset_ms from the trace start, latency_ms, observer, protocol, method, path, status, src → dst; linked_by "timing" when the parent was found by timing alone (the request its pod was serving when it called out: a guess when the pod served several at once). link_confidence, when present, says the sidecar put the call under its parent by timing alone, as the app sent no trace context: 1 = one inbound request was in flight at that pod, so it is the only candidate (still timing: a call the pod made for something else at that moment, such as a DNS lookup by another process, lands there too); 1/n (0.5, 0.33…) = n requests overlapped and the latest-started was taken: a guess, not evidence that the parent caused the call. Shows how a request fanned out and which hop failed or was slow. At most 200 calls.',
  inputSchema: {
    trace_id: z.string().min(1).max(256).describe('The trace id (32 hex characters for W3C traces; any case).'),
  },
  async run({ trace_id }, ctx) {
    const id = /^[0-9a-f]{32}$/i.test(trace_id) ? trace_id.toLowerCase() : trace_id;
    const answer = await ctx.api.get(`/api/traces/${encodeURIComponent(id)}`);
    if (answer.status !== 200) return answerProblem(answer);
    const trace = answer.body as { trace_id: string; calls: { call: CallRecordJson; parent_id?: string; depth: number; linked_by?: string; link_confidence?: number }[] };
    const first = trace.calls.length > 0 ? BigInt(trace.calls[0].call.start) : 0n;
    const spans = trace.calls.slice(0, MAX_TRACE_SPANS).map((e) => {
      const { trace_id: _omit, time: _time, ...brief } = briefCall(e.call);
      return withoutUndefined({
        depth: e.depth,
        parent_id: e.parent_id,
        linked_by: e.linked_by,
        link_confidence: e.link_confidence ?? e.call.link_confidence,
        offset_ms: Number((BigInt(e.call.start) - first) / 1000n) / 1000,
        ...brief,
      });
    });
    return ok(
      withoutUndefined({
        trace_id: trace.trace_id,
        start: trace.calls.length > 0 ? isoTime(trace.calls[0].call.start) : undefined,
        span_count: trace.calls.length,
        spans,
        note: trace.calls.length > MAX_TRACE_SPANS ? `first ${MAX_TRACE_SPANS} of ${trace.calls.length} calls shown` : undefined,
      }),
    );
  },
});

/** A bound on records read (the name says calls: it was given before the two were told apart, and agents pass it). */
const maxRecords = (dflt: number, what: string) => z.number().int().min(1).max(5000).default(dflt).describe(`Most records read (default ${dflt}, max 5000; a call both sidecars saw is two records): ${what}.`);

const edgeSummary = defineTool({
  name: 'edge_summary',
  title: 'Error and latency per edge',
  description:
    'Error and latency summary per edge (caller → callee, each end named as service_map names it) over the newest call records matching an optional CEL filter and time bound: calls, errors (5xx, gRPC server failures such as UNAVAILABLE or INTERNAL — not NOT_FOUND or INVALID_ARGUMENT, failed exchanges), error_rate (0–1), http_4xx, p50_ms, p99_ms, top_errors [[status, count]…]. Each meshed call counted once (its two sidecars\' records are one call). records_read says how many records were read, calls how many calls they make. Most errors first. Use it to find which dependency fails or is slow; then search_calls on that edge for examples.',
  inputSchema: {
    filter: optionalFilter('which calls to summarise, e.g. \'dst.namespace == "shop"\''),
    since: z.string().max(64).optional().describe('Only calls that started after this: a duration back from now (15m, 2h) or an RFC 3339 time. Default: no bound (the newest max_calls records).'),
    max_calls: maxRecords(1000, 'the newest matching records are summarised'),
  },
  async run({ filter, since, max_calls }, ctx) {
    const got = await collectCalls(ctx, { filter, since, max: max_calls });
    if (!got.ok) return got.result;
    const { records, capped, scanLimited } = got.value;
    const edges = edgeSummaries(records);
    const calls = onePerCall(records).length;
    const notes = [
      capped
        ? `max_calls (${max_calls}) reached: the newest ${max_calls} matching records (${calls} calls: a call both sidecars saw is two records) were summarised, more may match (raise max_calls or narrow filter/since)`
        : undefined,
      scanLimited ? 'the collector stopped scanning before the end: older matches were not read' : undefined,
      edges.length > 100 ? `${edges.length - 100} more edges left out` : undefined,
    ].filter((n): n is string => n !== undefined);
    return ok(withoutUndefined({ records_read: records.length, calls, span: spanOf(records), edges: edges.slice(0, 100), note: notes.length > 0 ? notes.join('; ') : undefined }));
  },
});

interface WindowRead {
  records: CallRecordJson[];
  sample: WindowSample;
  /** Sub-windows, and the most records read from each. */
  parts: number;
  share: number;
}

/** A window read as `SUB_WINDOWS` sub-windows, an equal share of `max` records from each (`window-sample.ts`). */
async function readWindow(ctx: ToolContext, filter: string | undefined, from: bigint, to: bigint, max: number): Promise<{ ok: true; value: WindowRead } | { ok: false; result: ToolResult }> {
  const spans = subWindows(from, to, Math.min(SUB_WINDOWS, max));
  const share = Math.floor(max / spans.length);
  const reads: SubWindowRead[] = [];
  for (const span of spans) {
    const got = await collectCalls(ctx, { filter, since: span.from.toString(), untilNs: span.to, max: share });
    if (!got.ok) return got;
    reads.push({ span, records: got.value.records, whole: !got.value.capped && !got.value.scanLimited });
  }
  return { ok: true, value: { records: reads.flatMap((r) => r.records), sample: weighWindow(reads), parts: spans.length, share } };
}

/** A length of time in words: `250 ms`, `48 s`, `6.5 min`, `2 h`. */
function durationText(ns: bigint): string {
  const ms = Number(ns) / 1e6;
  const one = (n: number): number => Math.round(n * 10) / 10;
  if (ms < 1000) return `${one(ms)} ms`;
  if (ms < 120_000) return `${one(ms / 1000)} s`;
  if (ms < 7_200_000) return `${one(ms / 60_000)} min`;
  return `${one(ms / 3_600_000)} h`;
}

/** A share as a percentage, never rounded to 0 % or 100 % when it is not. */
function percentText(share: number): string {
  const pct = Math.round(share * 100);
  return share > 0 && pct === 0 ? 'under 1%' : share < 1 && pct === 100 ? 'over 99%' : `${pct}%`;
}

/** What a window's figures stand on, when not every call of it was read. */
function windowNotes(name: string, from: bigint, to: bigint, read: WindowRead): string[] {
  const { sample, parts, share } = read;
  const notes: string[] = [];
  if (sample.scaled > 0) {
    notes.push(
      `window ${name} held more records than were read (${read.records.length}): it was read as ${parts} sub-windows of ${durationText((to - from) / BigInt(parts))}, up to ${share} records from each, ` +
        `and ${sample.scaled} of them held more, of which only the latest part was read in full — the figures rest on the calls of ${percentText(sample.covered)} of window ${name}'s time, spread over the whole window, ` +
        `so its calls are estimates scaled up from that time (as if traffic were steady within each sub-window), and its error rates and p99 weigh each sub-window by its estimated calls`,
    );
  }
  if (sample.unread > 0) {
    notes.push(`window ${name}: ${sample.unread} of its ${parts} sub-windows could not be read (the collector stopped scanning before finding a match): their calls are missing from its figures`);
  }
  return notes;
}

const instant = (what: string) => z.string().max(64).describe(`${what}: ISO 8601 / RFC 3339 with zone (2025-11-24T16:00:00Z), "now", or a duration ago (90m, 2h).`);

const whatChanged = defineTool({
  name: 'what_changed',
  title: 'What changed between two windows',
  description:
    `Compare two time windows (A = before/baseline, B = after/incident) per edge (caller → callee, each end named as service_map names it): calls [A, B], error_rate [A, B] (0–1), p99_ms [A, B], delta {rate_pct (call rate change, %), error_rate (B−A), p99_ms (B−A)}, change "new"/"gone" for edges seen in one window only ("unseen_in_a"/"unseen_in_b" instead when that window was sampled: none of the edge's calls among those read, which does not prove there were none), top_errors_b; sorted by biggest change (score: error-rate change, p99 ratio, traffic ratio). Answers "what is different since the incident started". Optional CEL filter narrows both windows. Each window is read as ${SUB_WINDOWS} equal sub-windows, an equal share of max_calls_per_window records from each, so the figures span the whole window; when a sub-window holds more, its calls are estimated from its latest part (read in full): the window then says estimated: true and time_read_pct (the share of its time whose calls were all read), and a note explains.`,
  inputSchema: {
    window_a_start: instant('Start of window A (baseline)'),
    window_a_end: instant('End of window A'),
    window_b_start: instant('Start of window B (the period to explain)'),
    window_b_end: instant('End of window B'),
    filter: optionalFilter('which calls to compare'),
    max_calls_per_window: maxRecords(2000, `per window, an equal share from each of its ${SUB_WINDOWS} sub-windows`),
  },
  async run(args, ctx) {
    const now = ctx.now();
    const bounds: bigint[] = [];
    for (const key of ['window_a_start', 'window_a_end', 'window_b_start', 'window_b_end'] as const) {
      const t = parseInstant(args[key], now);
      if (!t.ok) return fail(`${key}: ${t.message}`);
      bounds.push(t.ns);
    }
    const [a0, a1, b0, b1] = bounds;
    if (a1 <= a0) return fail('window A must end after it starts (window_a_end > window_a_start)');
    if (b1 <= b0) return fail('window B must end after it starts (window_b_end > window_b_start)');
    const a = await readWindow(ctx, args.filter, a0, a1, args.max_calls_per_window);
    if (!a.ok) return a.result;
    const b = await readWindow(ctx, args.filter, b0, b1, args.max_calls_per_window);
    if (!b.ok) return b.result;
    const sampledA = a.value.sample.scaled > 0 || a.value.sample.unread > 0;
    const sampledB = b.value.sample.scaled > 0 || b.value.sample.unread > 0;
    const rows = compareWindows(a.value.records, b.value.records, Number(a1 - a0), Number(b1 - b0), { a: a.value.sample.weight, b: b.value.sample.weight }, { a: sampledA, b: sampledB });
    const unseen = rows.filter((r) => r.change === 'unseen_in_a' || r.change === 'unseen_in_b').length;
    const notes = [
      ...windowNotes('A', a0, a1, a.value),
      ...windowNotes('B', b0, b1, b.value),
      ...(unseen > 0
        ? [
            `${unseen} edge${unseen === 1 ? ' is' : 's are'} marked unseen_in_a or unseen_in_b: no call of ${unseen === 1 ? 'it' : 'them'} was among those read of that window, which was not read whole, so ${unseen === 1 ? 'it' : 'they'} may have calls there — not proof of a new or gone edge (search_calls with the edge's filter and that window's since, or a higher max_calls_per_window, tells)`,
          ]
        : []),
      ...(rows.length > 50 ? [`${rows.length - 50} edges with smaller changes left out`] : []),
    ];
    const windowOf = (from: bigint, to: bigint, read: WindowRead) => {
      const estimated = read.sample.scaled > 0 || read.sample.unread > 0;
      return withoutUndefined({
        start: isoTime(from),
        end: isoTime(to),
        records_read: read.records.length,
        estimated: estimated ? true : undefined,
        time_read_pct: estimated ? Math.round(read.sample.covered * 1000) / 10 : undefined,
      });
    };
    return ok(
      withoutUndefined({
        window_a: windowOf(a0, a1, a.value),
        window_b: windowOf(b0, b1, b.value),
        edges: rows.slice(0, 50),
        note: notes.length > 0 ? notes.join('; ') : undefined,
      }),
    );
  },
});

interface CoverageCountsJson {
  calls: number;
  parsed: Record<string, number>;
  opaque: number;
  app_tls: number;
  unmeshed_peer: number;
  unobserved_here: number;
  plaintext_meshed: number;
  capture_overflow: number;
  truncated_bodies: number;
}

interface CoverageJson {
  since: string;
  until: string;
  workloads: { id: string; kind: string; inbound: CoverageCountsJson; outbound: CoverageCountsJson; excluded: { known: boolean }; summary: string[] }[];
  edges: (CoverageCountsJson & { source: string; target: string })[];
  collector: { records_rejected: Record<string, number>; batches_rejected: Record<string, number>; streams_refused?: number; records_duplicate: number };
  truncated: boolean;
}

/** Only the non-zero reasons: an agent reads what happened, not the list of what could. */
const nonZero = (counts: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));

const coverage = defineTool({
  name: 'coverage',
  title: 'What meshtap can see',
  description:
    "What meshtap observes and what it misses, per workload and per edge, over a recent window — check this before concluding that a call did not happen or that a payload is absent. Per workload (namespace/workload): inbound and outbound call counts with parsed (calls decoded, by protocol), opaque (tcp: no protocol recognised, timing and bytes only), app_tls (the app's own TLS: handshake metadata only, no payloads), unmeshed_peer (the other end has no meshtap sidecar, so only this side was observed: inbound from unmeshed clients, outbound to unmeshed servers), unobserved_here (the reverse: this end has no sidecar, only the peer saw the call), plaintext_meshed (both ends have sidecars but the call crossed in plaintext, so each side's record stands alone and is counted once per side: a connection opened before the caller knew the callee was meshed), capture_overflow (capture fell behind and cut the call; bytes were still forwarded), truncated_bodies (a body over the capture limit), excluded (ports/CIDRs excluded from capture by the pod's meshtap.io/exclude-* annotations; known=false means unknown, not none), and summary sentences in plain language. Also the collector's own refusals since it started (records_rejected, batches_rejected by reason). Optional workload narrows to one (namespace/workload or workload).",
  inputSchema: {
    window: z.string().max(64).optional().describe('How far back: a duration (30s, 15m, 2h, 1d; default 15m) or an RFC 3339 start time (2025-11-24T16:00:00Z).'),
    workload: z.string().max(256).optional().describe('Only this workload: "namespace/workload" (shop/payment) or a bare workload name.'),
    until: z.string().max(64).optional().describe('End of the window, exclusive (default now): a duration back from now (1h) or an RFC 3339 time, to look at a fixed window in the past (an incident); without window, the 15 minutes before it.'),
    limit: z.number().int().min(1).max(500).default(50).describe('Most workloads and most edges to return (default 50; those with the most calls first).'),
  },
  async run({ window, workload, until, limit }, ctx) {
    const answer = await ctx.api.get('/api/coverage', { since: window, until });
    if (answer.status !== 200) return answerProblem(answer);
    const cov = answer.body as CoverageJson;
    const matches = (id: string): boolean => workload === undefined || id === workload || id.endsWith(`/${workload}`);
    const total = (w: { inbound: CoverageCountsJson; outbound: CoverageCountsJson }) => w.inbound.calls + w.outbound.calls;
    const workloads = cov.workloads.filter((w) => matches(w.id)).sort((a, b) => total(b) - total(a));
    const edges = cov.edges.filter((e) => matches(e.source) || matches(e.target)).sort((a, b) => b.calls - a.calls);
    if (workload !== undefined && workloads.length === 0) return fail(`no calls of workload ${JSON.stringify(workload)} in this window (workloads seen: ${cov.workloads.map((w) => w.id).slice(0, 20).join(', ') || 'none'})`);
    return ok(
      withoutUndefined({
        since: isoTime(cov.since),
        until: isoTime(cov.until),
        workloads: workloads.slice(0, limit).map((w) => ({ workload: w.id, kind: w.kind, summary: w.summary, inbound: w.inbound, outbound: w.outbound, excluded: w.excluded })),
        edges: edges.slice(0, limit).map(({ source, target, ...counts }) => ({ edge: `${source} → ${target}`, ...counts })),
        collector_refused_since_start: withoutUndefined({
          records_rejected: nonZero(cov.collector.records_rejected),
          batches_rejected: nonZero(cov.collector.batches_rejected),
          streams_refused: cov.collector.streams_refused ? cov.collector.streams_refused : undefined,
        }),
        note: [
          workloads.length > limit ? `${workloads.length - limit} quieter workloads left out (raise limit)` : undefined,
          edges.length > limit ? `${edges.length - limit} quieter edges left out (raise limit)` : undefined,
          cov.truncated ? 'the window held more calls than the collector reads: the newest were used' : undefined,
        ]
          .filter(Boolean)
          .join('; ') || undefined,
      }),
    );
  },
});

/** In the order an MCP client lists them: the call search first. */
export const MCP_TOOLS: readonly McpTool[] = Object.freeze([searchCalls, getCall, serviceMap, getTrace, edgeSummary, whatChanged, coverage]);
