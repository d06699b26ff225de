/**
 * `meshtap tap`: follow calls live from a collector's stream, one line (or JSON object) per
 * call, both sidecars' observations of a meshed call joined into one (`--observations`: one
 * per record, as stored); `-o har` collects calls into one HAR document.
 */
import type { CommandIO } from '../../lib/cli.ts';
import { CLI_ERR_USAGE, parseCommandArgs } from '../../lib/cli.ts';
import { MeshtapError } from '../../lib/errors.ts';
import type { CallRecordJson } from '../../record/record-json.ts';
import { DEFAULT_COLLECTOR_URL, resolveCollectorTarget, unreachableText } from './collector-target.ts';
import { compileFilter } from '../filter/compile.ts';
import { isFilterError } from '../filter/errors.ts';
import { formatCallLine, formatJoinedCallLine } from './format.ts';
import { buildCall, callKey, sideOf, type JoinedCall } from '../calls/join.ts';
import { createLiveJoiner } from '../calls/live-join.ts';
import { buildHar, harEntry } from '../calls/har.ts';
import { harCreator } from '../calls/version.ts';

/** How long a meshed call's first observation waits for the other sidecar's. */
export const DEFAULT_JOIN_WAIT_MS = 2000;

const USAGE = `usage: meshtap tap [options]

Prints calls as the collector stores them, until Ctrl-C (or --limit). A meshed call, seen by
both sidecars, is one line with both latencies (client, then server).

options:
  --collector URL      the collector's HTTP API (default: the running lab's, else ${DEFAULT_COLLECTOR_URL})   env MESHTAP_COLLECTOR_URL
  --token TOKEN        bearer token for the API (default: the lab's token for the lab's collector,
                       else the current kubeconfig user's credentials)   env MESHTAP_COLLECTOR_TOKEN
  -n, --namespace NS   only calls from or to namespace NS
  -f, --filter CEL     only calls the filter matches, e.g. 'http && status_code >= 500'
  -o, --output FORMAT  text (default), json (one JSON object per line: a call, or a record with
                       --observations) or har (collects calls, prints one HAR 1.2 document at the end)
  --observations       one item per record (each sidecar's observation) instead of per call
  --limit N            stop after N calls (HAR: N entries)
  --join-wait MS       how long a meshed call waits for its other observation (default ${DEFAULT_JOIN_WAIT_MS})
  --json               one JSON record per line (the same as -o json --observations)
  -h, --help           show this help

Text lines: time (UTC), caller → callee, method and path, status, latency; coloured when
stdout is a terminal and NO_COLOR is unset.

Exit: 0 after Ctrl-C or SIGTERM, --limit or when the reader goes away (| head), 1 when the
collector is unreachable or goes away, 2 for a usage error or a filter that does not compile.
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  collector: { type: 'string' },
  token: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  filter: { type: 'string', short: 'f' },
  json: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  observations: { type: 'boolean' },
  limit: { type: 'string' },
  'join-wait': { type: 'string' },
} as const;

export type TapOutput = 'text' | 'json' | 'har';

export interface TapMode {
  output: TapOutput;
  observations: boolean;
  limit: number | undefined;
  joinWaitMs: number;
}

function positiveInt(name: string, raw: string, max: number, min = 1): number {
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new MeshtapError(CLI_ERR_USAGE, `${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return Number(raw);
}

