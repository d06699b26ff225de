/**
 * Redis capture session: a RESP reader per direction and a pairer that turns commands and the
 * replies that answer them into one `Exchange` each.
 *
 * Redis answers commands in the order they were sent (pipelining included), so replies pair by
 * position: the oldest command still waiting owns the next reply. What breaks the one-reply rule
 * is handled by name, because only the command says it:
 *   - SUBSCRIBE a b c gets one confirmation per channel: all belong to that command;
 *   - while subscribed, the server sends messages nobody asked for (RESP2 arrays, RESP3 pushes):
 *     each is an exchange of its own, with no request;
 *   - RESP3 pushes (`>`) never answer a command (client-side caching invalidations, ...);
 *   - after `CLIENT REPLY OFF|SKIP` commands get no reply at all: they are recorded with a note
 *     instead of waiting for a reply that never comes.
 * Exchanges leave in ordinal order: one that is complete waits behind an older one still waiting
 * for its reply. Credentials (AUTH, HELLO ... AUTH, ...) and values stored under secret fields
 * or keys (`secrets.ts`) are masked before any text is built, in commands and in the replies that
 * return them (inside MULTI/EXEC too: EXEC's array is masked with the queued commands' rules).
 * Which names are secret is the sidecar's masking policy's (`maskPolicy`); a disabled policy
 * masks nothing here, credentials included, as it masks nothing in `maskRecord`.
 *
 * Like every capture session it never throws into the proxy: a stream that is not RESP is a
 * `parse_error` event, the pending commands are flushed, and the session stops observing —
 * unless the server's first answer on a connection opened inline is not RESP: then it was never
 * Redis, and the connection is one opaque `tcp` record (`notRedis` below).
 */
import type { CaptureContext, CaptureEvent, CaptureSession, CloseReason, Exchange } from '../capture/session.ts';
import { createOpaqueSession } from '../capture/opaque.ts';
import { DEFAULT_MASK_POLICY, type MaskPolicy, type SensitiveKind } from '../mask/policy.ts';
import type { HttpMessage, RecordError } from '../../record/record.ts';
import { describeCommand, isSecretConfigName, upper } from './command.ts';
import { capText, errorText, MASK, plainText, renderCommand, renderReply, replyType, valueCut, type CommandArg } from './render.ts';
import { RespReader, type RespValue, type RespValueInfo } from './resp-reader.ts';
import { maskReply, type ReplySecrets } from './secrets.ts';

export interface RedisSessionOptions {
  /**
   * Commands awaiting replies at most (pipelining). Beyond it the connection's capture is cut:
   * the waiting commands become `capture_overflow` records and the rest is not parsed. Default 128.
   */
  maxPendingExchanges?: number;
  /**
   * The masking policy (resolved once per sidecar): which field and key names hold secrets, and
   * whether to mask at all. Default `DEFAULT_MASK_POLICY`.
   */
  maskPolicy?: MaskPolicy;
}

export const DEFAULT_MAX_PENDING_EXCHANGES = 128;

