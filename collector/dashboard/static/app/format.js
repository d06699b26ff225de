// Pure formatting helpers: no DOM, no clock, so they are tested in Node as they run in the page.

/**
 * A record time (ns since the epoch, decimal string) as ms since the epoch, µs precision kept.
 * @param {string | undefined} ns
 * @returns {number | undefined}
 */
export function nsToMs(ns) {
  if (typeof ns !== 'string' || !/^-?\d+$/.test(ns)) return undefined;
  return Number(BigInt(ns) / 1000n) / 1000;
}

/**
 * Difference of two ns decimal strings in µs (exact in bigint, then a number).
 * @param {string | undefined} later
 * @param {string | undefined} earlier
 * @returns {number | undefined}
 */
export function diffUs(later, earlier) {
  if (typeof later !== 'string' || typeof earlier !== 'string') return undefined;
  if (!/^-?\d+$/.test(later) || !/^-?\d+$/.test(earlier)) return undefined;
  return Number(BigInt(later) - BigInt(earlier)) / 1000;
}

const pad = (/** @type {number} */ n, /** @type {number} */ width = 2) => String(n).padStart(width, '0');

/**
 * `HH:MM:SS.mmm` of a record time in UTC, as everything else on the page (and `meshtap tap`)
 * shows times; `utc: false` for the browser's local time.
 * @param {string | undefined} ns
 * @param {{ utc?: boolean }} [options]
 */
export function formatClock(ns, options = {}) {
  const ms = nsToMs(ns);
  if (ms === undefined) return '—';
  const d = new Date(Math.floor(ms));
  const [h, m, s, milli] = options.utc !== false
    ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(milli, 3)}`;
}

/**
 * A full timestamp with µs, ISO style: `2025-11-24T16:00:00.123456Z` (UTC) for the detail view.
 * @param {string | undefined} ns
 */
export function formatTimestamp(ns) {
  if (typeof ns !== 'string' || !/^\d+$/.test(ns)) return '—';
  const big = BigInt(ns);
  const seconds = big / 1_000_000_000n;
  const micros = (big % 1_000_000_000n) / 1000n;
  const iso = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${iso}.${micros.toString().padStart(6, '0')}Z`;
}

/**
 * A duration in µs for people: `850 µs`, `12.3 ms`, `1.24 s`, `2 m 05 s`.
 * @param {number | undefined} us
 */
export function formatDuration(us) {
  if (typeof us !== 'number' || !Number.isFinite(us)) return '—';
  const sign = us < 0 ? '-' : '';
  const a = Math.abs(us);
  if (a < 1000) return `${sign}${Math.round(a)} µs`;
  if (a < 10_000) return `${sign}${(a / 1000).toFixed(2)} ms`;
  if (a < 1_000_000) return `${sign}${(a / 1000).toFixed(1)} ms`;
  if (a < 60_000_000) return `${sign}${(a / 1_000_000).toFixed(2)} s`;
  const totalSeconds = Math.round(a / 1_000_000);
  return `${sign}${Math.floor(totalSeconds / 60)} m ${pad(totalSeconds % 60)} s`;
}

/** The units of a gRPC `grpc-timeout` header in µs (gRPC over HTTP/2: H, M, S, m, u, n). */
const GRPC_TIMEOUT_UNIT_US = { H: 3_600_000_000, M: 60_000_000, S: 1_000_000, m: 1000, u: 1, n: 0.001 };

/**
 * A `grpc-timeout` header value (`4999m` is 4999 ms, `2M` two minutes) in µs; undefined when it
 * is not one (at most 8 digits and one unit letter).
 * @param {string | undefined} value
 * @returns {number | undefined}
 */
export function parseGrpcTimeout(value) {
  const m = typeof value === 'string' ? /^\s*(\d{1,8})([HMSmun])\s*$/.exec(value) : null;
  if (!m) return undefined;
  return Number(m[1]) * GRPC_TIMEOUT_UNIT_US[/** @type {keyof typeof GRPC_TIMEOUT_UNIT_US} */ (m[2])];
}

/**
 * A latency given in ms (service map percentiles) in the same style.
 * @param {number | undefined} ms
 */
export function formatMs(ms) {
  return typeof ms === 'number' ? formatDuration(ms * 1000) : '—';
}

/**
 * Bytes for people, binary units: `0 B`, `512 B`, `1.5 KiB`, `12 MiB`.
 * @param {number | undefined} n
 */
export function formatBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * Requests per second: `0.2/s`, `12/s`, `1.2k/s`.
 * @param {number | undefined} r
 */
export function formatRate(r) {
  if (typeof r !== 'number' || !Number.isFinite(r)) return '—';
  if (r === 0) return '0/s';
  if (r < 0.01) return '<0.01/s';
  if (r < 10) return `${r.toFixed(r < 0.1 ? 2 : 1)}/s`;
  if (r < 1000) return `${Math.round(r)}/s`;
  return `${(r / 1000).toFixed(1)}k/s`;
}

