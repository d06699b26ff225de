/**
 * MySQL/MariaDB client/server protocol capture session: frames both directions, pairs each
 * command with the server's answer and emits `Exchange`s (see README.md for the records).
 *
 * The server speaks first (the Initial Handshake); the client answers with its
 * HandshakeResponse, and an authentication dialogue follows until the server's OK or ERR: that
 * is the CONNECT record, with every authentication byte replaced by a mask. Then each command
 * packet (sequence id 0) is answered, strictly in order, by packets whose shape the command
 * decides (`calls.ts`). An SSLRequest hands the connection to the TLS session: nothing after
 * it is readable. A stream that stops looking like the protocol is a parse error: the session
 * reports it and stops observing (bytes still flow). It never throws.
 */
import type { RecordError } from '../../record/record.ts';
import type { CaptureContext, CaptureEvent, CaptureSession, Exchange } from '../capture/session.ts';
import { createAppTlsSession } from '../tls/session.ts';
import { describeError } from '../../lib/errors.ts';
import { type Call, type ConnState, MalformedPacket, type Statement, currentResult, feedReply, newCall, replyKeep } from './calls.ts';
import { bindParams, readCommand } from './commands.ts';
import type { HeldBytes } from '../capture/held-bytes.ts';
import { DEFAULT_MASK_POLICY, type MaskPolicy } from '../mask/policy.ts';
import { CompressedUnframer, FrameOverBound, type FrameBound, compressionOf } from './compressed.ts';
import { CLIENT, COM, MARIADB } from './constants.ts';
import { parseGreeting, parseHandshakeResponse } from './handshake.ts';
import { type MysqlPacket, PacketFramer, Reader } from './packets.ts';
import { MASK, type RecordContext, exchangesOf } from './records.ts';
import { parseErr } from './replies.ts';

export interface MysqlSessionOptions {
  /** Commands awaiting the server at most; beyond, the capture is cut (`capture_overflow`). Default 128. */
  maxPendingExchanges?: number;
  /** Rows kept per result (all are counted). Default 100. */
  maxRows?: number;
  /** Prepared statements remembered per connection (oldest forgotten). Default 1000. */
  maxPrepared?: number;
  /** Bytes of statement text remembered per connection (oldest forgotten). Default 4 MiB. */
  maxPreparedBytes?: number;
  /**
   * The bound on compressed frames held until complete, shared with the sidecar's other
   * connections (`compressed.ts`); none: each connection is bounded only per frame.
   */
  heldFrames?: HeldBytes;
  /**
   * The masking policy (resolved once per sidecar): which column and query attribute names hold
   * secrets in statements, and whether to mask them. Default `DEFAULT_MASK_POLICY`.
   */
  maskPolicy?: MaskPolicy;
}

export const DEFAULT_MAX_PENDING_EXCHANGES = 128;
export const DEFAULT_MAX_ROWS = 100;

/** Kept of small packets (greeting, handshake response, OK, ERR, column definitions). */
const SMALL_KEEP = 64 * 1024;
/** Commands whose packets may lose bytes to a gap and still be recorded (text or values cut). */
const SKIPPABLE_COMMANDS = new Set<number>([COM.QUERY, COM.STMT_PREPARE, COM.STMT_EXECUTE, COM.STMT_SEND_LONG_DATA]);

