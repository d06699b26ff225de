/**
 * HTTP/1.x capture session: two parsers (client→server requests, server→client responses)
 * and a pairer that turns their events into one `Exchange` per request/response, in order.
 *
 * Pairing is by position: HTTP/1 answers requests in the order they were sent, so the first
 * exchange still waiting for a final response owns the next response (keep-alive and
 * pipelining alike). Interim 1xx responses are counted into that exchange but do not finish it.
 *
 * Each exchange is a pair of small state machines, one per direction, because the directions
 * overlap in real traffic (a 100-continue arrives before the request body, a 413 may be sent
 * before the body ends):
 *   request:  request_head → request_body → request_done
 *   response: awaiting_response → response_head → response_body → response_done
 *                                      └─(interim 1xx complete)→ awaiting_response
 * An exchange is emitted when both halves are done. Any other transition is a bug: it is thrown
 * inside and caught at the session boundary, where it becomes a parse error (the proxy keeps
 * forwarding; this session stops observing).
 *
 * A server whose bytes do not even start like HTTP/1 (an HTTP/2-only server's SETTINGS frame, a
 * TLS alert) gave the call waiting for an answer its failed answer — also when those bytes came
 * before the request crossed the proxy, as an HTTP/2 server writes its SETTINGS as soon as it
 * accepts. They never make a record of their own ahead of the request: the client's and the
 * server's sidecars, which see the two directions in different orders, must number the call
 * alike, since their records are joined by connection and ordinal.
 */
import type { CaptureContext, CaptureSession, CloseReason, Exchange } from '../capture/session.ts';
import { createOpaqueSession } from '../capture/opaque.ts';
import type { RecordError } from '../../record/record.ts';
import { describeError } from '../../lib/errors.ts';
import { HTTP1_ERR, stateError, type Http1ParseError } from './errors.ts';
import { ForeignAnswer } from './foreign-answer.ts';
import { buildHeaderRecord } from './headers.ts';
import { octetText } from './octet-text.ts';
import { captureBodyBytes, skipBodyBytes, type MessageCapture } from '../capture/message-capture.ts';
import { advanceRequest, advanceResponse, buildExchange, newCapture, type PendingExchange } from './exchange-capture.ts';
import { DEFAULT_MAX_HEAD_BYTES, Http1Parser, type Http1Head, type Http1ParserHandler } from './parser.ts';
import { resolveTraceContext } from './trace-context.ts';
import { startUpgradeTail, type UpgradeSessionFactory } from './upgrade.ts';

export interface Http1SessionOptions {
  /** Head (and trailer section) size limit per message. Default 64 KiB. */
  maxHeadBytes?: number;
  /**
   * Client bytes kept while an upgrade (or CONNECT) is undecided. Beyond this they are only
   * counted; if the upgrade is then refused, capture stops. Default 64 KiB.
   */
  maxHeldBytes?: number;
  /**
   * Requests awaiting their responses at most (pipelining). Beyond it the connection's capture
   * is cut: the waiting requests become `capture_overflow` records and the rest of the
   * connection is not parsed. Default 128.
   */
  maxPendingExchanges?: number;
  /**
   * The parser for what follows a switch of protocols (`h2c`, `websocket`), injected so this
   * file knows no other protocol. Undefined, or returning undefined: the rest of the
   * connection is one opaque record. The session it returns numbers its exchanges from 0; they
   * are shifted past this connection's HTTP/1 ones.
   */
  upgradeSession?: UpgradeSessionFactory;
}

export const DEFAULT_MAX_PENDING_EXCHANGES = 128;