/**
 * A ratio 0..1 as a percentage: `0%`, `0.4%`, `12%`.
 * @param {number | undefined} ratio
 */
export function formatPercent(ratio) {
  if (typeof ratio !== 'number' || !Number.isFinite(ratio)) return '—';
  const p = ratio * 100;
  if (p === 0) return '0%';
  if (p < 10) return `${p.toFixed(1)}%`;
  return `${Math.round(p)}%`;
}

/** gRPC status code names, as the gRPC spec and `meshtap tap` (record/grpc-status.ts) name them. */
const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

/**
 * `NOT_FOUND` for 5; the number itself for a code outside the table.
 * @param {number} code
 */
export const grpcStatusName = (code) => GRPC_CODES[code] ?? String(code);

/**
 * @typedef {{ protocol?: string, status_code?: number, grpc_status?: number, grpc_message?: string, dns_rcode?: string,
 *   error?: string, error_detail?: string, response?: { headers?: Record<string, string> } }} OutcomeJson
 */

/**
 * The SQLSTATE of a failed SQL statement, which the PostgreSQL and MySQL captures put in the
 * response headers.
 * @param {OutcomeJson} call
 */
const sqlState = (call) => ((call.protocol === 'postgres' || call.protocol === 'mysql') && call.response?.headers?.sqlstate) || undefined;

/**
 * The colour class of a call's outcome: by HTTP status, a failed gRPC status, a DNS response code
 * (a name that does not exist is the asker's mistake, like a 4xx; a failing server is an error,
 * as `meshtap tap` colours them), a SQL error, or the record's error.
 * @param {OutcomeJson} call
 * @returns {'info' | 'ok' | 'redirect' | 'client-error' | 'server-error' | 'failed' | 'none'}
 */
export function statusClass(call) {
  if (call.protocol === 'dns' && typeof call.dns_rcode === 'string') return call.dns_rcode === 'NOERROR' ? 'ok' : call.dns_rcode === 'NXDOMAIN' ? 'client-error' : 'server-error';
  if (sqlState(call)) return 'server-error';
  const grpc = call.protocol === 'grpc' && typeof call.grpc_status === 'number' ? call.grpc_status : undefined;
  if (grpc !== undefined && grpc !== 0) return 'server-error';
  const code = call.status_code;
  if (typeof code === 'number') {
    if (code >= 500) return 'server-error';
    if (code >= 400) return 'client-error';
    if (code >= 300) return 'redirect';
    if (code >= 200) return 'ok';
    return 'info';
  }
  if (call.error) return 'failed';
  if (grpc === 0) return 'ok';
  return 'none';
}

/**
 * A call's own status in its protocol's words, as `meshtap tap` says it: the HTTP status, then a
 * gRPC call's status name (`200 NOT_FOUND`); a DNS response code (`NXDOMAIN`); a failed SQL
 * statement's SQLSTATE (`42P01`). Undefined when it has none (a TCP stream, a SQL statement that
 * ran, a query never answered).
 * @param {OutcomeJson} call
 * @returns {string | undefined}
 */
export function statusCode(call) {
  if (call.protocol === 'dns') return call.dns_rcode;
  const sql = sqlState(call);
  if (sql) return sql;
  const parts = [];
  if (typeof call.status_code === 'number') parts.push(String(call.status_code));
  if (call.protocol === 'grpc' && typeof call.grpc_status === 'number') parts.push(grpcStatusName(call.grpc_status));
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/**
 * What the status column shows: the call's status (`statusCode`), else its error.
 * @param {OutcomeJson} call
 */
export function statusText(call) {
  return statusCode(call) ?? (call.error || '—');
}

/**
 * The whole of a call's outcome, for a hover: the gRPC status with its message, the SQL error
 * with its message, the HTTP status or DNS response code, or the error with its detail.
 * @param {OutcomeJson} call
 */
export function statusTitle(call) {
  if (call.protocol === 'grpc' && typeof call.grpc_status === 'number' && call.grpc_status !== 0) {
    return `gRPC status ${call.grpc_status} ${grpcStatusName(call.grpc_status)}${call.grpc_message ? `: ${call.grpc_message}` : ''}${typeof call.status_code === 'number' ? ` (HTTP ${call.status_code})` : ''}`;
  }
  const sql = sqlState(call);
  if (sql) {
    const message = call.response?.headers?.message ?? call.error_detail;
    return `SQLSTATE ${sql}${message ? `: ${message}` : ''}`;
  }
  if (call.protocol === 'dns' && call.dns_rcode) return `DNS ${call.dns_rcode}`;
  if (typeof call.status_code === 'number') return `HTTP ${call.status_code}`;
  if (call.error) return `${call.error}${call.error_detail ? ` — ${call.error_detail}` : ''}`;
  return 'no status';
}

/**
 * `workload` (or pod, service, ip) of one end, the name an SRE recognises first.
 * @param {{ workload?: string, pod?: string, service?: string, ip?: string, port?: number } | undefined} end
 */
export function endpointName(end) {
  if (!end) return '?';
  return end.workload || end.service || end.pod || (end.ip ? `${end.ip}:${end.port ?? ''}` : '?');
}

/**
 * A JS string as a CEL string literal.
 * @param {string} s
 */
export function celString(s) {
  return JSON.stringify(s);
}

/**
 * The filter that selects the calls of one service map edge. Node ids are resolved to their
 * namespace and workload; a node without a workload falls back to its id as the workload.
 * @param {{ source: string, target: string }} edge
 * @param {Array<{ id: string, namespace?: string, workload?: string }>} nodes
 */
export function edgeFilter(edge, nodes) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  /** @param {'src' | 'dst'} side @param {string} id */
  const side = (side, id) => {
    const node = byId.get(id);
    const parts = [];
    if (node?.namespace) parts.push(`${side}.namespace == ${celString(node.namespace)}`);
    parts.push(`${side}.workload == ${celString(node?.workload || id)}`);
    return parts.join(' && ');
  };
  return `${side('src', edge.source)} && ${side('dst', edge.target)}`;
}

