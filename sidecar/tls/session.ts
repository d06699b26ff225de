/**
 * Capture for app TLS passed through unterminated: read the handshake metadata a passive
 * observer can see (SNI, ALPN, version, cipher, timing, plaintext alerts), count bytes both
 * ways and emit one `tls` exchange when the connection closes. See README.md for what is and
 * is not visible and how handshake time is approximated.
 */
import type { AppTlsInfo } from '../../record/record.ts';
import type { CaptureContext, CaptureSession, CloseReason, Exchange } from '../capture/session.ts';
import { type ClientHelloResult, parseClientHello } from './client-hello.ts';
import { type ServerHelloResult, type TlsAlert, describeAlert, parseServerHello } from './server-hello.ts';
import {
  RECORD_ALERT,
  RECORD_APPLICATION_DATA,
  RECORD_CHANGE_CIPHER_SPEC,
  RECORD_HEADER_LEN,
  checkRecordHeader,
} from './record-layer.ts';

export interface AppTlsSessionOptions {
  /** Most bytes of each direction kept while waiting for its hello; default 16 KiB. */
  maxHelloBytes?: number;
}

export const DEFAULT_MAX_HELLO_BYTES = 16 * 1024;

/**
 * The length of a TLS 1.3 record protecting a bare two-byte alert with a 16-byte AEAD tag
 * (2 + 1 content type + 16). A client's Finished cannot be this short (≥ 4 + 32 + 1 + 16).
 */
const TLS13_ENCRYPTED_ALERT_LEN = 19;

/** Accumulates the first bytes of one direction, up to a cap. */
class Prefix {
  private buf = new Uint8Array(0);
  private len = 0;
  readonly cap: number;

  constructor(cap: number) {
    this.cap = cap;
  }

  /** False when the cap was reached (some bytes were not kept). */
  append(chunk: Uint8Array): boolean {
    const take = Math.min(chunk.length, this.cap - this.len);
    if (this.len + take > this.buf.length) {
      const next = new Uint8Array(Math.min(this.cap, Math.max(1024, (this.len + take) * 2)));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(chunk.subarray(0, take), this.len);
    this.len += take;
    return take === chunk.length;
  }

  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  get full(): boolean {
    return this.len >= this.cap;
  }

  release(): void {
    this.buf = new Uint8Array(0);
  }
}

interface RecordEvent {
  type: number;
  length: number;
  /** Time of the chunk in which the record's header completed. */
  at: bigint;
  /** The body, for two-byte records (plaintext alerts) only. */
  body?: Uint8Array;
}

/** Follows record boundaries in one direction, across chunks, without keeping record bodies. */
class RecordWalker {
  private header = new Uint8Array(RECORD_HEADER_LEN);
  private headerFill = 0;
  private bodyLeft = 0;
  private current: RecordEvent | undefined;
  private small = new Uint8Array(2);
  private smallFill = 0;
  /** Set when the stream stops looking like TLS records; the walker then ignores everything. */
  desync: string | undefined;
  stopped = false;
  private readonly onRecord: (ev: RecordEvent) => void;

  constructor(onRecord: (ev: RecordEvent) => void) {
    this.onRecord = onRecord;
  }

  feed(chunk: Uint8Array, now: bigint): void {
    let i = 0;
    while (i < chunk.length && !this.stopped && this.desync === undefined) {
      if (this.bodyLeft > 0 && this.current) {
        const n = Math.min(this.bodyLeft, chunk.length - i);
        if (this.current.length === 2) {
          this.small.set(chunk.subarray(i, i + n), this.smallFill);
          this.smallFill += n;
        }
        this.bodyLeft -= n;
        i += n;
        if (this.bodyLeft === 0) this.finish();
        continue;
      }
      const n = Math.min(RECORD_HEADER_LEN - this.headerFill, chunk.length - i);
      this.header.set(chunk.subarray(i, i + n), this.headerFill);
      this.headerFill += n;
      i += n;
      if (this.headerFill < RECORD_HEADER_LEN) break;
      this.headerFill = 0;
      const h = checkRecordHeader(this.header, 0);
      if (typeof h === 'string') {
        this.desync = h;
        break;
      }
      this.current = { type: h.type, length: h.length, at: now };
      this.bodyLeft = h.length;
      this.smallFill = 0;
      if (h.length === 0) this.finish();
    }
  }