export function createMysqlSession(ctx: CaptureContext, options: MysqlSessionOptions = {}): CaptureSession {
  const maxBody = Math.max(0, ctx.maxBodyBytes);
  const maxPending = options.maxPendingExchanges ?? DEFAULT_MAX_PENDING_EXCHANGES;
  const maxPrepared = options.maxPrepared ?? 1000;
  const maxPreparedBytes = options.maxPreparedBytes ?? 4 * 1024 * 1024;
  let preparedBytes = 0;
  const limits = { maxRows: options.maxRows ?? DEFAULT_MAX_ROWS, maxBodyBytes: maxBody };
  const queryKeep = maxBody + 4096;
  const maskPolicy = options.maskPolicy ?? DEFAULT_MASK_POLICY;

  let mode: 'mysql' | 'tail' | 'stopped' | 'closed' = 'mysql';
  let phase: 'greeting' | 'handshake' | 'command' | 'ended' = 'greeting';
  let now = 0n;
  let nextOrdinal = 0;
  let tail: CaptureSession | undefined;
  let user: string | undefined;
  let serverVersion = '';
  let compressed = false;
  /** Set once the login that negotiated compression is done: each side's frames are undone first. */
  let unframers: { client: CompressedUnframer; server: CompressedUnframer } | undefined;
  const conn: ConnState = { caps: 0, deprecateEof: false, metadataFlag: false, extendedMetadata: false };
  /** Calls in client order, emitted from the head once answered. */
  const queue: Call[] = [];
  let loginCall: Call | undefined;
  const statements = new Map<number, Statement>();
  let lastPrepared: number | undefined;

  const safeEmit = (exchange: Exchange): void => {
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

  const rc = (): RecordContext => ({ limits, now, user, maskPolicy, nextOrdinal: () => nextOrdinal++ });
  const awaiting = (): Call | undefined => queue.find((c) => !c.done);
  const emitCall = (call: Call, error?: RecordError, detail?: string): void => {
    for (const ex of exchangesOf(call, rc(), error, detail)) safeEmit(ex);
  };

  const emitReady = (): void => {
    while (queue.length > 0 && queue[0].done) emitCall(queue.shift() as Call);
  };

  /** A login the client never answered (a port probe) is not a call. */
  const idle = (c: Call): boolean => c.kind === 'login' && c.login?.request === undefined && c.bytesOut === 0;
  const nothingPending = (): boolean => queue.every(idle);

  /** Flushes every pending call: the first unfinished one gets `firstError`, the others `laterError`. */
  const flushPending = (firstError: RecordError, laterError: RecordError, detail?: string): void => {
    let first = true;
    for (const call of queue.splice(0, queue.length)) {
      if (idle(call)) continue;
      if (call.done) {
        emitCall(call);
        continue;
      }
      call.end = now;
      emitCall(call, first ? firstError : laterError, detail);
      first = false;
    }
  };

  const marker = (error: RecordError, detail: string): void => {
    safeEmit({ protocol: 'mysql', ordinal: nextOrdinal++, start: now, end: now, bytes_out: 0, bytes_in: 0, error, error_detail: detail });
  };

  /** Frames held until complete are let go, and what they held given back to the shared bound. */
  const releaseFrames = (): void => {
    unframers?.client.release();
    unframers?.server.release();
  };

  const stopParsing = (): void => {
    mode = 'stopped';
    clientFramer.paused = true;
    serverFramer.paused = true;
    releaseFrames();
  };

  /** Capture gives up on a valid connection: what is pending (or a marker) becomes `capture_overflow`, then parsing stops. */
  const cutCapture = (detail: string): void => {
    try {
      if (nothingPending()) marker('capture_overflow', detail);
      else flushPending('capture_overflow', 'capture_overflow', detail);
    } catch {
      // Nothing more can be done for this connection's records.
    }
    stopParsing();
  };

  /** A compressed frame capture cannot hold: the connection is valid, capture cannot follow it. */
  const overBound = (bound: FrameBound, what: string): void => {
    safeEvent({ kind: 'capture_overflow', reason: bound });
    cutCapture(`mysql: ${what}: capture stopped for this connection`);
  };

  const stopWith = (side: 'client' | 'server', detail: string): void => {
    if (mode !== 'mysql') return;
    const text = `mysql: ${detail}`;
    safeEvent({ kind: 'parse_error', side, detail: text });
    if (nothingPending()) marker('parse', text);
    else flushPending('parse', 'unpaired', text);
    stopParsing();
  };

  const enqueue = (call: Call): void => {
    if (queue.length >= maxPending) {
      safeEvent({ kind: 'capture_overflow', reason: 'pending_exchanges' });
      queue.push(call);
      flushPending('capture_overflow', 'capture_overflow', `more than ${maxPending} commands awaiting the server: capture stopped for this connection`);
      stopParsing();
      return;
    }
    queue.push(call);
  };

  const textBytes = (st: Statement | undefined): number => (st?.query === undefined ? 0 : st.query.length * 2);
  const forget = (id: number): void => {
    preparedBytes -= textBytes(statements.get(id));
    statements.delete(id);
  };
  const remember = (st: Statement): void => {
    forget(st.id);
    while (statements.size > 0 && (statements.size >= maxPrepared || preparedBytes + textBytes(st) > maxPreparedBytes)) {
      forget(statements.keys().next().value as number);
    }
    statements.set(st.id, st);
    preparedBytes += textBytes(st);
  };

  // ---- server side ----

  const onGreeting = (p: MysqlPacket): void => {
    const call = newCall('login', -1, now, undefined);
    call.method = 'CONNECT';
    call.bytesIn += p.wireSize;
    call.login = { plugins: [], secrets: [] };
    loginCall = call;
    if (p.first === 0xff) {
      // Refused before any handshake (too many connections, host blocked).
      call.login.error = parseErr(p.body, p.body.length < p.size);
      call.responseStart = now;
      call.done = true;
      call.end = now;
      queue.push(call);
      phase = 'ended';
      return;
    }
    const g = p.seq === 0 && p.first === 0x0a ? parseGreeting(p.body) : undefined;
    if (g === undefined) return stopWith('server', 'not a protocol 10 handshake');
    call.login.greeting = g;
    serverVersion = g.serverVersion;
    if (g.authPlugin !== undefined) call.login.plugins.push(g.authPlugin);
    queue.push(call);
    phase = 'handshake';
  };

  /** What a finished call changes on the connection. */
  const settle = (call: Call): void => {
    const failed = call.results.some((r) => r.error !== undefined);
    if (call.kind === 'login') {
      const login = call.login;
      if (login?.error !== undefined) {
        if (call === loginCall) phase = 'ended';
        return;
      }
      if (login?.request?.user !== undefined) user = login.request.user;
      if (call.command === COM.CHANGE_USER) conn.database = login?.request?.database;
      if (call === loginCall && compressed) call.notes.push(`compressed protocol (${compressionOf(conn.caps)}): commands are read after decompression`);
      return;
    }
    if (call.kind === 'prepare' && failed) {
      for (const c of queue) {
        if (c.deferred?.prepare !== call) continue;
        c.deferred = undefined;
        c.query = call.query;
        c.notes.push('its statement failed to prepare');
      }
    }
    if (failed) return;
    if (call.command === COM.INIT_DB) conn.database = call.database;
    if (call.command === COM.QUERY && call.results.length === 1 && call.results[0].ok?.schema === undefined) {
      const m = /^\s*USE\s+(?:`([^`]+)`|([^\s;`]+))\s*;?\s*$/i.exec(call.query ?? '');
      if (m !== null) conn.database = m[1] ?? m[2];
    }
    if (call.kind === 'prepare' && call.prepared !== undefined) {
      const pr = call.prepared;
      lastPrepared = pr.id;
      const st: Statement = { id: pr.id, query: call.query, truncated: call.requestCut, paramCount: pr.params, columns: pr.columns.length > 0 ? pr.columns : undefined, longData: new Map(), longDataWire: 0 };
      remember(st);
      for (const c of queue) {
        if (c.deferred?.prepare !== call) continue;
        const d = c.deferred;
        c.deferred = undefined;
        c.statement = st;
        c.query = st.query;
        if (st.truncated) c.requestCut = true;
        if (!bindParams(c, st, new Reader(d.body), d.flags, conn, d.cut)) c.notes.push('parameters not decoded: malformed');
      }
    }
  };

  const standaloneError = (p: MysqlPacket): void => {
    const call = newCall('simple', -1, now, conn.database);
    call.bytesIn = p.wireSize;
    call.responseStart = now;
    const r = currentResult(call, limits, now);
    r.error = parseErr(p.body, p.body.length < p.size);
    r.bytesIn = p.wireSize;
    r.done = true;
    r.end = now;
    call.done = true;
    call.end = now;
    call.notes.push('error with no command awaiting an answer');
    for (const ex of exchangesOf(call, rc())) {
      delete ex.request;
      safeEmit(ex);
    }
  };

  const onServerPacket = (p: MysqlPacket): void => {
    if (phase === 'greeting') return onGreeting(p);
    const call = awaiting();
    if (call === undefined || (call === loginCall && call.login?.request === undefined)) {
      if (p.first === 0xff && call === undefined) return standaloneError(p);
      return stopWith('server', `packet (sequence ${p.seq}, first byte 0x${(p.first ?? 0).toString(16)}) with no command awaiting it`);
    }
    call.bytesIn += p.wireSize;
    call.responseStart ??= now;
    feedReply(call, p, conn, limits, now);
    if (call.done) settle(call);
  };

  // ---- client side ----

  const handOff = (): void => {
    mode = 'tail';
    clientFramer.paused = true;
    serverFramer.paused = true;
    const note = `mysql: TLS requested (SSLRequest) after the server greeting${serverVersion ? ` (server ${serverVersion})` : ''}`;
    tail = createAppTlsSession({
      maxBodyBytes: ctx.maxBodyBytes,
      event: (e) => ctx.event(e),
      emit: (e) => ctx.emit({ ...e, notes: [...(e.notes ?? []), note] }),
    });
  };

  const onHandshakeResponse = (p: MysqlPacket): void => {
    const call = loginCall as Call;
    const login = call.login ?? { plugins: [], secrets: [] };
    const req = p.seq === 1 ? parseHandshakeResponse(p.body, p.body.length < p.size) : undefined;
    if (req === undefined) return stopWith('client', 'malformed handshake response');
    call.bytesOut += p.wireSize;
    if (req.ssl) return handOff();
    login.request = req;
    login.secrets.push(`auth ${MASK}`);
    if (req.authPlugin !== undefined) login.plugins = [req.authPlugin];
    call.requestSize += p.wireSize;
    call.requestEnd = now;
    call.database = req.database;
    const g = login.greeting;
    conn.caps = (req.capabilities & (g?.capabilities ?? 0xffffffff)) >>> 0;
    conn.deprecateEof = (conn.caps & CLIENT.DEPRECATE_EOF) !== 0;
    const ext = g !== undefined && (g.capabilities & CLIENT.LONG_PASSWORD) === 0 ? g.mariadbCapabilities & req.mariadbCapabilities : 0;
    conn.metadataFlag = (conn.caps & CLIENT.OPTIONAL_RESULTSET_METADATA) !== 0 || (ext & MARIADB.CACHE_METADATA) !== 0;
    conn.extendedMetadata = (ext & MARIADB.EXTENDED_METADATA) !== 0;
    conn.database = req.database;
    compressed = (conn.caps & (CLIENT.COMPRESS | CLIENT.ZSTD_COMPRESSION)) !== 0;
    phase = 'command';
  };

  const statementOf = (id: number): Statement | undefined => statements.get(id === 0xffffffff && lastPrepared !== undefined ? lastPrepared : id);

  const onCommand = (p: MysqlPacket): void => {
    const pendingPrepare = (): Call | undefined => queue.findLast((c) => c.kind === 'prepare' && !c.done);
    const out = readCommand(p, { conn, now, limits, statementOf, forget, pendingPrepare });
    if (out.error !== undefined) return stopWith('client', out.error);
    if (out.call === undefined) return;
    enqueue(out.call);
    if (out.stop) {
      emitReady();
      stopParsing();
    }
  };
  const onClientPacket = (p: MysqlPacket): void => {
    if (phase === 'greeting') return stopWith('client', 'client data before the server greeting');
    if (phase === 'handshake') return onHandshakeResponse(p);
    if (phase === 'ended') return;
    if (p.seq !== 0) {
      const auth = queue.find((c) => c.kind === 'login' && !c.done);
      if (auth?.login !== undefined) {
        auth.bytesOut += p.wireSize;
        auth.requestSize += p.wireSize;
        auth.requestEnd = now;
        auth.login.secrets.push(`auth-response ${MASK}`);
        return;
      }
      const infile = queue.find((c) => c.infile && !c.done);
      if (infile !== undefined) {
        infile.bytesOut += p.wireSize;
        infile.requestSize += p.wireSize;
        infile.requestEnd = now;
        return;
      }
      return stopWith('client', `packet with sequence ${p.seq} while no authentication or file upload is in progress`);
    }
    // A command before the login's OK on a compressed connection (a pipelining client) is a
    // frame, read here as a packet because compression starts at the OK: say so, never misread it.
    if (compressed && loginCall?.done !== true) return stopWith('client', 'a command sent before the login ended, on a compressed connection: not followed');
    onCommand(p);
  };

  const afterPacket = (): void => {
    emitReady();
    if (compressed && unframers === undefined && phase === 'command' && loginCall?.done && mode === 'mysql') {
      // The login's last packet was the last one sent as is: what follows, either way, is frames.
      // Both framers stop here; the rest of a chunk goes through the unframer (`feed`).
      const algorithm = compressionOf(conn.caps);
      const held = { held: options.heldFrames };
      unframers = { client: new CompressedUnframer(algorithm, held), server: new CompressedUnframer(algorithm, held) };
      clientFramer.paused = true;
      serverFramer.paused = true;
    }
  };

  /** Undoes the compression of `bytes` from `side` and reads the packets they hold. */
  const feed = (side: 'client' | 'server', bytes: Uint8Array): void => {
    const u = unframers as { client: CompressedUnframer; server: CompressedUnframer };
    const framer = side === 'client' ? clientFramer : serverFramer;
    u[side].push(bytes, (packetBytes) => {
      if (mode !== 'mysql') return;
      framer.paused = false;
      framer.push(packetBytes);
    });
  };

  /** Reads `chunk` from `side`: packets, or frames of them once compression is on. */
  const read = (side: 'client' | 'server', chunk: Uint8Array): number => {
    if (unframers !== undefined) {
      feed(side, chunk);
      return chunk.byteLength;
    }
    const n = (side === 'client' ? clientFramer : serverFramer).push(chunk);
    // Compression began inside this chunk: its rest is frames.
    if (unframers !== undefined && mode === 'mysql' && n < chunk.byteLength) feed(side, chunk.subarray(n));
    return unframers !== undefined ? chunk.byteLength : n;
  };

  const clientFramer: PacketFramer = new PacketFramer({
    keep: (size, seq, first) => {
      if (phase === 'greeting') stopWith('client', 'client data before the server greeting');
      if (phase === 'handshake') return Math.min(size, SMALL_KEEP);
      if (seq !== 0) return 0;
      if (first === COM.QUERY || first === COM.STMT_PREPARE || first === COM.STMT_EXECUTE) return Math.min(size, queryKeep);
      if (first === COM.STMT_SEND_LONG_DATA) return 7;
      return Math.min(size, SMALL_KEEP);
    },
    packet: (p) => {
      onClientPacket(p);
      afterPacket();
    },
  });
  const serverFramer: PacketFramer = new PacketFramer({
    keep: (size, seq, first) => {
      if (phase !== 'greeting') return replyKeep(awaiting(), size, first, limits, now, SMALL_KEEP);
      // Not a greeting: say so now rather than wait for a "packet" of megabytes.
      if (seq !== 0 || size > SMALL_KEEP || (first !== 0x0a && first !== 0xff)) stopWith('server', 'not a protocol 10 handshake');
      return Math.min(size, SMALL_KEEP);
    },
    packet: (p) => {
      onServerPacket(p);
      afterPacket();
    },
  });

  const guard = (side: 'client' | 'server', fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      if (mode !== 'mysql') return;
      try {
        if (err instanceof FrameOverBound) overBound(err.bound, err.message);
        else stopWith(side, err instanceof MalformedPacket ? `malformed ${err.message}` : `internal: ${describeError(err)}`);
      } catch {
        mode = 'stopped';
        releaseFrames();
      }
    }
  };

  const skip = (framer: PacketFramer, allowed: (cur: { seq: number; first: number }) => boolean, side: 'client' | 'server', n: number, t: bigint): boolean => {
    if (mode === 'tail') {
      const s = tail as CaptureSession;
      return (side === 'client' ? s.skipClient?.(n, t) : s.skipServer?.(n, t)) ?? false;
    }
    if (mode !== 'mysql') return true;
    // Bytes of a compressed frame cannot be stepped over: the frame no longer decompresses.
    if (unframers !== undefined) return false;
    const cur = framer.current;
    if (cur === undefined || !allowed(cur)) return false;
    now = t;
    let ok = false;
    guard(side, () => {
      ok = framer.skip(n);
    });
    return ok;
  };

  return {
    clientData(chunk, t) {
      if (mode === 'tail') return tail?.clientData(chunk, t);
      if (mode !== 'mysql') return;
      now = t;
      guard('client', () => {
        const n = read('client', chunk);
        if (mode === 'tail' && n < chunk.byteLength) tail?.clientData(chunk.subarray(n), t);
      });
    },
    serverData(chunk, t) {
      if (mode === 'tail') return tail?.serverData(chunk, t);
      if (mode !== 'mysql') return;
      now = t;
      guard('server', () => {
        read('server', chunk);
      });
    },
    skipClient(n, t) {
      return skip(clientFramer, (cur) => phase === 'command' && (cur.seq !== 0 || SKIPPABLE_COMMANDS.has(cur.first)), 'client', n, t);
    },
    skipServer(n, t) {
      return skip(serverFramer, (cur) => awaiting()?.state === 'rows' && cur.first !== 0xfe && cur.first !== 0xff, 'server', n, t);
    },
    resync(t, reason) {
      if (mode === 'tail') return tail?.resync?.(t, reason);
      // Framing cannot be found again in the middle of a stream: flush and stop.
      if (mode !== 'mysql') return;
      now = t;
      cutCapture('capture fell behind forwarding: bytes of this connection were not captured');
    },
    clientEnd(t) {
      if (mode === 'tail') return tail?.clientEnd(t);
    },
    serverEnd(t) {
      if (mode === 'tail') return tail?.serverEnd(t);
    },
    close(t, reason) {
      if (mode === 'tail') {
        mode = 'closed';
        return tail?.close(t, reason);
      }
      if (mode !== 'mysql') {
        releaseFrames();
        mode = 'closed';
        return;
      }
      now = t;
      try {
        const head = awaiting();
        const partial = serverFramer.partialBytes;
        if (head !== undefined && partial > 0) head.notes.push(`response cut short: ${partial} bytes of an incomplete packet`);
        const partialFrame = unframers?.server.partialBytes ?? 0;
        if (head !== undefined && partialFrame > 0) head.notes.push(`response cut short: ${partialFrame} bytes of an incomplete compressed frame`);
        const first: RecordError =
          reason === 'reset' || reason === 'error' ? 'reset' : reason === 'timeout' ? 'timeout' : reason === 'capture_overflow' ? 'capture_overflow' : 'closed';
        flushPending(first, reason === 'capture_overflow' ? 'capture_overflow' : 'unpaired');
      } catch {
        // Nothing more can be done for this connection's records.
      }
      releaseFrames();
      mode = 'closed';
    },
  };
}
