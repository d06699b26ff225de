/**
 * `meshtap tap`: follow calls live from a collector's stream, one line (or JSON object) per
 * call, both sidecars' observations of a meshed call joined into one (`--observations`: one
 * per record, as stored); `-o har` collects calls into one HAR document. `--since` first prints
 * the calls that started in a window back from now (`backfill.ts`), then follows the stream.
 */
import type { CommandIO } from '../../lib/cli.ts';
import { CLI_ERR_USAGE, parseCommandArgs } from '../../lib/cli.ts';
import { MeshtapError } from '../../lib/errors.ts';
import type { CallRecordJson } from '../../record/record-json.ts';
import { DEFAULT_COLLECTOR_URL, resolveCollectorTarget, unreachableText } from './collector-target.ts';
import { compileFilter } from '../filter/compile.ts';
import { isFilterError } from '../filter/errors.ts';
import { formatJoinedCallLine, formatObservationLine } from './format.ts';
import { buildCall, callKey, sideOf, type JoinedCall } from '../calls/join.ts';
import { createLiveJoiner } from '../calls/live-join.ts';
import { buildHar, harEntry } from '../calls/har.ts';
import { harCreator } from '../calls/version.ts';
import { ApiAnswerError, callsPageReader, MAX_BACKFILL_ITEMS, negativeSinceText, parseSinceFlag, readBackfill, sinceWindowText, type BackfillResult } from './backfill.ts';

/** How long a meshed call's first observation waits for the other sidecar's. */
export const DEFAULT_JOIN_WAIT_MS = 2000;

/** Records the stream delivers while `--since`'s window is read, held at most (newer ones are counted and skipped). */
export const MAX_HELD_DURING_BACKFILL = 100_000;