  private finish(): void {
    const ev = this.current;
    this.current = undefined;
    if (!ev) return;
    if (ev.length === 2) ev.body = this.small.slice(0, 2);
    this.onRecord(ev);
  }
}

interface SeenAlert {
  from: 'client' | 'server';
  alert: TlsAlert;
  at: bigint;
}

const usBetween = (from: bigint, to: bigint): number => (to > from ? Number((to - from) / 1000n) : 0);

export function createAppTlsSession(ctx: CaptureContext, options: AppTlsSessionOptions = {}): CaptureSession {
  const cap = options.maxHelloBytes ?? DEFAULT_MAX_HELLO_BYTES;
  let start: bigint | undefined;
  let firstClientAt: bigint | undefined;
  let firstServerAt: bigint | undefined;
  let bytesOut = 0;
  let bytesIn = 0;
  let closed = false;
  let internalError: string | undefined;

  const clientPrefix = new Prefix(cap);
  const serverPrefix = new Prefix(cap);
  let clientHello: ClientHelloResult | undefined;
  let clientHelloTooLarge = false;
  let serverHello: ServerHelloResult | undefined;
  let serverHelloTooLarge = false;
  let serverHelloAt: bigint | undefined;

  let alert: SeenAlert | undefined;
  let clientCcs = false;
  let serverCcs = false;
  let clientFinishedAt: bigint | undefined;
  let serverFinishedAt: bigint | undefined;
  let clientFirstEncrypted: { at: bigint; length: number } | undefined;

  const onAlert = (from: 'client' | 'server', ev: RecordEvent): void => {
    if (alert || !ev.body) return;
    alert = { from, alert: describeAlert(ev.body[0], ev.body[1]), at: ev.at };
  };

  const clientWalker = new RecordWalker((ev) => {
    // TLS 1.2: the record after the client's ChangeCipherSpec is its (encrypted) Finished.
    if (clientCcs && clientFinishedAt === undefined) clientFinishedAt = ev.at;
    if (ev.type === RECORD_CHANGE_CIPHER_SPEC) clientCcs = true;
    else if (ev.type === RECORD_ALERT && ev.length === 2) onAlert('client', ev);
    else if (ev.type === RECORD_APPLICATION_DATA && serverHelloAt !== undefined && !clientFirstEncrypted) {
      // TLS 1.3: the client's first encrypted record after the ServerHello carries its Finished
      // (with its Certificate first when the server asked for one). Early data comes before.
      clientFirstEncrypted = { at: ev.at, length: ev.length };
    }
    maybeStop();
  });
  const serverWalker = new RecordWalker((ev) => {
    if (serverCcs && serverFinishedAt === undefined) serverFinishedAt = ev.at;
    if (ev.type === RECORD_CHANGE_CIPHER_SPEC) serverCcs = true;
    else if (ev.type === RECORD_ALERT && ev.length === 2) onAlert('server', ev);
    maybeStop();
  });

  const negotiated = (): string | undefined =>
    serverHello?.ok && serverHello.kind === 'server-hello' ? serverHello.version : undefined;

  /** When the handshake is known to be done, or undefined. */
  const completedAt = (): bigint | undefined => {
    const version = negotiated();
    if (version === undefined) return undefined;
    if (version === 'TLSv1.3') {
      if (!clientFirstEncrypted || clientFirstEncrypted.length === TLS13_ENCRYPTED_ALERT_LEN) return undefined;
      return clientFirstEncrypted.at;
    }
    if (clientFinishedAt === undefined || serverFinishedAt === undefined) return undefined;
    return clientFinishedAt > serverFinishedAt ? clientFinishedAt : serverFinishedAt;
  };

  function maybeStop(): void {
    // Nothing more to learn once both hellos are read and the handshake is done (or aborted).
    const helloDone = clientHello !== undefined && serverHello !== undefined;
    // (TLS 1.2 False Start sends application data before the server's Finished: keep walking.)
    const aborted = alert !== undefined || (negotiated() === 'TLSv1.3' && clientFirstEncrypted !== undefined);
    if (helloDone && (completedAt() !== undefined || aborted)) {
      clientWalker.stopped = true;
      serverWalker.stopped = true;
    }
  }

  const onClientBytes = (chunk: Uint8Array, now: bigint): void => {
    if (clientHello === undefined) {
      const kept = clientPrefix.append(chunk);
      const r = parseClientHello(clientPrefix.bytes);
      if (r.ok || r.reason !== 'need-more') {
        clientHello = r;
        clientPrefix.release();
        if (!r.ok) ctx.event({ kind: 'parse_error', side: 'client', detail: `tls: ${r.reason}${r.detail ? `: ${r.detail}` : ''}` });
      } else if (!kept || clientPrefix.full) {
        clientHelloTooLarge = true;
        clientHello = { ok: false, reason: 'malformed', detail: `no ClientHello in the first ${cap} bytes` };
        clientPrefix.release();
      }
    }
    clientWalker.feed(chunk, now);
  };

  const onServerBytes = (chunk: Uint8Array, now: bigint): void => {
    if (serverHello === undefined) {
      const kept = serverPrefix.append(chunk);
      const r = parseServerHello(serverPrefix.bytes);
      if (r.ok || r.reason !== 'need-more') {
        serverHello = r;
        serverPrefix.release();
        if (r.ok && r.kind === 'server-hello') serverHelloAt = now;
        if (!r.ok) ctx.event({ kind: 'parse_error', side: 'server', detail: `tls: ${r.reason}${r.detail ? `: ${r.detail}` : ''}` });
      } else if (!kept || serverPrefix.full) {
        serverHelloTooLarge = true;
        serverHello = { ok: false, reason: 'malformed', detail: `no ServerHello in the first ${cap} bytes` };
        serverPrefix.release();
      }
    }
    serverWalker.feed(chunk, now);
  };

  const tlsError = (): { error?: string; notes: string[] } => {
    const notes: string[] = [];
    if (internalError) notes.push(`tls capture stopped: ${internalError}`);
    if (alert) {
      notes.push(`tls alert from ${alert.from}: ${alert.alert.level} ${alert.alert.name}`);
      return { error: `alert:${alert.alert.name}`, notes };
    }
    if (clientHello === undefined) return { error: bytesOut === 0 ? 'no_client_hello' : 'incomplete_client_hello', notes };
    if (!clientHello.ok) {
      if (clientHello.detail) notes.push(`client hello: ${clientHello.detail}`);
      if (clientHelloTooLarge) return { error: 'client_hello_too_large', notes };
      return { error: clientHello.reason === 'not-tls' ? 'not_tls' : 'malformed_client_hello', notes };
    }
    if (serverHello === undefined) return { error: bytesIn === 0 ? 'no_server_hello' : 'incomplete_server_hello', notes };
    if (!serverHello.ok) {
      if (serverHello.detail) notes.push(`server hello: ${serverHello.detail}`);
      if (serverHelloTooLarge) return { error: 'server_hello_too_large', notes };
      return { error: serverHello.reason === 'not-tls' ? 'server_not_tls' : 'malformed_server_hello', notes };
    }
    if (serverHello.kind === 'alert') {
      // Reached only if the walker missed it (it never should); keep the hello parser's view.
      return { error: `alert:${serverHello.alert.name}`, notes };
    }
    if (negotiated() === 'TLSv1.3' && clientFirstEncrypted?.length === TLS13_ENCRYPTED_ALERT_LEN) {
      notes.push('tls: the client answered the server flight with an encrypted alert-sized record');
      return { error: 'alert:encrypted', notes };
    }
    if (completedAt() === undefined) return { error: 'handshake_incomplete', notes };
    return { notes };
  };

  const buildInfo = (): { info: AppTlsInfo; notes: string[] } => {
    const info: AppTlsInfo = {};
    const ch = clientHello?.ok ? clientHello : undefined;
    const sh = serverHello?.ok && serverHello.kind === 'server-hello' ? serverHello : undefined;
    if (ch?.sni !== undefined) info.sni = ch.sni;
    const { error, notes } = tlsError();
    if (sh?.alpn !== undefined) {
      info.alpn = [sh.alpn];
      notes.push('alpn: selected by the server');
    } else if (ch && ch.alpn.length > 0) {
      info.alpn = [...ch.alpn];
      notes.push(
        sh && sh.version !== 'TLSv1.3'
          ? 'alpn: offered by the client; the server selected none'
          : 'alpn: offered by the client (selection not visible)',
      );
    }
    if (sh) {
      info.version = sh.version;
      info.cipher = sh.cipher;
      if (sh.helloRetryRequest) notes.push('tls: HelloRetryRequest');
    }
    if (firstClientAt !== undefined) {
      const end = completedAt() ?? alert?.at ?? serverHelloAt;
      if (end !== undefined) info.handshake_us = usBetween(firstClientAt, end);
    }
    if (error !== undefined) info.error = error;
    return { info, notes };
  };

  const guard = (what: string, fn: () => void): void => {
    if (internalError !== undefined) return;
    try {
      fn();
    } catch (err) {
      // A bug here must never reach the forwarding path: stop parsing, keep counting.
      internalError = `${what}: ${String(err)}`;
      try {
        ctx.event({ kind: 'parse_error', side: what === 'serverData' ? 'server' : 'client', detail: `tls: ${internalError}` });
      } catch {
        // ignore
      }
    }
  };

  return {
    clientData(chunk, now) {
      if (closed) return;
      start ??= now;
      firstClientAt ??= now;
      bytesOut += chunk.byteLength;
      guard('clientData', () => onClientBytes(chunk, now));
    },
    serverData(chunk, now) {
      if (closed) return;
      start ??= now;
      firstServerAt ??= now;
      bytesIn += chunk.byteLength;
      guard('serverData', () => onServerBytes(chunk, now));
    },
    clientEnd(now) {
      start ??= now;
    },
    serverEnd(now) {
      start ??= now;
    },
    close(now: bigint, reason: CloseReason) {
      if (closed) return;
      closed = true;
      start ??= now;
      const exchange: Exchange = {
        protocol: 'tls',
        ordinal: 0,
        start,
        end: now,
        bytes_out: bytesOut,
        bytes_in: bytesIn,
        close_reason: reason,
      };
      if (firstServerAt !== undefined) exchange.response_start = firstServerAt;
      if (reason === 'reset') exchange.error = 'reset';
      else if (reason === 'timeout') exchange.error = 'timeout';
      else if (reason === 'capture_overflow') exchange.error = 'capture_overflow';
      try {
        const { info, notes } = buildInfo();
        exchange.tls_info = info;
        if (notes.length > 0) exchange.notes = notes;
      } catch (err) {
        exchange.tls_info = { error: 'capture_failed' };
        exchange.notes = [`tls capture failed: ${String(err)}`];
      }
      try {
        ctx.emit(exchange);
      } catch {
        // The sink's failure is not the connection's: never throw into the proxy.
      }
    },
  };
}