type PubsubKind = 'subscribe' | 'psubscribe' | 'ssubscribe' | 'unsubscribe' | 'punsubscribe' | 'sunsubscribe';
const CONFIRMATIONS = new Set<string>(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe']);
const MESSAGES = new Set<string>(['message', 'pmessage', 'smessage']);

interface Pending {
  ordinal: number;
  /** A command from the client (else something the server sent unasked). */
  command: boolean;
  /** Everything known: a reply (or its absence) arrived. */
  done: boolean;
  start: bigint;
  requestEnd?: bigint;
  responseStart?: bigint;
  end?: bigint;
  method?: string;
  path?: string;
  request?: HttpMessage;
  /** Where the session masked a credential or a secret value itself (`request.body`, `response.body`). */
  redacted: string[];
  /** The kinds it masked (`password`, `token`, …). */
  sensitive: SensitiveKind[];
  /** Which parts of the reply hold secrets. */
  replySecrets?: ReplySecrets;
  /** EXEC: the reply rules of the commands queued since MULTI, by position. */
  execSecrets?: Array<ReplySecrets | undefined>;
  /** Rendered replies (several for SUBSCRIBE-like commands). */
  replies: string[];
  replyType?: string;
  replyCut: boolean;
  bytesOut: number;
  bytesIn: number;
  notes: string[];
  error?: RecordError;
  errorDetail?: string;
  /** SUBSCRIBE-like: confirmations expected (undefined: "all", ends when none is left). */
  pubsub?: { kind: PubsubKind; expected?: number; got: number };
  /** HELLO's protocol version, applied when its reply is not an error. */
  hello?: number;
  reset?: boolean;
  monitor?: boolean;
  configGet?: boolean;
}

const REQUEST_CAP_NOTE = 'request.body: rendered command cut at the body limit';

export function createRedisSession(ctx: CaptureContext, options: RedisSessionOptions = {}): CaptureSession {
  const maxBody = Math.max(0, ctx.maxBodyBytes);
  const maxPending = options.maxPendingExchanges ?? DEFAULT_MAX_PENDING_EXCHANGES;
  const policy = options.maskPolicy ?? DEFAULT_MASK_POLICY;

  let mode: 'active' | 'stopped' | 'opaque' | 'closed' = 'active';
  let now = 0n;
  let nextOrdinal = 0;
  const queue: Pending[] = [];
  let commandStart = 0n;
  let replyStart = 0n;
  /** Connection state that changes how replies pair. */
  let resp3 = false;
  let channels = 0;
  let patterns = 0;
  let shards = 0;
  let replyOff = false;
  let skipNext = false;
  let monitoring = false;
  /** Inside MULTI: the reply rules of the commands queued so far (EXEC answers them in one array). */
  let queued: Array<ReplySecrets | undefined> | undefined;
  /** After a gap: the client waits for a chunk starting a RESP array, the server for the client. */
  let resyncClient = false;
  let resyncServer = false;
  let resumed = false;
  /**
   * Not Redis after all. An inline first line (`GET key`, `set k 0 0 3`) is how memcached's text
   * protocol and other line protocols open too; when the server's first answer is not RESP and
   * nothing was recorded yet, the connection is an opaque `tcp` one from its start (`opaque`),
   * not a Redis parse error.
   */
  let inlineOpened: boolean | undefined;
  let firstAt: bigint | undefined;
  let clientBytes = 0;
  let serverBytes = 0;
  let replied = false;
  let emitted = 0;
  let notRedis = false;
  let opaque: CaptureSession | undefined;

  const safeEmit = (exchange: Exchange): void => {
    emitted++;
    try {
      ctx.emit(exchange);
    } catch {
      // A failing sink must not break parsing of the connection.
    }
  };
  const safeEvent = (event: CaptureEvent): void => {
    try {
      ctx.event(event);
    } catch {
      // Metrics are best effort.
    }
  };

  const awaiting = (): Pending | undefined => {
    for (const p of queue) if (!p.done) return p;
    return undefined;
  };

  const newPending = (command: boolean, start: bigint): Pending => ({
    ordinal: nextOrdinal++,
    command,
    done: false,
    start,
    redacted: [],
    sensitive: [],
    replies: [],
    replyCut: false,
    bytesOut: 0,
    bytesIn: 0,
    notes: [],
  });

  const toExchange = (p: Pending, error?: RecordError, detail?: string): Exchange => {
    const out: Exchange = {
      protocol: 'redis',
      ordinal: p.ordinal,
      start: p.start,
      end: p.end ?? now,
      bytes_out: p.bytesOut,
      bytes_in: p.bytesIn,
    };
    if (p.requestEnd !== undefined) out.request_end = p.requestEnd;
    if (p.responseStart !== undefined) out.response_start = p.responseStart;
    if (p.method !== undefined) out.method = p.method;
    if (p.path !== undefined) out.path = p.path;
    if (p.request !== undefined) out.request = p.request;
    if (p.replies.length > 0) {
      const { body, truncated } = capText(p.replies.join('\n'), maxBody);
      if (truncated) safeEvent({ kind: 'body_truncated' });
      out.response = {
        headers: { 'reply-type': p.replyType ?? 'simple' },
        body,
        body_size: p.bytesIn,
        truncated: truncated || p.replyCut,
        content_type: 'text/plain',
      };
    }
    const err = error ?? p.error;
    if (err !== undefined) out.error = err;
    const det = error !== undefined ? detail : p.errorDetail;
    if (det !== undefined) out.error_detail = det;
    if (p.notes.length > 0) out.notes = p.notes.slice();
    if (p.redacted.length > 0) {
      out.redacted = p.redacted.slice();
      out.sensitive = p.sensitive.length > 0 ? p.sensitive.slice() : ['password'];
    }
    return out;
  };

  const emitReady = (): void => {
    while (queue.length > 0 && queue[0].done) safeEmit(toExchange(queue.shift() as Pending));
  };

  const detached = (): Pending => newPending(false, now);

  /**
   * Capture stops here (or loses its framing): complete exchanges go out as they are; the command
   * in trouble (the oldest waiting one, or a marker record when there is none or the fault is
   * the client's) gets `error`, with `who: 'all'` every waiting one does, the others are unpaired.
   */
  const flushAll = (error: RecordError, detail: string | undefined, who: 'head' | 'all' | 'marker'): void => {
    const pending = queue.splice(0, queue.length);
    const head = pending.find((p) => !p.done);
    if (head !== undefined) head.bytesIn += serverReader.messageBytes;
    let culprit: Pending | undefined;
    if (who === 'marker' || head === undefined) {
      culprit = detached();
      pending.push(culprit);
    } else if (who === 'head') culprit = head;
    for (const p of pending) {
      p.end ??= now;
      if (p.done) safeEmit(toExchange(p));
      else if (who === 'all' || p === culprit) safeEmit(toExchange(p, error, detail));
      else safeEmit(toExchange(p, 'unpaired'));
    }
  };

  const stop = (): void => {
    mode = 'stopped';
    clientReader.stop();
    serverReader.stop();
  };

  const parseError = (side: 'client' | 'server', detail: string): void => {
    if (mode !== 'active') return;
    stop();
    if (side === 'server' && inlineOpened === true && !replied && emitted === 0) {
      notRedis = true;
      return;
    }
    const message = `redis ${side} stream: ${detail}`;
    safeEvent({ kind: 'parse_error', side, detail: message });
    // A broken reply belongs to the command waiting for it; a broken command to no one yet.
    flushAll('parse', message, side === 'server' ? 'head' : 'marker');
  };

  const cutBacklog = (): void => {
    stop();
    safeEvent({ kind: 'capture_overflow', reason: 'pending_exchanges' });
    flushAll('capture_overflow', `more than ${maxPending} commands awaiting replies: capture stopped for this connection`, 'all');
  };

  // ---- client side ---------------------------------------------------------------------------

  const onCommand = (value: RespValue, info: RespValueInfo): void => {
    const args: CommandArg[] = [];
    for (const item of value.items ?? []) {
      if (item.data !== undefined) args.push({ data: item.data, size: item.size ?? item.data.length, skipped: item.skipped });
      else args.push({ data: Buffer.from(item.text ?? renderReply(item), 'utf8'), size: item.size ?? Buffer.byteLength(item.text ?? '') });
    }
    // Redis ignores empty commands (`*0`, blank inline lines): no reply, no record.
    if (args.length === 0) return;
    if (queue.length >= maxPending) {
      cutBacklog();
      return;
    }
    const cmd = describeCommand(args, policy);
    const p = newPending(true, commandStart);
    p.requestEnd = now;
    p.method = cmd.name;
    if (cmd.key !== undefined) p.path = cmd.key;
    p.bytesOut = info.wireBytes;
    if (cmd.masked.size > 0) {
      p.redacted.push('request.body');
      p.sensitive.push(...cmd.sensitive);
    }
    if (cmd.reply !== undefined) p.replySecrets = cmd.reply;
    const dropped = value.dropped ?? 0;
    let text = renderCommand(args, cmd.masked, maxBody);
    if (dropped > 0) text += ` \u2026 [${dropped} more arguments not kept]`;
    const { body, truncated } = capText(text, maxBody);
    const argsCut = dropped > 0 || args.some((a) => a.data.length < a.size || (a.skipped ?? 0) > 0);
    if (truncated || argsCut) safeEvent({ kind: 'body_truncated' });
    if (truncated) p.notes.push(REQUEST_CAP_NOTE);
    if (info.skipped > 0) p.notes.push(`request.body: ${info.skipped} bytes not captured (capture fell behind forwarding)`);
    if (value.inline) p.notes.push('inline command');
    p.request = { headers: {}, body, body_size: info.wireBytes, truncated: truncated || argsCut, content_type: 'text/plain' };
    if (resumed) {
      resumed = false;
      p.notes.push('capture resumed after a gap: commands in the gap were not captured');
    }

    const name = cmd.name;
    const sub = upper(args[2]);
    // CLIENT REPLY: OFF and SKIP are never answered; SKIP also silences the next command.
    const skipping = skipNext;
    skipNext = false;
    let silentBy: string | undefined;
    if (name === 'CLIENT REPLY' && sub === 'ON') {
      replyOff = false;
    } else if (name === 'CLIENT REPLY' && sub === 'OFF') {
      replyOff = true;
      silentBy = 'OFF';
    } else if (name === 'CLIENT REPLY' && sub === 'SKIP') {
      if (!replyOff) skipNext = true;
      silentBy = replyOff ? 'OFF' : 'SKIP';
    } else if (replyOff) silentBy = 'OFF';
    else if (skipping) silentBy = 'SKIP';

    if (silentBy !== undefined) {
      p.done = true;
      p.end = now;
      p.notes.push(`no reply (CLIENT REPLY ${silentBy})`);
      queue.push(p);
      emitReady();
      return;
    }
    const lower = name.toLowerCase();
    if (CONFIRMATIONS.has(lower)) {
      const kind = lower as PubsubKind;
      const explicit = args.length - 1;
      p.pubsub = { kind, got: 0 };
      // SUBSCRIBE without channels is an error reply; UNSUBSCRIBE without channels means all.
      if (explicit > 0 || kind.endsWith('subscribe') && !kind.includes('un')) p.pubsub.expected = Math.max(1, explicit);
    }
    if (name === 'HELLO' && args.length > 1) p.hello = Number(args[1].data.toString('latin1'));
    if (name === 'RESET') p.reset = true;
    if (name === 'MONITOR') p.monitor = true;
    if (name === 'CONFIG GET' && policy.enabled) p.configGet = true;
    if (name === 'MULTI') queued = [];
    else if (name === 'EXEC') {
      if (queued?.some((r) => r !== undefined)) p.execSecrets = queued;
      queued = undefined;
    } else if (name === 'DISCARD' || name === 'RESET') queued = undefined;
    else queued?.push(cmd.reply);
    queue.push(p);
  };

  // ---- server side ---------------------------------------------------------------------------

  /** `shown`: the reply with its secrets masked (`v` itself when it has none). */
  const addReply = (p: Pending, v: RespValue, info: RespValueInfo, shown: RespValue = v): void => {
    p.responseStart ??= replyStart;
    p.end = now;
    p.bytesIn += info.wireBytes;
    p.replyType ??= replyType(v);
    p.replies.push(renderReply(shown, maxBody));
    if (valueCut(v)) {
      if (!p.replyCut) safeEvent({ kind: 'body_truncated' });
      p.replyCut = true;
    }
    if (info.skipped > 0) p.notes.push(`response.body: ${info.skipped} bytes not captured (capture fell behind forwarding)`);
  };

  /** Something the server sent that answers no command: an exchange of its own. */
  const serverOnly = (v: RespValue, info: RespValueInfo, method: string | undefined, path?: string): Pending => {
    const p = newPending(false, replyStart);
    if (method !== undefined) p.method = method;
    if (path !== undefined) p.path = path;
    addReply(p, v, info);
    p.done = true;
    queue.push(p);
    return p;
  };

  const itemText = (v: RespValue | undefined): string | undefined => {
    if (v === undefined) return undefined;
    if (v.data !== undefined) return v.data.toString('latin1');
    return v.text;
  };

  const intOf = (v: RespValue | undefined): number | undefined => {
    if (v?.kind !== 'integer' || v.text === undefined) return undefined;
    const n = Number(v.text);
    return Number.isFinite(n) ? n : undefined;
  };

  const onMessage = (v: RespValue, info: RespValueInfo, kind: string): void => {
    const items = v.items ?? [];
    const pattern = kind === 'pmessage';
    const channel = items[pattern ? 2 : 1];
    const payload = items[pattern ? 3 : 2];
    const p = serverOnly(v, info, kind.toUpperCase(), channel?.data !== undefined ? plainText(channel.data) : undefined);
    // The record shows the payload; the channel is its path.
    p.replies = [payload === undefined ? '(nil)' : renderReply(payload, maxBody)];
    if (pattern && items[1]?.data !== undefined) p.notes.push(`pattern: ${plainText(items[1].data)}`);
  };

  const onConfirmation = (v: RespValue, info: RespValueInfo, kind: PubsubKind): void => {
    const items = v.items ?? [];
    const count = intOf(items[2]);
    if (count !== undefined) {
      if (kind === 'subscribe' || kind === 'unsubscribe') channels = Math.max(0, count - patterns);
      else if (kind === 'psubscribe' || kind === 'punsubscribe') patterns = Math.max(0, count - channels);
      else shards = count;
    }
    const head = awaiting();
    const channel = items[1];
    if (head?.pubsub === undefined || head.pubsub.kind !== kind) {
      // Not asked for (the server dropped a shard channel, or state was lost): its own record.
      const p = serverOnly(v, info, kind.toUpperCase(), channel?.data !== undefined ? plainText(channel.data) : undefined);
      p.notes.push('confirmation without a pending command');
      emitReady();
      return;
    }
    addReply(head, v, info);
    head.pubsub.got++;
    const own = kind.startsWith('s') ? shards : kind.startsWith('p') ? patterns : channels;
    const done = head.pubsub.expected !== undefined ? head.pubsub.got >= head.pubsub.expected : channel?.kind === 'null' || own === 0;
    if (done) {
      head.done = true;
      emitReady();
    }
  };

  const afterReply = (p: Pending, v: RespValue): void => {
    const failed = v.kind === 'error' || v.kind === 'blob_error';
    if (failed) {
      p.error = 'server_error';
      p.errorDetail = errorText(v);
      return;
    }
    if (p.hello === 2 || p.hello === 3) resp3 = p.hello === 3;
    if (p.reset) {
      queued = undefined;
      resp3 = false;
      channels = patterns = shards = 0;
      replyOff = skipNext = false;
      monitoring = false;
    }
    if (p.monitor) monitoring = true;
  };

  const maskedResponse = (p: Pending, kinds: readonly SensitiveKind[]): void => {
    if (kinds.length === 0) return;
    if (!p.redacted.includes('response.body')) p.redacted.push('response.body');
    for (const k of kinds) if (!p.sensitive.includes(k)) p.sensitive.push(k);
  };

  /** CONFIG GET answers parameter/value pairs: values of secret parameters never leave the session. */
  const maskConfigReply = (p: Pending, v: RespValue): void => {
    const items = v.items;
    if (items === undefined) return;
    for (let i = 0; i + 1 < items.length; i += 2) {
      const name = itemText(items[i]);
      if (name !== undefined && isSecretConfigName(name) && (items[i + 1].data?.length ?? 0) > 0) {
        items[i + 1] = { kind: 'simple', text: MASK };
        maskedResponse(p, ['password']);
      }
    }
  };

  /** The reply with the secret values the command's rules (or, for EXEC, the queued commands' rules) point at masked. */
  const shownReply = (p: Pending, v: RespValue): RespValue => {
    if (p.replySecrets !== undefined) {
      const { value, kinds } = maskReply(v, p.replySecrets, policy);
      maskedResponse(p, kinds);
      return value;
    }
    const rules = p.execSecrets;
    if (rules === undefined || v.items === undefined) return v;
    let items: RespValue[] | undefined;
    rules.forEach((rule, i) => {
      const item = v.items?.[i];
      if (rule === undefined || item === undefined) return;
      const { value, kinds } = maskReply(item, rule, policy);
      maskedResponse(p, kinds);
      if (value !== item) (items ??= v.items!.slice())[i] = value;
    });
    return items === undefined ? v : { ...v, items };
  };

  const onReply = (v: RespValue, info: RespValueInfo): void => {
    replied = true;
    const items = v.items ?? [];
    const first = items[0]?.kind === 'bulk' || items[0]?.kind === 'simple' ? (itemText(items[0]) ?? '').toLowerCase() : '';
    if (v.kind === 'push') {
      resp3 = true;
      if (MESSAGES.has(first)) onMessage(v, info, first);
      else if (CONFIRMATIONS.has(first)) onConfirmation(v, info, first as PubsubKind);
      else {
        const p = serverOnly(v, info, 'PUSH');
        if (first !== '') p.notes.push(`push: ${first}`);
      }
      emitReady();
      return;
    }
    const head = awaiting();
    const subscribed = channels + patterns + shards > 0 || head?.pubsub !== undefined;
    if (!resp3 && v.kind === 'array' && subscribed && (MESSAGES.has(first) || CONFIRMATIONS.has(first))) {
      if (MESSAGES.has(first)) onMessage(v, info, first);
      else onConfirmation(v, info, first as PubsubKind);
      emitReady();
      return;
    }
    if (head === undefined) {
      if (monitoring && v.kind === 'simple') serverOnly(v, info, 'MONITOR');
      else {
        const p = serverOnly(v, info, undefined);
        p.error = 'unpaired';
        p.errorDetail = 'reply without a pending command';
      }
      emitReady();
      return;
    }
    if (head.configGet) maskConfigReply(head, v);
    addReply(head, v, info, shownReply(head, v));
    head.done = true;
    afterReply(head, v);
    emitReady();
  };

  const clientReader = new RespReader(
    {
      onBegin() {
        commandStart = now;
      },
      onValue: onCommand,
      onError(detail) {
        parseError('client', detail);
      },
    },
    { side: 'client', maxBodyBytes: maxBody },
  );

  const serverReader = new RespReader(
    {
      onBegin() {
        replyStart = now;
      },
      onValue: onReply,
      onError(detail) {
        parseError('server', detail);
      },
    },
    { side: 'server', maxBodyBytes: maxBody },
  );

  const guard = (side: 'client' | 'server', fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      try {
        parseError(side, `internal: ${err instanceof Error ? err.message : String(err)}`);
      } catch {
        mode = 'stopped';
      }
    }
  };

  const resync = (): void => {
    queued = undefined;
    flushAll('capture_overflow', 'capture fell behind forwarding: bytes of this call were not captured', 'all');
    clientReader.reset();
    serverReader.reset();
    resyncClient = true;
    resyncServer = true;
  };

  const flushAtClose = (reason: CloseReason): void => {
    const pending = queue.splice(0, queue.length);
    const head = pending.find((p) => !p.done);
    if (head !== undefined) head.bytesIn += serverReader.messageBytes;
    let first = true;
    for (const p of pending) {
      p.end ??= now;
      if (p.done) {
        safeEmit(toExchange(p));
        continue;
      }
      let error: RecordError;
      if (reason === 'capture_overflow') error = 'capture_overflow';
      else if (reason === 'reset' || reason === 'error') error = first ? 'reset' : 'unpaired';
      else if (reason === 'timeout') error = first ? 'timeout' : 'unpaired';
      else error = first ? 'closed' : 'unpaired';
      first = false;
      p.end = now;
      safeEmit(toExchange(p, error));
    }
    // A command the client had begun and never finished: no command to name, but a record, so
    // the bytes it sent are not silently lost.
    const partial = clientReader.messageBytes;
    if (partial > 0 && reason !== 'capture_overflow') {
      const p = newPending(true, commandStart);
      p.bytesOut = partial;
      p.end = now;
      p.notes.push(`request: a command cut off after ${partial} bytes by the connection's end (${reason}), never sent whole`);
      safeEmit(toExchange(p, reason === 'reset' || reason === 'error' ? 'reset' : reason === 'timeout' ? 'timeout' : 'closed'));
    }
  };

  return {
    clientData(chunk, t) {
      if (mode === 'opaque') return opaque!.clientData(chunk, t);
      if (mode !== 'active') return;
      now = t;
      if (inlineOpened === undefined && chunk.byteLength > 0) {
        inlineOpened = chunk[0] !== 0x2a;
        firstAt = t;
      }
      clientBytes += chunk.byteLength;
      if (resyncClient) {
        if (!startsCommand(chunk)) return;
        resyncClient = false;
        resumed = true;
      }
      guard('client', () => clientReader.execute(chunk));
    },
    serverData(chunk, t) {
      if (mode === 'opaque') return opaque!.serverData(chunk, t);
      if (mode !== 'active') return;
      now = t;
      if (resyncServer) {
        // Replies to commands in the gap come before the first command after it: skipped.
        if (resyncClient || !startsReply(chunk)) return;
        resyncServer = false;
      }
      guard('server', () => serverReader.execute(chunk));
      if (notRedis) {
        queue.length = 0;
        mode = 'opaque';
        opaque = createOpaqueSession(ctx, 'tcp', { start: firstAt ?? t, ordinal: 0, bytesOut: clientBytes, bytesIn: serverBytes });
        opaque.serverData(chunk, t);
        return;
      }
      serverBytes += chunk.byteLength;
    },
    skipClient(n, t) {
      if (mode === 'opaque') return opaque!.skipClient?.(n, t) ?? true;
      clientBytes += n;
      if (mode !== 'active' || resyncClient) return true;
      now = t;
      return clientReader.skip(n);
    },
    skipServer(n, t) {
      if (mode === 'opaque') return opaque!.skipServer?.(n, t) ?? true;
      serverBytes += n;
      if (mode !== 'active' || resyncServer) return true;
      now = t;
      return serverReader.skip(n);
    },
    resync(t) {
      // The caller counts the cut (it knows which budget was full).
      if (mode !== 'active') return;
      now = t;
      guard('server', resync);
    },
    clientEnd(t) {
      if (mode === 'opaque') return opaque!.clientEnd(t);
      if (mode === 'active') now = t;
    },
    serverEnd(t) {
      if (mode === 'opaque') return opaque!.serverEnd(t);
      if (mode === 'active') now = t;
    },
    close(t, reason) {
      if (mode === 'opaque') {
        mode = 'closed';
        return opaque!.close(t, reason);
      }
      if (mode === 'closed') return;
      const wasActive = mode === 'active';
      mode = 'closed';
      if (!wasActive) return;
      now = t;
      try {
        flushAtClose(reason);
      } catch {
        // Nothing more can be done for this connection's records.
      }
    },
  };
}

/** `*<digits>\r\n` at the start of a chunk: where capture resumes after a gap. */
function startsCommand(chunk: Uint8Array): boolean {
  const head = Buffer.from(chunk.buffer, chunk.byteOffset, Math.min(chunk.byteLength, 16)).toString('latin1');
  return /^\*\d{1,10}\r\n/.test(head);
}

/** A chunk that starts with a plausible reply: a type byte and a sane first line. */
function startsReply(chunk: Uint8Array): boolean {
  const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const lf = buf.indexOf(0x0a);
  if (lf === -1 || lf > 4096) return false;
  const line = buf.toString('latin1', 0, lf);
  return /^([+\-:,(#_][^\r]*|[$*%~>|!=](-1|\d{1,12}))\r$/.test(line);
}