const USAGE = `usage: meshtap tap [options]

Prints calls as the collector stores them, until Ctrl-C (or --limit); with --since, first those
of that window. A meshed call, seen by both sidecars, is one line with both latencies (client,
then server).

options:
  --collector URL      the collector's HTTP API (default: the running lab's, else ${DEFAULT_COLLECTOR_URL})   env MESHTAP_COLLECTOR_URL
  --token TOKEN        bearer token for the API (default: the lab's token for the lab's collector,
                       else the current kubeconfig user's credentials)   env MESHTAP_COLLECTOR_TOKEN
  -n, --namespace NS   only calls from or to namespace NS
  -f, --filter CEL     only calls the filter matches, e.g. 'http && status_code >= 500'
  -o, --output FORMAT  text (default), json (one JSON object per line: a call, or a record with
                       --observations) or har (collects calls, prints one HAR 1.2 document at the end)
  --observations       one item per record (each sidecar's observation) instead of per call
  --since WHEN         first print the calls that started in the last WHEN (30s, 10m, 2h, 1d) or
                       since the time WHEN (2026-12-07T02:14:00Z, or with an offset: +01:00),
                       oldest first (the newest ${MAX_BACKFILL_ITEMS} at most), then follow new ones; none twice
  --limit N            stop after N calls (HAR: N entries), those of --since included
  --join-wait MS       how long a meshed call waits for its other observation (default ${DEFAULT_JOIN_WAIT_MS})
  --json               one JSON record per line (the same as -o json --observations)
  -h, --help           show this help

Text lines: time (UTC), caller → callee, method and path, status, latency (with --observations,
client or server after the time: the sidecar that observed it); coloured when stdout is a
terminal and NO_COLOR is unset.

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
  since: { type: 'string' },
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

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

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
  // `--since -5m` is no time however it is spelt: say what was meant rather than `--since=-5m`.
  const { values } = parseCommandArgs(argv, OPTIONS, false, (flag, value) => (flag === '--since' ? negativeSinceText(value) : undefined));
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (values.namespace !== undefined && values.namespace.trim() === '') throw new MeshtapError(CLI_ERR_USAGE, '--namespace must not be empty');
  const mode = resolveTapMode(values);
  const sinceNs = values.since === undefined ? undefined : parseSinceFlag(values.since, nowNs());
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
  /** Calls `-o har` left out: not HTTP, HTTP/2 or gRPC (Redis, SQL, DNS, TCP…), by protocol. */
  const notHar = new Map<string, number>();
  const deliver = (line: () => string, call: () => JoinedCall): void => {
    if (limitReached || pipeClosed) return;
    if (mode.output === 'har') {
      const c = call();
      if (harEntry(c) === undefined) {
        notHar.set(c.protocol, (notHar.get(c.protocol) ?? 0) + 1);
        return;
      }
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
  const emitCall = (call: JoinedCall): void => deliver(() => (mode.output === 'json' ? JSON.stringify(call) : formatJoinedCallLine(call, { color })), () => call);
  const live = createLiveJoiner({ waitMs: mode.joinWaitMs, lookup, emit: emitCall });
  const onRecord = (record: CallRecordJson): void => {
    if (!mode.observations) {
      live.add(record);
      return;
    }
    const side = sideOf(record);
    deliver(
      () => (mode.output === 'json' ? JSON.stringify(record) : formatObservationLine(record, { color })),
      () => buildCall(`${callKey(record)}#${record.id}`, side === 'client' ? record : undefined, side === 'server' ? record : undefined),
    );
  };
  // What --since printed: the stream may deliver it too (stored after the stream opened, before
  // the window was read); it is not printed again. Per call: a call printed with one side is not
  // printed again when its other side arrives.
  const backfilledIds = new Set<string>();
  const backfilledCalls = new Set<string>();
  const onLiveRecord = (record: CallRecordJson): void => {
    if (backfilledIds.has(record.id) || (!mode.observations && backfilledCalls.has(callKey(record)))) return;
    onRecord(record);
  };
  /** The window's calls (or records), oldest first. */
  const printBackfill = (items: readonly (JoinedCall | CallRecordJson)[]): void => {
    let newestEnd = 0n;
    if (!mode.observations) {
      for (const call of items as JoinedCall[]) for (const r of [call.client, call.server]) if (r !== undefined && BigInt(r.end) > newestEnd) newestEnd = BigInt(r.end);
    }
    // A meshed call's other side may still be on its way for the calls that ended within
    // --join-wait of the newest: those wait for it as a live call does (the stream or a lookup).
    const recentFrom = newestEnd - BigInt(mode.joinWaitMs) * 1_000_000n;
    for (const item of items) {
      if (limitReached || pipeClosed) return;
      if (mode.observations) {
        const record = item as CallRecordJson;
        backfilledIds.add(record.id);
        onRecord(record);
        continue;
      }
      const call = item as JoinedCall;
      const have = (call.client ?? call.server)!;
      if (call.one_sided !== undefined && have.tls.mesh && call.id === callKey(have) && BigInt(have.end) >= recentFrom) {
        live.add(have);
        continue;
      }
      for (const r of [call.client, call.server]) if (r !== undefined) backfilledIds.add(r.id);
      if (call.id === callKey(have)) backfilledCalls.add(call.id);
      emitCall(call);
    }
  };
  /** Whatever is still waiting for a partner is printed as it is; a HAR document is printed whole. */
  const finish = async (): Promise<void> => {
    if (pipeClosed) return;
    live.flush();
    await live.idle();
    if (mode.output === 'har') {
      io.stdout.write(`${JSON.stringify(buildHar(harCalls, harCreator(), { leftOut: notHar }), null, 2)}\n`);
      if (notHar.size > 0) {
        const left = [...notHar].map(([protocol, n]) => `${n} ${protocol}`).join(', ');
        io.stderr.write(`meshtap tap: the HAR holds ${harCalls.length === 1 ? '1 call' : `${harCalls.length} calls`}; left out, as HAR holds only HTTP, HTTP/2 and gRPC: ${left}\n`);
      }
    }
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
    // With --since, the stream is open before the window is read: a call stored meanwhile is on
    // the stream or in the window (or both), never in neither. The stream's records wait here
    // until the window is printed; those it printed already are left out.
    let held: CallRecordJson[] | undefined = sinceNs === undefined ? undefined : [];
    let heldSkipped = 0;
    const parse = createSseParser((event) => {
      if (event.event === 'call') {
        let record: CallRecordJson;
        try {
          record = JSON.parse(event.data) as CallRecordJson;
        } catch {
          return;
        }
        if (held === undefined) onLiveRecord(record);
        else if (held.length < MAX_HELD_DURING_BACKFILL) held.push(record);
        else heldSkipped++;
      } else if (event.event === 'dropped') {
        const count = (JSON.parse(event.data) as { count?: number }).count ?? 0;
        io.stderr.write(`meshtap tap: ${count} calls were skipped: this terminal fell behind the collector\n`);
      }
    });
    const decoder = new TextDecoder();
    const reading = (async (): Promise<{ failed: false } | { failed: true; error: unknown }> => {
      try {
        for await (const chunk of res.body!) parse(decoder.decode(chunk as Uint8Array, { stream: true }));
        return { failed: false };
      } catch (error) {
        return { failed: true, error };
      }
    })();
    if (sinceNs !== undefined) {
      const window = sinceWindowText(values.since!);
      let result: BackfillResult<JoinedCall | CallRecordJson>;
      try {
        result = await readBackfill<JoinedCall | CallRecordJson>({
          since: sinceNs,
          now: nowNs(),
          page: callsPageReader({ apiBase, authorization, view: mode.observations ? 'record' : 'call', filter: source, signal: abort.signal }),
          idOf: (item) => item.id,
          startOf: (item) => BigInt(item.start),
          // A call whose two records start in two slices is read twice: the copy with both sides is kept.
          prefer: (kept, other) => ((kept as JoinedCall).one_sided !== undefined && (other as JoinedCall).one_sided === undefined ? other : kept),
        });
      } catch (err) {
        abort.abort();
        await reading;
        await finish();
        if (interrupted || pipeClosed || limitReached) return 0;
        if (err instanceof ApiAnswerError) {
          if (err.status === 400 && err.error !== undefined) {
            io.stderr.write(
              err.error.position !== undefined
                ? describeFilterError(err.error, values.filter, userOffset + err.shift)
                : `meshtap tap: the collector rejected the request for the calls ${window}: ${err.error.message}\n`,
            );
            return 2;
          }
          io.stderr.write(`meshtap tap: the collector at ${base.origin} answered ${err.status} to the request for the calls ${window}${err.error ? `: ${err.error.message}` : ''}\n`);
          return 1;
        }
        io.stderr.write(`meshtap tap: lost the connection to the collector at ${base.origin} while reading the calls ${window}: ${causeText(err)}\n`);
        return 1;
      }
      printBackfill(result.items);
      if (!limitReached && !pipeClosed) {
        const n = result.items.length;
        let note = `meshtap tap: ${n === 1 ? '1 call' : `${n} calls`} ${window}`;
        if (result.skipped > 0) {
          note += ` (the newest ${MAX_BACKFILL_ITEMS} at most: ${result.skipped}${result.skippedAtLeast ? ' or more' : ''} older ones skipped; narrow it with --filter or a shorter --since)`;
        }
        io.stderr.write(`${note}; following new calls\n`);
        if (result.incomplete) io.stderr.write(`meshtap tap: the collector could not list every call ${window} (its search stopped early): some may be missing\n`);
      }
      const queued = held!;
      held = undefined;
      for (const record of queued) onLiveRecord(record);
      if (heldSkipped > 0) io.stderr.write(`meshtap tap: ${heldSkipped} calls stored while the window was read were skipped (more than ${MAX_HELD_DURING_BACKFILL} arrived)\n`);
    }
    const outcome = await reading;
    if (outcome.failed) {
      await finish();
      if (interrupted || pipeClosed || limitReached) return 0;
      io.stderr.write(`meshtap tap: lost the connection to the collector at ${base.origin}: ${causeText(outcome.error)}\n`);
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