const ABSOLUTE_FORM = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)([^#]*)/;

interface HeldChunk {
  data: Buffer;
  now: bigint;
}

const REQUEST_LINE = /^[A-Z]{3,16} [^ \r\n]+ HTTP\/1\.[01]\r?$/;
const STATUS_LINE = /^HTTP\/1\.[01] \d{3}/;

/** The first line of `chunk` (up to 8 KiB), as latin1, or undefined without a line end. */
function firstLine(chunk: Uint8Array): string | undefined {
  const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const lf = buf.indexOf(10);
  if (lf === -1 || lf > 8192) return undefined;
  return buf.toString('latin1', 0, lf);
}

/** A chunk that starts with a request line: where capture resumes after a gap. */
function startsRequest(chunk: Uint8Array): boolean {
  const line = firstLine(chunk);
  return line !== undefined && REQUEST_LINE.test(line);
}

function startsResponse(chunk: Uint8Array): boolean {
  const line = firstLine(chunk);
  return line !== undefined && STATUS_LINE.test(line);
}

export function createHttp1Session(ctx: CaptureContext, options: Http1SessionOptions = {}): CaptureSession {
  const maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
  const maxHeldBytes = options.maxHeldBytes ?? 64 * 1024;
  const maxBody = Math.max(0, ctx.maxBodyBytes);
  const maxPending = options.maxPendingExchanges ?? DEFAULT_MAX_PENDING_EXCHANGES;

  let mode: 'http' | 'upgraded' | 'stopped' | 'closed' = 'http';
  let now = 0n;
  let nextOrdinal = 0;
  /** Exchanges not yet emitted, in ordinal order. */
  const queue: PendingExchange[] = [];
  /** The exchange receiving request bytes. */
  let reqCurrent: PendingExchange | undefined;
  /** The exchange receiving response bytes. */
  let resCurrent: PendingExchange | undefined;
  /** Client bytes after a request that asked to switch protocols, until the answer is known. */
  let holding = false;
  let held: HeldChunk[] = [];
  let heldBytes = 0;
  let heldOverflow = false;
  let tail: CaptureSession | undefined;
  /** After a gap: each side waits for a chunk that starts a message (the server after the client). */
  let resyncClient = false;
  let resyncServer = false;
  let resumed = false;
  /**
   * A request whose head failed (too large, a bad header) waits for its response before capture
   * stops: the server's answer (often a 400 or 431) and its bytes are what became of it. Nothing
   * more of the client's bytes is parsed meanwhile; the responses to the requests before it are.
   */
  let failedRequest: { culprit: PendingExchange; code: string; message: string } | undefined;
  /**
   * The server answered in another protocol: every byte it sends from there is counted for the
   * call waiting for an answer, whose record goes out when the connection ends (or capture is
   * cut) — the same record, bytes and all, whichever direction's bytes came first. The client's
   * bytes are still parsed, so a request that was not read whole yet still says what it asked.
   */
  let foreign: ForeignAnswer | undefined;

  const safeEmit = (exchange: Exchange): void => {
    try {
      ctx.emit(exchange);
    } catch {
      // A failing sink must not break parsing of the connection.
    }
  };
  const safeEvent = (event: Parameters<CaptureContext['event']>[0]): void => {
    try {
      ctx.event(event);
    } catch {
      // Same as above: metrics are best effort.
    }
  };

  const awaitingResponse = (): PendingExchange | undefined => {
    for (let i = 0; i < queue.length; i++) if (queue[i].res !== 'response_done') return queue[i];
    return undefined;
  };

  const skipBody = (cap: MessageCapture | undefined, n: number): void => {
    if (skipBodyBytes(cap, n, maxBody)) safeEvent({ kind: 'body_truncated' });
  };
  const captureBody = (cap: MessageCapture, data: Uint8Array): void => {
    if (captureBodyBytes(cap, data, maxBody)) safeEvent({ kind: 'body_truncated' });
  };
  const toExchange = (ex: PendingExchange, error?: RecordError, detail?: string): Exchange => buildExchange(ex, now, maxBody, error, detail);
  /** One side's body and trailer handlers, on that side's message in progress. */
  const messageParts = (side: 'request' | 'response', message: () => MessageCapture | undefined): Pick<Http1ParserHandler, 'onBody' | 'onBodySkipped' | 'onTrailers'> => ({
    onBody(data) {
      const cap = message();
      if (cap === undefined) throw stateError(`${side} body without a head`);
      captureBody(cap, data);
    },
    onBodySkipped(n) {
      skipBody(message(), n);
    },
    onTrailers(list) {
      const cap = message();
      if (cap === undefined) throw stateError(`${side} trailers without a head`);
      cap.trailers = buildHeaderRecord(list);
    },
  });

  const newExchange = (responseOnly: boolean): PendingExchange => {
    const ex: PendingExchange = {
      ordinal: nextOrdinal++,
      req: responseOnly ? 'request_done' : 'request_head',
      res: 'awaiting_response',
      responseOnly,
      start: now,
      interim: false,
      bytesOut: 0,
      bytesIn: 0,
      notes: [],
    };
    if (resumed && !responseOnly) {
      resumed = false;
      ex.notes.push('capture resumed after a gap: calls in the gap were not captured');
    }
    queue.push(ex);
    return ex;
  };

  const emitReady = (): void => {
    while (queue.length > 0 && queue[0].req === 'request_done' && queue[0].res === 'response_done') {
      const ex = queue.shift() as PendingExchange;
      safeEmit(toExchange(ex, ex.responseOnly ? 'unpaired' : undefined));
    }
  };

  /**
   * A request whose head never completed (it failed, or the connection ended inside it) takes
   * its method and path from its request line, when that was read.
   */
  const nameFromRequestLine = (ex: PendingExchange): void => {
    if (ex.method !== undefined) return;
    const line = requests.requestLine();
    if (line === undefined) return;
    ex.method = line.method;
    const abs = line.method === 'CONNECT' ? null : ABSOLUTE_FORM.exec(line.target);
    ex.path = octetText(abs === null ? line.target : abs[2].length > 0 ? abs[2] : '/');
  };

  /** Capture stops: the exchange in trouble gets `error`, the others waiting behind it are unpaired. */
  const stopWith = (side: 'client' | 'server', code: string, message: string, culprit: PendingExchange | undefined): void => {
    if (failedRequest !== undefined) {
      // Whatever stops capture now, the request that failed first is the one in trouble.
      ({ culprit, code, message } = failedRequest);
      side = 'client';
      failedRequest = undefined;
    }
    // A foreign answer was all the server sent the call in trouble: its bytes are that call's.
    const foreignBytes = foreign?.bytes ?? 0;
    foreign = undefined;
    mode = 'stopped';
    requests.stop();
    responses.stop();
    held = [];
    const detail = `${code}: ${message}`;
    safeEvent({ kind: 'parse_error', side, detail });
    const pending = queue.splice(0, queue.length);
    if (culprit === undefined || !pending.includes(culprit)) {
      culprit = newExchangeDetached();
      pending.push(culprit);
    }
    // A request whose head failed after its request line (too large, a bad header), or was not read whole yet, still says what it asked for.
    if (culprit === reqCurrent) nameFromRequestLine(culprit);
    for (const ex of pending) {
      if (ex === reqCurrent) ex.bytesOut += requests.messageBytes;
      if (ex === resCurrent) ex.bytesIn += responses.messageBytes;
      if (ex === culprit) ex.bytesIn += foreignBytes;
      ex.end = now;
      if (ex === culprit) safeEmit(toExchange(ex, 'parse', detail));
      else safeEmit(toExchange(ex, ex.req === 'request_done' && ex.res === 'response_done' && !ex.responseOnly ? undefined : 'unpaired'));
    }
  };

  /** Too many requests wait for responses: they become `capture_overflow` records and capture stops. */
  const cutBacklog = (): void => {
    if (foreign !== undefined) {
      // Capture stops either way; the call that got the foreign answer says what happened.
      endForeign();
      return;
    }
    mode = 'stopped';
    requests.stop();
    responses.stop();
    held = [];
    safeEvent({ kind: 'capture_overflow', reason: 'pending_exchanges' });
    const detail = `more than ${maxPending} requests awaiting responses: capture stopped for this connection`;
    for (const ex of queue.splice(0, queue.length)) {
      if (ex === reqCurrent) ex.bytesOut += requests.messageBytes;
      if (ex === resCurrent) ex.bytesIn += responses.messageBytes;
      ex.end = now;
      safeEmit(toExchange(ex, ex.req === 'request_done' && ex.res === 'response_done' ? undefined : 'capture_overflow', detail));
    }
    reqCurrent = undefined;
    resCurrent = undefined;
  };

  /** Framing lost to a gap: pending calls become `capture_overflow` records, both sides look for the next message. */
  const resync = (): void => {
    const detail = 'capture fell behind forwarding: bytes of this call were not captured';
    const pending = queue.splice(0, queue.length);
    if (pending.length === 0) pending.push(newExchangeDetached());
    for (const ex of pending) {
      if (ex === reqCurrent) ex.bytesOut += requests.messageBytes;
      if (ex === resCurrent) ex.bytesIn += responses.messageBytes;
      ex.end = now;
      safeEmit(toExchange(ex, ex.req === 'request_done' && ex.res === 'response_done' ? undefined : 'capture_overflow', detail));
    }
    reqCurrent = undefined;
    resCurrent = undefined;
    requests.reset();
    responses.reset();
    holding = false;
    held = [];
    heldBytes = 0;
    resyncClient = true;
    resyncServer = true;
  };

  const newExchangeDetached = (): PendingExchange => {
    const ex = newExchange(false);
    queue.pop();
    return ex;
  };

  const onParseError = (side: 'client' | 'server', err: Http1ParseError): void => {
    if (side === 'server' && err.notHttp1 !== undefined) {
      startForeign(err.notHttp1.before);
      return;
    }
    if (side === 'client' && failedRequest === undefined && reqCurrent !== undefined && !holding) {
      requests.stop();
      failedRequest = { culprit: reqCurrent, code: err.code, message: err.message };
      return;
    }
    stopWith(side, err.code, err.message, side === 'client' ? reqCurrent : resCurrent);
  };
  /** The failed request's response ended (or the connection did): its record goes out, capture stops. */
  const endFailedRequest = (): void => {
    const f = failedRequest!;
    stopWith('client', f.code, f.message, f.culprit);
  };

  /**
   * The server's bytes are no HTTP/1 at all. A response-only exchange begun for them was never a
   * response: it is withdrawn, ordinal and all, so the request that crosses the proxy next takes
   * the ordinal it would have had. (Only when no request began since: an ordinal handed out stays
   * handed out, and that rare exchange then carries the failure itself.)
   */
  const startForeign = (before: Uint8Array): void => {
    const ex = resCurrent;
    resCurrent = undefined;
    foreign = new ForeignAnswer();
    foreign.add(before);
    if (ex !== undefined && ex.responseOnly && queue[queue.length - 1] === ex && ex.ordinal === nextOrdinal - 1) {
      queue.pop();
      nextOrdinal--;
    }
  };
  /** The connection ended (or capture was cut) after a foreign answer: the call waiting for an answer failed with it. */
  const endForeign = (): void => {
    const f = foreign!;
    const culprit = awaitingResponse();
    if (culprit !== undefined && culprit === reqCurrent && culprit.req === 'request_head') culprit.notes.push('request head incomplete');
    stopWith('server', HTTP1_ERR.START_LINE, f.describe(), culprit);
  };

  const requests: Http1Parser = new Http1Parser(
    'request',
    {
      onMessageBegin() {
        if (queue.length >= maxPending) {
          cutBacklog();
          return;
        }
        reqCurrent = newExchange(false);
      },
      onHead(head: Http1Head) {
        const ex = reqCurrent;
        if (ex === undefined) throw stateError('request head without a request');
        advanceRequest(ex, 'request_body');
        const cap = newCapture(head.headers, head.transfer);
        ex.request = cap;
        ex.method = head.method;
        let path = head.target;
        let authority = cap.headers.host;
        const abs = ABSOLUTE_FORM.exec(path);
        if (head.method === 'CONNECT') {
          authority ??= path;
          ex.upgrade = 'CONNECT';
        } else if (abs !== null) {
          const hostPart = abs[1].slice(abs[1].lastIndexOf('@') + 1);
          authority ??= hostPart;
          path = abs[2].length > 0 ? abs[2] : '/';
        }
        ex.path = octetText(path);
        if (authority !== undefined) ex.authority = authority;
        if (head.upgrade !== undefined) ex.upgrade = head.upgrade;
        if ((cap.headers.expect ?? '').toLowerCase() === '100-continue') ex.notes.push('expect: 100-continue');
        const trace = resolveTraceContext(cap.headers);
        if (trace !== undefined) {
          ex.traceId = trace.trace_id;
          ex.parentSpanId = trace.parent_span_id;
        }
        try {
          ctx.requestStarted?.({ ordinal: ex.ordinal, start: ex.start, headers: cap.headers });
        } catch {
          // Linking is best effort: it never breaks parsing of the connection.
        }
      },
      ...messageParts('request', () => reqCurrent?.request),
      onMessageComplete(wireBytes) {
        const ex = reqCurrent;
        if (ex === undefined) throw stateError('request complete without a request');
        advanceRequest(ex, 'request_done');
        ex.bytesOut += wireBytes;
        ex.requestEnd = now;
        reqCurrent = undefined;
        if (ex.res === 'response_done') ex.end ??= now;
        emitReady();
      },
      onError(err) {
        onParseError('client', err);
      },
    },
    { maxHeadBytes },
  );

  const responses: Http1Parser = new Http1Parser(
    'response',
    {
      onMessageBegin() {
        let ex = awaitingResponse();
        if (ex === undefined) {
          ex = newExchange(true);
          ex.notes.push('response without a request');
        }
        advanceResponse(ex, 'response_head');
        ex.messageStart = now;
        resCurrent = ex;
      },
      onHead(head: Http1Head) {
        const ex = resCurrent;
        if (ex === undefined) throw stateError('response head without an exchange');
        if (head.statusCode < 200 && head.statusCode !== 101) {
          ex.interim = true;
          ex.notes.push(head.statusCode === 100 ? '100-continue' : `interim ${head.statusCode}`);
          return;
        }
        ex.interim = false;
        advanceResponse(ex, 'response_body');
        ex.responseStart = ex.messageStart;
        ex.statusCode = head.statusCode;
        ex.response = newCapture(head.headers, head.transfer);
      },
      ...messageParts('response', () => resCurrent?.response),
      onMessageComplete(wireBytes) {
        const ex = resCurrent;
        if (ex === undefined) throw stateError('response complete without an exchange');
        ex.bytesIn += wireBytes;
        resCurrent = undefined;
        if (ex.interim) {
          ex.interim = false;
          advanceResponse(ex, 'awaiting_response');
          return;
        }
        advanceResponse(ex, 'response_done');
        if (ex === failedRequest?.culprit) {
          endFailedRequest();
          return;
        }
        if (ex.req === 'request_done') ex.end = now;
        else ex.notes.push('response completed before the request');
        if (responses.upgraded) {
          switchProtocols(ex);
          return;
        }
        emitReady();
        if (holding && ex.upgrade !== undefined) releaseHeld();
      },
      onError(err) {
        onParseError('server', err);
      },
    },
    {
      maxHeadBytes,
      requestMethod: () => awaitingResponse()?.method,
    },
  );

  const upgradeTail = (ex: PendingExchange, protocol: string): CaptureSession | undefined => {
    if (options.upgradeSession === undefined) return undefined;
    const req = ex.request;
    const session = startUpgradeTail(options.upgradeSession, ctx, nextOrdinal, {
      protocol,
      request: { method: ex.method, path: ex.path, authority: ex.authority, headers: req?.headers ?? {}, body: req === undefined ? new Uint8Array(0) : Buffer.concat(req.chunks, req.captured) },
      responseHeaders: ex.response?.headers ?? {},
      at: now,
    });
    // Its exchanges take ordinals from here on; nothing else on this connection numbers any.
    if (session !== undefined) nextOrdinal = Number.MAX_SAFE_INTEGER;
    return session;
  };

  const switchProtocols = (ex: PendingExchange): void => {
    const upgrade = ex.statusCode === 101 ? (ex.response?.headers.upgrade ?? ex.upgrade ?? '') : 'CONNECT';
    ex.end ??= now;
    emitReady();
    // Anything still queued was sent after a request that did not wait for the switch.
    for (const rest of queue.splice(0, queue.length)) {
      rest.end = now;
      safeEmit(toExchange(rest, 'unpaired', 'connection switched protocols'));
    }
    requests.stop();
    mode = 'upgraded';
    const websocket = /\bwebsocket\b/i.test(upgrade);
    const protocol = websocket ? 'websocket' : upgrade === 'CONNECT' ? 'connect' : upgrade.toLowerCase() || 'unknown';
    safeEvent({ kind: 'upgraded', protocol });
    const custom = upgradeTail(ex, protocol);
    tail = custom ?? createOpaqueSession(ctx, websocket ? 'ws' : 'tcp', { start: now, ordinal: nextOrdinal++, bytesOut: heldBytes });
    const replay = custom !== undefined && !heldOverflow ? held : [];
    held = [];
    holding = false;
    // Client bytes sent after the upgrade request, before the answer: the new protocol's first.
    for (const c of replay) custom?.clientData(c.data, c.now);
  };

  const hold = (data: Uint8Array): void => {
    heldBytes += data.byteLength;
    if (heldBytes > maxHeldBytes) {
      heldOverflow = true;
      held = [];
      return;
    }
    held.push({ data: Buffer.from(data), now });
  };

  const feedClient = (data: Uint8Array): void => {
    if (holding) {
      hold(data);
      return;
    }
    const failedBefore = failedRequest;
    const n = requests.execute(data);
    // A head that failed: the rest of the chunk is the failed request's too (its bytes_out counts everything sent until capture stops).
    if (failedRequest !== undefined && failedBefore === undefined) failedRequest.culprit.bytesOut += data.byteLength - n;
    if (mode === 'http' && n < data.byteLength && requests.paused) {
      holding = true;
      hold(data.subarray(n));
    }
  };

  /** The upgrade was refused: what the client sent meanwhile is HTTP/1 after all. */
  const releaseHeld = (): void => {
    if (heldOverflow) {
      stopWith('client', HTTP1_ERR.UPGRADE_OVERFLOW, `more than ${maxHeldBytes} bytes sent before a refused upgrade`, undefined);
      return;
    }
    const chunks = held;
    const outer = now;
    held = [];
    heldBytes = 0;
    holding = false;
    requests.resume();
    for (const c of chunks) {
      if (mode !== 'http') break;
      now = c.now;
      feedClient(c.data);
    }
    now = outer;
  };

  const guard = (side: 'client' | 'server', fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      if (mode === 'stopped' || mode === 'closed') return;
      try {
        stopWith(side, HTTP1_ERR.STATE, describeError(err), side === 'client' ? reqCurrent : resCurrent);
      } catch {
        mode = 'stopped';
      }
    }
  };

  const flushAtClose = (reason: CloseReason): void => {
    let first = true;
    for (const ex of queue.splice(0, queue.length)) {
      let error: RecordError | undefined;
      if (ex === reqCurrent && ex.req === 'request_head') {
        // The connection ended inside the request's head: what its request line said, and that it stopped there.
        nameFromRequestLine(ex);
        ex.notes.push('request head incomplete');
      }
      if (ex === reqCurrent) ex.bytesOut += requests.messageBytes;
      if (ex === resCurrent) ex.bytesIn += responses.messageBytes;
      const inFlight = ex.req !== 'request_done' || ex.res !== 'awaiting_response';
      if (ex.res === 'response_done' && !ex.responseOnly) {
        ex.notes.push('request incomplete');
      } else if (ex.responseOnly) {
        error = 'unpaired';
      } else if (reason === 'reset' || reason === 'error') {
        error = first ? 'reset' : 'unpaired';
      } else if (reason === 'timeout') {
        error = first ? 'timeout' : 'unpaired';
      } else if (reason === 'capture_overflow') {
        error = 'capture_overflow';
      } else {
        error = inFlight ? 'closed' : 'unpaired';
      }
      first = false;
      ex.end = now;
      safeEmit(toExchange(ex, error));
    }
    reqCurrent = undefined;
    resCurrent = undefined;
  };

  return {
    clientData(chunk, t) {
      if (mode === 'upgraded') return tail?.clientData(chunk, t);
      if (mode !== 'http') return;
      if (failedRequest !== undefined) {
        failedRequest.culprit.bytesOut += chunk.byteLength;
        return;
      }
      now = t;
      if (resyncClient) {
        if (!startsRequest(chunk)) return;
        resyncClient = false;
        resumed = true;
      }
      guard('client', () => feedClient(chunk));
    },
    serverData(chunk, t) {
      if (mode === 'upgraded') return tail?.serverData(chunk, t);
      if (mode !== 'http') return;
      now = t;
      if (foreign !== undefined) {
        foreign.add(chunk);
        return;
      }
      if (resyncServer) {
        // Responses to calls in the gap come before the first request after it: skipped.
        if (resyncClient || !startsResponse(chunk)) return;
        resyncServer = false;
      }
      guard('server', () => {
        const n = responses.execute(chunk);
        // The parser stopped where the bytes stopped being HTTP/1: the rest is the foreign answer's.
        if (foreign !== undefined) foreign.add(chunk.subarray(n));
        else if (mode === 'upgraded' && n < chunk.byteLength) tail?.serverData(chunk.subarray(n), t);
      });
    },
    skipClient(n, t) {
      if (mode === 'upgraded') return tail?.skipClient?.(n, t) ?? false;
      if (mode !== 'http') return true;
      if (failedRequest !== undefined) {
        failedRequest.culprit.bytesOut += n;
        return true;
      }
      if (resyncClient) return true;
      if (holding) return false;
      now = t;
      return requests.skip(n);
    },
    skipServer(n, t) {
      if (mode === 'upgraded') return tail?.skipServer?.(n, t) ?? false;
      if (mode !== 'http') return true;
      if (foreign !== undefined) {
        foreign.skipped(n);
        return true;
      }
      if (resyncServer) return true;
      now = t;
      return responses.skip(n);
    },
    resync(t) {
      // The caller counts the cut (it knows which budget was full).
      if (mode !== 'http') return;
      now = t;
      if (failedRequest !== undefined) endFailedRequest();
      else if (foreign !== undefined) endForeign();
      else resync();
    },
    clientEnd(t) {
      if (mode === 'upgraded') return tail?.clientEnd(t);
      if (mode !== 'http') return;
      now = t;
      guard('client', () => {
        if (!holding && failedRequest === undefined) requests.finish();
      });
    },
    serverEnd(t) {
      if (mode === 'upgraded') return tail?.serverEnd(t);
      if (mode !== 'http') return;
      now = t;
      guard('server', () => {
        responses.finish();
      });
    },
    close(t, reason) {
      if (mode === 'upgraded') {
        mode = 'closed';
        return tail?.close(t, reason);
      }
      if (mode !== 'http') {
        mode = 'closed';
        return;
      }
      now = t;
      guard('server', () => {
        if (reason === 'fin' || reason === 'drain') responses.finish();
      });
      if (mode === 'http') {
        try {
          if (failedRequest !== undefined) endFailedRequest();
          else if (foreign !== undefined) endForeign();
          else flushAtClose(reason);
        } catch {
          // Nothing more can be done for this connection's records.
        }
      }
      mode = 'closed';
    },
  };
}