/**
 * Error-rate colour band of a service map edge.
 * @param {number | undefined} rate 0..1
 * @returns {'healthy' | 'degraded' | 'failing' | 'idle'}
 */
export function errorBand(rate) {
  if (typeof rate !== 'number' || !Number.isFinite(rate)) return 'idle';
  if (rate >= 0.05) return 'failing';
  if (rate > 0) return 'degraded';
  return 'healthy';
}

/**
 * The line of `source` a filter error points at and how far the caret goes in, from the
 * API's 1-based line and column.
 * @param {string} source
 * @param {{ line?: number, column?: number, offset?: number } | undefined} position
 * @returns {{ text: string, caret: number, line: number }}
 */
export function caretAt(source, position) {
  const lines = source.split('\n');
  let line = position?.line ?? 1;
  let column = position?.column;
  if (column === undefined && typeof position?.offset === 'number') {
    const before = source.slice(0, position.offset).split('\n');
    line = before.length;
    column = before[before.length - 1].length + 1;
  }
  line = Math.min(Math.max(1, line), lines.length);
  const text = lines[line - 1];
  const caret = Math.min(Math.max(0, (column ?? 1) - 1), text.length);
  return { text, caret, line };
}

/**
 * @typedef {{ text: string } | { base64: string }} BodyJson
 * @typedef {{ kind: 'empty' } | { kind: 'json', text: string } | { kind: 'text', text: string } | { kind: 'binary', hex: string, bytes: number }} BodyView
 */

/**
 * How to show a body: JSON pretty-printed (by content type or by shape), text as is, binary
 * as a hex dump of its first `maxBytes` bytes.
 * @param {BodyJson | undefined} body
 * @param {string | undefined} contentType
 * @param {{ maxBytes?: number }} [options]
 * @returns {BodyView}
 */
export function bodyView(body, contentType, options = {}) {
  if (!body) return { kind: 'empty' };
  if ('base64' in body) {
    const bytes = base64ToBytes(body.base64);
    return { kind: 'binary', hex: hexDump(bytes, options.maxBytes ?? 512), bytes: bytes.length };
  }
  const text = body.text;
  if (text === '') return { kind: 'empty' };
  const looksJson = /json/i.test(contentType ?? '') || /^\s*[[{]/.test(text);
  if (looksJson) {
    try {
      return { kind: 'json', text: JSON.stringify(JSON.parse(text), null, 2) };
    } catch {
      // A truncated or malformed JSON body is still worth reading as text.
    }
  }
  return { kind: 'text', text };
}

/**
 * @param {string} b64
 * @returns {Uint8Array}
 */
export function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Classic hex dump: offset, 16 bytes in hex, printable ASCII; `…` when cut at `maxBytes`.
 * @param {Uint8Array} bytes
 * @param {number} maxBytes
 */
export function hexDump(bytes, maxBytes) {
  const n = Math.min(bytes.length, maxBytes);
  const lines = [];
  for (let at = 0; at < n; at += 16) {
    const row = bytes.subarray(at, Math.min(at + 16, n));
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${at.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  if (bytes.length > n) lines.push(`… ${bytes.length - n} more bytes`);
  return lines.join('\n');
}

/**
 * Whether a header's value was masked, from the record's `redacted` paths.
 * @param {string[] | undefined} redacted
 * @param {'request' | 'response'} side
 * @param {string} name lower-case header name
 */
export function isRedactedHeader(redacted, side, name) {
  return Array.isArray(redacted) && redacted.includes(`${side}.headers.${name}`);
}
