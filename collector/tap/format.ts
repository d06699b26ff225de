/**
 * One line per call for `meshtap tap`: time, caller → callee, method and path, status, latency;
 * with `--observations` one per record, the observing side (`client`/`server`) after the time.
 * Pure: the caller decides about colour (a terminal, and NO_COLOR unset).
 */
import { formatHostPort } from '../../lib/host-port.ts';
import { grpcStatusName } from '../../record/grpc-status.ts';
import type { CallRecordJson } from '../../record/record-json.ts';
import { dnsOutcome } from './dns-format.ts';

export interface FormatOptions {
  color: boolean;
}

type EndpointJson = CallRecordJson['src'];

const ANSI = { red: 31, green: 32, yellow: 33, cyan: 36, dim: 2 } as const;

function paint(text: string, code: number, color: boolean): string {
  return color ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/** `HH:MM:SS.mmm` (UTC) of an ns-since-epoch decimal string. */
export function formatTime(startNs: string): string {
  if (!/^\d+$/.test(startNs)) return '--:--:--.---';
  const ms = Number(BigInt(startNs) / 1_000_000n);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? '--:--:--.---' : date.toISOString().slice(11, 23);
}

/** The most specific name known: workload, pod, service, else ip:port. */
export function endpointName(e: EndpointJson | undefined): string {
  if (e === undefined) return '?';
  const ns = e.namespace ? `${e.namespace}/` : '';
  if (e.workload) return `${ns}${e.workload}`;
  if (e.pod) return `${ns}${e.pod}`;
  if (e.service) return `${ns}${e.service}`;
  return formatHostPort(e.ip, e.port);
}

/** µs → `850µs`, `12.3ms`, `1.52s`. */
export function formatLatency(us: number): string {
  if (!Number.isFinite(us) || us < 0) return '-';
  if (us < 1000) return `${Math.round(us)}µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)}ms`;
  return `${(us / 1_000_000).toFixed(2)}s`;
}

type StatusClass = 'ok' | 'redirect' | 'client-error' | 'error' | 'none';

export function statusClass(r: Pick<CallRecordJson, 'status_code' | 'grpc_status' | 'error' | 'protocol'>): StatusClass {
  if (r.error !== undefined) return 'error';
  if (r.protocol === 'grpc' && r.grpc_status !== undefined && r.grpc_status !== 0) return 'error';
  const s = r.status_code;
  if (s === undefined) return r.protocol === 'grpc' && r.grpc_status === 0 ? 'ok' : 'none';
  if (s >= 500) return 'error';
  if (s >= 400) return 'client-error';
  if (s >= 300) return 'redirect';
  return 'ok';
}

/** Who ended the call, in words, where the record says: the client giving up, or a reset and its sender. */
function errorCause(r: Pick<CallRecordJson, 'error' | 'connection'>): string | undefined {
  if (r.error === 'client_timeout') return 'client gave up';
  const by = r.connection?.reset_by;
  return r.error !== undefined && by !== undefined ? `reset by ${by}` : undefined;
}

export function formatStatus(r: Pick<CallRecordJson, 'status_code' | 'grpc_status' | 'error' | 'protocol' | 'connection'>): string {
  const parts: string[] = [];
  if (r.status_code !== undefined) parts.push(String(r.status_code));
  if (r.protocol === 'grpc' && r.grpc_status !== undefined) parts.push(grpcStatusName(r.grpc_status));
  if (r.error !== undefined) parts.push(`error=${r.error}`);
  const cause = errorCause(r);
  if (cause !== undefined) parts.push(`(${cause})`);
  return parts.length > 0 ? parts.join(' ') : '-';
}

const CLASS_COLOR: Record<StatusClass, number | undefined> = {
  ok: ANSI.green,
  redirect: ANSI.cyan,
  'client-error': ANSI.yellow,
  error: ANSI.red,
  none: undefined,
};

/** Control characters from captured data must not reach the terminal. */
function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

type MessageJson = NonNullable<CallRecordJson['request']>;

function bodyText(m: MessageJson | undefined): string | undefined {
  if (m === undefined) return undefined;
  return 'text' in m.body ? m.body.text : undefined;
}

/** At most `n` characters of the first line, with `…` when cut. */
function clip(text: string, n = 48): string {
  const line = text.split('\n', 1)[0];
  return line.length > n || line.length < text.length ? `${line.slice(0, n)}…` : line;
}

/**
 * What a protocol's call said, in a few words: a Redis reply (`→ "tea"`), a SQL statement and
 * its row count, gRPC message counts, a WebSocket message with its direction.
 */
export function callDetail(r: CallRecordJson): string | undefined {
  switch (r.protocol) {
    case 'redis': {
      const reply = bodyText(r.response);
      return reply === undefined ? undefined : `→ ${clip(reply)}`;
    }
    case 'postgres':
    case 'mysql': {
      let query: string | undefined;
      try {
        query = (JSON.parse(bodyText(r.request) ?? '{}') as { query?: string }).query;
      } catch {
        query = undefined;
      }
      const rows = r.response?.headers.rows;
      return [query === undefined ? undefined : clip(query.replace(/\s+/g, ' ')), rows === undefined ? undefined : `${rows} row${rows === '1' ? '' : 's'}`].filter(Boolean).join('  ') || undefined;
    }
    case 'grpc': {
      const count = (m: MessageJson | undefined) => {
        try {
          return (JSON.parse(bodyText(m) ?? '') as { messages?: unknown[] }).messages?.length;
        } catch {
          return undefined;
        }
      };
      const req = count(r.request);
      const res = count(r.response);
      if (req === undefined && res === undefined) return undefined;
      return `${req ?? 0}→${res ?? 0} msgs`;
    }
    case 'ws': {
      const fromClient = r.request !== undefined;
      const text = bodyText(fromClient ? r.request : r.response);
      return `${fromClient ? '→' : '←'} ${text === undefined ? 'binary' : JSON.stringify(clip(text))}`;
    }
    default:
      return undefined;
  }
}

export function formatCallLine(r: CallRecordJson, options: FormatOptions): string {
  return `${paint(formatTime(r.start), ANSI.dim, options.color)}  ${callLineRest(r, options)}`;
}

/** Which sidecar observed a record, in the words the dashboard uses: `client` (outbound) or `server` (inbound). */
export function observerSide(r: Pick<CallRecordJson, 'observer'>): 'client' | 'server' | '?' {
  return r.observer === 'outbound' ? 'client' : r.observer === 'inbound' ? 'server' : '?';
}

/**
 * One line per record (`--observations`): the call line with the observing side after the time,
 * so that a meshed call's two records tell apart at a glance (`client` and `server` are of one
 * width, the columns after them stay aligned).
 */
export function formatObservationLine(r: CallRecordJson, options: FormatOptions): string {
  return `${paint(formatTime(r.start), ANSI.dim, options.color)}  ${observerSide(r).padEnd(6)}  ${callLineRest(r, options)}`;
}

/** Everything after the time: caller → callee, method and path, what was said, status, latency. */
function callLineRest(r: CallRecordJson, options: FormatOptions): string {
  const route = `${clean(endpointName(r.src))} → ${clean(endpointName(r.dst))}`;
  const method = clean(r.method ?? r.protocol.toUpperCase());
  const path = r.path !== undefined ? ` ${clean(r.path)}` : '';
  if (r.protocol === 'dns') {
    // `A catalog.shop.svc.cluster.local → 10.96.0.12, 10.96.0.13`: the outcome is the answer.
    const outcome = dnsOutcome(r);
    return `${route}  ${method}${path} ${paint(clean(outcome.text), CLASS_COLOR[outcome.cls]!, options.color)}  ${formatLatency(r.elapsed_us)}`;
  }
  const detail = callDetail(r);
  const said = detail === undefined ? '' : `  ${clean(detail)}`;
  const color = CLASS_COLOR[statusClass(r)];
  const status = color === undefined ? formatStatus(r) : paint(formatStatus(r), color, options.color);
  return `${route}  ${method}${path}${said}  ${status}  ${formatLatency(r.elapsed_us)}`;
}

/** The joined-call shape `formatJoinedCallLine` reads (`collector/calls/join.ts`). */
export interface CallLineInput {
  client?: CallRecordJson;
  server?: CallRecordJson;
  one_sided?: 'client' | 'server';
  src: EndpointJson;
  dst: EndpointJson;
  latency: { client_us?: number; server_us?: number; network_us?: number };
}

/**
 * One line per call: the client's view (caller from the client, callee from the server, which
 * names its own pod), and the server's latency next to the client's when both sides saw it. A
 * meshed call whose other side never arrived says which side it is; an unmeshed peer's call
 * (one side by nature) reads exactly like its record.
 */
export function formatJoinedCallLine(call: CallLineInput, options: FormatOptions): string {
  const base = (call.client ?? call.server)!;
  const line = formatCallLine({ ...base, src: call.src, dst: call.dst }, options);
  if (call.client !== undefined && call.server !== undefined && call.latency.server_us !== undefined) {
    return `${line} ${paint(`(server ${formatLatency(call.latency.server_us)})`, ANSI.dim, options.color)}`;
  }
  if (call.one_sided !== undefined && base.tls.mesh) return `${line}  ${paint(`(${call.one_sided} side only)`, ANSI.dim, options.color)}`;
  return line;
}
