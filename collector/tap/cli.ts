/** `meshtap tap`: follow calls live from a collector's stream, one line (or JSON object) per call. */
import type { CommandIO } from '../../lib/cli.ts';
import { CLI_ERR_USAGE, parseCommandArgs } from '../../lib/cli.ts';
import { MeshtapError } from '../../lib/errors.ts';
import type { CallRecordJson } from '../../record/record-json.ts';
import { findLabCollector } from '../../lib/lab-locator.ts';
import { resolveAuthorization } from './credentials.ts';
import { formatCallLine } from './format.ts';

export const DEFAULT_COLLECTOR_URL = 'http://127.0.0.1:8080';

const USAGE = `usage: meshtap tap [options]

Prints calls as the collector stores them, until Ctrl-C.

options:
  --collector URL      the collector's HTTP API (default: the running lab's, else ${DEFAULT_COLLECTOR_URL})   env MESHTAP_COLLECTOR_URL
  --token TOKEN        bearer token for the API (default: the lab's token for the lab's collector,
                       else the current kubeconfig user's credentials)   env MESHTAP_COLLECTOR_TOKEN
  -n, --namespace NS   only calls from or to namespace NS
  -f, --filter CEL     only calls the filter matches, e.g. 'http && status_code >= 500'
  --json               one JSON record per line instead of text
  -h, --help           show this help

Text lines: time (UTC), caller → callee, method and path, status, latency; coloured when
stdout is a terminal and NO_COLOR is unset.

Exit: 0 after Ctrl-C, 1 when the collector is unreachable or goes away, 2 for a usage error
or a filter the collector rejects.
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  collector: { type: 'string' },
  token: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  filter: { type: 'string', short: 'f' },
  json: { type: 'boolean' },
} as const;

/** The filter sent to the collector and where the user's part starts in it. */
export function buildTapFilter(namespace: string | undefined, filter: string | undefined): { source: string | undefined; userOffset: number } {
  if (namespace === undefined) return { source: filter, userOffset: 0 };
  const ns = JSON.stringify(namespace);
  const clause = `(src.namespace == ${ns} || dst.namespace == ${ns})`;
  if (filter === undefined || filter.trim() === '') return { source: clause, userOffset: 0 };
  const prefix = `${clause} && (`;
  return { source: `${prefix}${filter}\n)`, userOffset: prefix.length };
}

interface ServerFilterError {
  code: string;
  message: string;
  position?: { offset: number; line: number; column: number };
}

function lineAndColumn(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** The server's message, with its position moved into the user's own filter text and a caret under it. */
export function describeFilterError(error: ServerFilterError, userFilter: string | undefined, userOffset: number): string {
  let message = error.message;
  let caret = '';
  const pos = error.position;
  if (pos !== undefined && userFilter !== undefined) {
    const offset = pos.offset - userOffset;
    if (offset >= 0 && offset <= userFilter.length) {
      const at = lineAndColumn(userFilter, offset);
      message = message.replace(/at line \d+, column \d+$/, `at line ${at.line}, column ${at.column}`);
      const text = userFilter.split('\n')[at.line - 1] ?? '';
      caret = `\n  ${text}\n  ${' '.repeat(at.column - 1)}^`;
    }
  }
  return `meshtap tap: the collector rejected the filter (${error.code}): ${message}${caret}\n`;
}

function parseCollectorUrl(raw: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new MeshtapError(CLI_ERR_USAGE, `${name} must be an http:// or https:// URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MeshtapError(CLI_ERR_USAGE, `${name} must be an http:// or https:// URL, got "${raw}"`);
  }
  return url;
}

function causeText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

interface SseEvent {
  event: string;
  data: string;
}

/** Splits an SSE byte stream into events (comments and ids are ignored). */
export function createSseParser(onEvent: (e: SseEvent) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) onEvent({ event, data: data.join('\n') });
    }
  };
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs('tap', argv, OPTIONS);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const fromFlag = values.collector !== undefined;
  const rawUrl = values.collector ?? (io.env.MESHTAP_COLLECTOR_URL || findLabCollector()?.url || DEFAULT_COLLECTOR_URL);
  const base = parseCollectorUrl(rawUrl, fromFlag ? '--collector' : io.env.MESHTAP_COLLECTOR_URL ? 'MESHTAP_COLLECTOR_URL' : 'the default collector URL');
  if (values.namespace !== undefined && values.namespace.trim() === '') throw new MeshtapError(CLI_ERR_USAGE, '--namespace must not be empty');
  const { source, userOffset } = buildTapFilter(values.namespace, values.filter);
  const url = new URL('api/stream', base.href.endsWith('/') ? base : `${base.href}/`);
  const authorization = await resolveAuthorization(base, { ...(values.token !== undefined ? { token: values.token } : {}), env: io.env });
  if (source !== undefined) url.searchParams.set('filter', source);

  const color = (io.stdout as { isTTY?: boolean }).isTTY === true && (io.env.NO_COLOR === undefined || io.env.NO_COLOR === '');
  const abort = new AbortController();
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  // A closed pipe (`meshtap tap | head`) ends the command quietly.
  let pipeClosed = false;
  const onStdoutError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE') {
      pipeClosed = true;
      abort.abort();
    }
  };
  io.stdout.on?.('error', onStdoutError);
  try {
    let res: Response;
    try {
      res = await fetch(url, { headers: { accept: 'text/event-stream', ...(authorization ? { authorization } : {}) }, signal: abort.signal });
    } catch (err) {
      if (interrupted || pipeClosed) return 0;
      io.stderr.write(`meshtap tap: cannot reach the collector at ${base.origin}: ${causeText(err)}\n`);
      return 1;
    }
    if (res.status !== 200) {
      const text = await res.text().catch(() => '');
      let error: ServerFilterError | undefined;
      try {
        error = (JSON.parse(text) as { error?: ServerFilterError }).error;
      } catch {
        error = undefined;
      }
      if (res.status === 400 && error !== undefined) {
        io.stderr.write(
          error.position !== undefined ? describeFilterError(error, values.filter, userOffset) : `meshtap tap: the collector rejected the request: ${error.message}\n`,
        );
        return 2;
      }
      io.stderr.write(`meshtap tap: the collector at ${base.origin} answered ${res.status}${error ? `: ${error.message}` : ''}\n`);
      return 1;
    }
    const parse = createSseParser((event) => {
      if (event.event === 'call') {
        let record: CallRecordJson;
        try {
          record = JSON.parse(event.data) as CallRecordJson;
        } catch {
          return;
        }
        io.stdout.write(values.json ? `${JSON.stringify(record)}\n` : `${formatCallLine(record, { color })}\n`);
      } else if (event.event === 'dropped') {
        const count = (JSON.parse(event.data) as { count?: number }).count ?? 0;
        io.stderr.write(`meshtap tap: ${count} calls were skipped: this terminal fell behind the collector\n`);
      }
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) parse(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch (err) {
      if (interrupted || pipeClosed) return 0;
      io.stderr.write(`meshtap tap: lost the connection to the collector at ${base.origin}: ${causeText(err)}\n`);
      return 1;
    }
    if (interrupted || pipeClosed) return 0;
    io.stderr.write(`meshtap tap: the collector at ${base.origin} closed the stream (stopped or restarted)\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    io.stdout.off?.('error', onStdoutError);
  }
}