/** What to print, from the flags (`--json` is `-o json --observations`, kept for scripts). */
export function resolveTapMode(values: { json?: boolean; output?: string; observations?: boolean; limit?: string; 'join-wait'?: string }): TapMode {
  const output = values.output ?? (values.json ? 'json' : 'text');
  if (output !== 'text' && output !== 'json' && output !== 'har') throw new MeshtapError(CLI_ERR_USAGE, `--output must be text, json or har, got "${output}"`);
  if (values.json && output !== 'json') throw new MeshtapError(CLI_ERR_USAGE, `--json is -o json --observations; it cannot be combined with -o ${output}`);
  return {
    output,
    observations: values.observations === true || values.json === true,
    limit: values.limit === undefined ? undefined : positiveInt('--limit', values.limit, 1_000_000),
    joinWaitMs: values['join-wait'] === undefined ? DEFAULT_JOIN_WAIT_MS : positiveInt('--join-wait', values['join-wait'], 60_000, 0),
  };
}

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
export function describeFilterError(error: ServerFilterError, userFilter: string | undefined, userOffset: number, what = 'the collector rejected the filter'): string {
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
  return `meshtap tap: ${what} (${error.code}): ${message}${caret}\n`;
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
  const { values } = parseCommandArgs(argv, OPTIONS);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (values.namespace !== undefined && values.namespace.trim() === '') throw new MeshtapError(CLI_ERR_USAGE, '--namespace must not be empty');
  const mode = resolveTapMode(values);
  // The filter alone first: its errors point into the user's own text, and a filter that is a
  // whole expression cannot reach out of the parentheses --namespace puts it in.
  if (values.filter !== undefined) {
    const own = compileFilter(values.filter);
    if (isFilterError(own)) {
      io.stderr.write(describeFilterError(own, values.filter, 0, 'the filter does not compile'));
      return 2;
    }
  }
  const target = await resolveCollectorTarget({ collector: values.collector, token: values.token, env: io.env });
  const { base, authorization } = target;
  const { source, userOffset } = buildTapFilter(values.namespace, values.filter);
  const url = new URL('api/stream', base.href.endsWith('/') ? base : `${base.href}/`);
  if (source !== undefined) url.searchParams.set('filter', source);

  const color = (io.stdout as { isTTY?: boolean }).isTTY === true && (io.env.NO_COLOR === undefined || io.env.NO_COLOR === '');
  const abort = new AbortController();
  const apiBase = base.href.endsWith('/') ? base.href : `${base.href}/`;
  // A meshed call's other observation may be stored without matching the filter: ask for it by id.
  const lookup = async (id: string): Promise<CallRecordJson | undefined> => {
    const res = await fetch(new URL(`api/calls/${encodeURIComponent(id)}`, apiBase), { headers: authorization ? { authorization } : {}, signal: abort.signal });
    if (res.status !== 200) {
      await res.body?.cancel();
      return undefined;
    }
    return ((await res.json()) as { call?: CallRecordJson }).call;
  };
  let emitted = 0;
  let limitReached = false;
  const harCalls: JoinedCall[] = [];
  const deliver = (line: () => string, call: () => JoinedCall): void => {
    if (limitReached || pipeClosed) return;
    if (mode.output === 'har') {
      const c = call();
      if (harEntry(c) === undefined) return;
      harCalls.push(c);
    } else {
      io.stdout.write(`${line()}\n`);
    }
    emitted++;
    if (mode.limit !== undefined && emitted >= mode.limit) {
      limitReached = true;
      abort.abort();
    }
  };
  const live = createLiveJoiner({
    waitMs: mode.joinWaitMs,
    lookup,
    emit: (call) => deliver(() => (mode.output === 'json' ? JSON.stringify(call) : formatJoinedCallLine(call, { color })), () => call),
  });
  const onRecord = (record: CallRecordJson): void => {
    if (!mode.observations) {
      live.add(record);
      return;
    }
    const side = sideOf(record);
    deliver(
      () => (mode.output === 'json' ? JSON.stringify(record) : formatCallLine(record, { color })),
      () => buildCall(`${callKey(record)}#${record.id}`, side === 'client' ? record : undefined, side === 'server' ? record : undefined),
    );
  };
  /** Whatever is still waiting for a partner is printed as it is; a HAR document is printed whole. */
  const finish = async (): Promise<void> => {
    if (pipeClosed) return;
    live.flush();
    await live.idle();
    if (mode.output === 'har') io.stdout.write(`${JSON.stringify(buildHar(harCalls, harCreator()), null, 2)}\n`);
  };
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  // SIGTERM (a supervisor, `timeout`) ends it the same way: calls waiting for a partner and a HAR document are written.
  process.on('SIGTERM', onSigint);
  // A closed pipe (`meshtap tap | head`) ends the command quietly.
  let pipeClosed = false;
  const onStdoutError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE') {
      pipeClosed = true;
      // Calls still waiting for a partner would be written later, to nobody.
      live.stop();
      abort.abort();
    }
  };
  io.stdout.on?.('error', onStdoutError);
  try {
    let res: Response;
    try {
      res = await fetch(url, { headers: { accept: 'text/event-stream', ...(authorization ? { authorization } : {}) }, signal: abort.signal });
    } catch (err) {
      if (interrupted || pipeClosed || limitReached) return 0;
      io.stderr.write(`meshtap tap: ${unreachableText(target, causeText(err))}\n`);
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
        onRecord(record);
      } else if (event.event === 'dropped') {
        const count = (JSON.parse(event.data) as { count?: number }).count ?? 0;
        io.stderr.write(`meshtap tap: ${count} calls were skipped: this terminal fell behind the collector\n`);
      }
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) parse(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch (err) {
      await finish();
      if (interrupted || pipeClosed || limitReached) return 0;
      io.stderr.write(`meshtap tap: lost the connection to the collector at ${base.origin}: ${causeText(err)}\n`);
      return 1;
    }
    await finish();
    if (interrupted || pipeClosed || limitReached) return 0;
    io.stderr.write(`meshtap tap: the collector at ${base.origin} closed the stream (stopped or restarted)\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    io.stdout.off?.('error', onStdoutError);
  }
}
