/**
 * Incremental HTTP/1.x message parser, one instance per direction of a connection.
 *
 * It is fed copies of the bytes as they cross the proxy, cut anywhere (inside a CRLF, a header
 * name, a chunk-size line), and calls its handler synchronously. It never throws for anything a
 * peer can send: malformed input becomes one `onError` and the parser stops.
 *
 * Speed: head and chunk-size lines are located with `Buffer#indexOf` (native) and decoded once
 * per line; body bytes are passed on as `subarray`s of the input, never copied here.
 *
 * Tolerance decisions (see README.md in this folder for the reasons):
 * - empty lines before a start line are skipped (RFC 9112 §2.2);
 * - a bare LF ends a line like CRLF; a CR anywhere else in a head line is an error;
 * - obs-fold (a header line starting with SP/HTAB) is accepted and unfolded into one SP;
 * - whitespace between a header name and the colon is an error (a request smuggling vector);
 * - header values may carry obs-text (bytes >= 0x80, decoded as latin1), never NUL or other CTLs;
 * - a status line may omit the reason phrase and the SP before it;
 * - Transfer-Encoding wins over Content-Length when both are present (RFC 9112 §6.3);
 * - Content-Length repeated with one value is accepted, differing values are an error;
 * - chunk extensions are skipped, whitespace before `;` tolerated;
 * - stray bytes between messages other than CR/LF start the next message (and usually fail it);
 * - a response must start with `HTTP/1.`: the first byte that cannot fails it at once, flagged
 *   as not HTTP/1 at all (`notHttp1`), without waiting for a line end that binary protocols
 *   (an HTTP/2 server's SETTINGS frame) may never send.
 */
import { HTTP1_ERR, type Http1ErrorCode, type Http1ParseError } from './errors.ts';
import { messageFraming, type TransferCodings } from './framing.ts';
import { trimOws } from './ows.ts';

export type Http1Kind = 'request' | 'response';
export type Http1BodyKind = 'none' | 'length' | 'chunked' | 'eof';
/** Header fields in wire order, names as sent. */
export type Http1HeaderList = Array<[name: string, value: string]>;

export interface Http1Head {
  kind: Http1Kind;
  /** Request method, '' for responses. */
  method: string;
  /** Request target as sent, '' for responses. */
  target: string;
  /** Response status, 0 for requests. */
  statusCode: number;
  reason: string;
  versionMajor: number;
  versionMinor: number;
  headers: Http1HeaderList;
  /** Bytes of the start line, header lines and the empty line. */
  headSize: number;
  bodyKind: Http1BodyKind;
  /** Declared Content-Length when `bodyKind` is `length`, else -1. */
  contentLength: number;
  /**
   * Requests: the Upgrade header value when `Connection: upgrade` asks for one.
   * Responses: the Upgrade header value of a 101 ('' when absent). Otherwise undefined.
   */
  upgrade: string | undefined;
  /**
   * Transfer codings the body passed to `onBody` still carries (`gzip` of `gzip, chunked`, or all
   * of a close-delimited response's), undefined when there are none: the parser removes only the
   * chunked framing.
   */
  transfer: TransferCodings | undefined;
}

export interface Http1ParserHandler {
  /** First byte of a message (after skipped empty lines). */
  onMessageBegin(): void;
  onHead(head: Http1Head): void;
  /** A slice of the decoded body (chunk framing removed); valid only during the call. */
  onBody(data: Uint8Array): void;
  /** `n` body bytes passed unseen (see `skip`). */
  onBodySkipped?(n: number): void;
  onTrailers(trailers: Http1HeaderList): void;
  /** The message ended; `wireBytes` counts every byte of it as sent. */
  onMessageComplete(wireBytes: number): void;
  onError(error: Http1ParseError): void;
}

export interface Http1ParserOptions {
  /** Limit for a head (start line + headers) and for a trailer section. Default 64 KiB. */
  maxHeadBytes?: number;
  /** Limit for one chunk-size line, extensions included. Default 4 KiB. */
  maxChunkLineBytes?: number;
  /** Response parsers: the method of the request the next response answers (HEAD, CONNECT matter). */
  requestMethod?: () => string | undefined;
}

export const DEFAULT_MAX_HEAD_BYTES = 64 * 1024;
const DEFAULT_MAX_CHUNK_LINE_BYTES = 4 * 1024;

const CR = 13;
const LF = 10;

const S_IDLE = 0;
const S_HEAD = 1;
const S_BODY_LENGTH = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_END = 5;
const S_CHUNK_END_LF = 6;
const S_TRAILERS = 7;
const S_BODY_EOF = 8;
// States from here on stop `execute`.
const S_PAUSED = 9;
const S_UPGRADED = 10;
const S_ERROR = 11;
const S_FINISHED = 12;
const S_STOPPED = 13;

/** What every HTTP/1 status line starts with; a response that starts otherwise is another protocol. */
const STATUS_START = Buffer.from('HTTP/1.', 'latin1');

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const VERSION = /^HTTP\/(\d)\.(\d)$/;
const DIGITS = /^\d+$/;
const HEX = /^[0-9a-fA-F]+/;
const TARGET_BAD = /[\x00-\x20\x7f]/;

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class Http1Parser {
  readonly kind: Http1Kind;
  private readonly handler: Http1ParserHandler;
  private readonly maxHeadBytes: number;
  private readonly maxChunkLineBytes: number;
  private readonly requestMethod: () => string | undefined;

  private state = S_IDLE;
  /** Pieces of a line cut by a chunk boundary. */
  private lineParts: Buffer[] = [];
  private lineLen = 0;
  /** Bytes of the head or trailer section read so far. */
  private sectionBytes = 0;
  private startSeen = false;
  /** Bytes of `STATUS_START` a response has matched so far (requests: all of them, unchecked). */
  private startMatched = 0;
  private method = '';
  private target = '';
  private statusCode = 0;
  private reason = '';
  private versionMajor = 1;
  private versionMinor = 1;
  private headers: Http1HeaderList = [];
  private remaining = 0;
  private msgBytes = 0;
  private nextAfterComplete = S_IDLE;

  constructor(kind: Http1Kind, handler: Http1ParserHandler, options: Http1ParserOptions = {}) {
    this.kind = kind;
    this.handler = handler;
    this.maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    this.maxChunkLineBytes = options.maxChunkLineBytes ?? DEFAULT_MAX_CHUNK_LINE_BYTES;
    this.requestMethod = options.requestMethod ?? (() => undefined);
  }

  /** True between the first byte of a message and its completion. */
  get inMessage(): boolean {
    return this.state >= S_HEAD && this.state <= S_BODY_EOF;
  }

  /** Wire bytes of the message in progress (0 between messages). */
  get messageBytes(): number {
    return this.msgBytes;
  }

  /** A request that asked for an upgrade (or CONNECT) completed: waiting for `resume()`. */
  get paused(): boolean {
    return this.state === S_PAUSED;
  }

  /** A 101 (or a 2xx to CONNECT) completed: what follows is not HTTP/1. */
  get upgraded(): boolean {
    return this.state === S_UPGRADED;
  }

  get failed(): boolean {
    return this.state === S_ERROR;
  }

  /** Continue after a pause (the upgrade was refused). */
  resume(): void {
    if (this.state === S_PAUSED) this.state = S_IDLE;
  }

  /** Stop parsing for good; later input is ignored. */
  stop(): void {
    this.state = S_STOPPED;
  }

  /**
   * Parse a chunk. Returns how many bytes were consumed: less than the chunk when the parser
   * paused, switched protocols, failed or was stopped by its handler.
   */
  execute(chunk: Uint8Array): number {
    if (this.state >= S_PAUSED) return 0;
    const buf = asBuffer(chunk);
    const len = buf.length;
    let pos = 0;
    while (pos < len && this.state < S_PAUSED) {
      switch (this.state) {
        case S_IDLE: {
          const c = buf[pos];
          if (c === CR || c === LF) {
            pos++;
            break;
          }
          this.state = S_HEAD;
          this.startSeen = false;
          this.startMatched = this.kind === 'response' ? 0 : STATUS_START.length;
          this.method = '';
          this.target = '';
          this.sectionBytes = 0;
          this.headers = [];
          this.handler.onMessageBegin();
          break;
        }
        case S_HEAD:
        case S_TRAILERS:
        case S_CHUNK_SIZE: {
          if (this.startMatched < STATUS_START.length && this.state === S_HEAD) {
            const differs = this.matchStatusStart(buf, pos, len);
            if (differs !== -1) {
              this.msgBytes += differs - pos;
              this.fail(HTTP1_ERR.START_LINE, 'status line does not start with HTTP/1.x', { before: Buffer.from(STATUS_START.subarray(0, this.startMatched)) });
              return differs;
            }
          }
          const lf = buf.indexOf(LF, pos);
          const end = lf === -1 ? len : lf + 1;
          const n = end - pos;
          this.msgBytes += n;
          if (this.state === S_CHUNK_SIZE) {
            if (this.lineLen + n > this.maxChunkLineBytes) {
              this.fail(HTTP1_ERR.CHUNK_SIZE, `chunk-size line longer than ${this.maxChunkLineBytes} bytes`);
              return end;
            }
          } else {
            this.sectionBytes += n;
            if (this.sectionBytes > this.maxHeadBytes) {
              const what = this.state === S_HEAD ? 'head' : 'trailer section';
              this.fail(HTTP1_ERR.HEAD_TOO_LARGE, `${what} larger than ${this.maxHeadBytes} bytes`);
              return end;
            }
          }
          if (lf === -1) {
            this.lineParts.push(Buffer.from(buf.subarray(pos, len)));
            this.lineLen += n;
            pos = len;
            break;
          }
          const line = this.takeLine(buf, pos, lf);
          pos = end;
          if (line === null) break;
          if (this.state === S_CHUNK_SIZE) this.onChunkSizeLine(line);
          else if (this.state === S_HEAD) this.onHeadLine(line);
          else this.onTrailerLine(line);
          break;
        }
        case S_BODY_LENGTH:
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, len - pos);
          const data = buf.subarray(pos, pos + n);
          pos += n;
          this.msgBytes += n;
          this.remaining -= n;
          this.handler.onBody(data);
          if (this.remaining === 0 && this.state < S_PAUSED) {
            if (this.state === S_CHUNK_DATA) this.state = S_CHUNK_END;
            else this.complete();
          }
          break;
        }
        case S_CHUNK_END:
        case S_CHUNK_END_LF: {
          const c = buf[pos++];
          this.msgBytes++;
          if (c === LF) this.state = S_CHUNK_SIZE;
          else if (c === CR && this.state === S_CHUNK_END) this.state = S_CHUNK_END_LF;
          else this.fail(HTTP1_ERR.CHUNK_FRAMING, 'chunk data not followed by CRLF');
          break;
        }
        case S_BODY_EOF: {
          const data = buf.subarray(pos, len);
          this.msgBytes += len - pos;
          pos = len;
          this.handler.onBody(data);
          break;
        }
      }
    }
    return pos;
  }

  /** Back to the start of a message, everything in progress forgotten (capture resumes after a gap). */
  reset(): void {
    this.state = S_IDLE;
    this.lineParts = [];
    this.lineLen = 0;
    this.sectionBytes = 0;
    this.startSeen = false;
    this.headers = [];
    this.remaining = 0;
    this.msgBytes = 0;
    this.nextAfterComplete = S_IDLE;
  }

  /**
   * `n` bytes passed without being seen (capture fell behind forwarding). Absorbed when they
   * lie inside the current body — within a known length, within one chunk's data, or in a body
   * read to the close — so framing stays exact; false otherwise (the caller must stop: where
   * the next message starts is no longer known).
   */
  skip(n: number): boolean {
    if (this.state === S_BODY_EOF) {
      this.msgBytes += n;
      this.handler.onBodySkipped?.(n);
      return true;
    }
    if ((this.state === S_BODY_LENGTH || this.state === S_CHUNK_DATA) && n <= this.remaining) {
      this.msgBytes += n;
      this.remaining -= n;
      this.handler.onBodySkipped?.(n);
      if (this.remaining === 0) {
        if (this.state === S_CHUNK_DATA) this.state = S_CHUNK_END;
        else this.complete();
      }
      return true;
    }
    return false;
  }

  /**
   * The peer finished this direction. A close-delimited body completes; returns false when a
   * message was cut short (the caller decides what that means for its exchange).
   */
  finish(): boolean {
    if (this.state === S_BODY_EOF) {
      this.nextAfterComplete = S_FINISHED;
      this.complete();
      return true;
    }
    if (this.state === S_IDLE) {
      this.state = S_FINISHED;
      return true;
    }
    if (this.state < S_PAUSED) {
      this.state = S_FINISHED;
      return false;
    }
    return true;
  }

  private takeLine(buf: Buffer, pos: number, lf: number): string | null {
    let end = lf;
    let line: string;
    if (this.lineLen > 0) {
      this.lineParts.push(buf.subarray(pos, end));
      const whole = Buffer.concat(this.lineParts);
      this.lineParts = [];
      this.lineLen = 0;
      let e = whole.length;
      if (e > 0 && whole[e - 1] === CR) e--;
      line = whole.toString('latin1', 0, e);
    } else {
      if (end > pos && buf[end - 1] === CR) end--;
      line = buf.toString('latin1', pos, end);
    }
    if (line.indexOf('\r') !== -1) {
      this.fail(this.state === S_CHUNK_SIZE ? HTTP1_ERR.CHUNK_SIZE : HTTP1_ERR.HEADER, 'bare CR in a line');
      return null;
    }
    return line;
  }

  private fail(code: Http1ErrorCode, message: string, notHttp1?: Http1ParseError['notHttp1']): void {
    this.state = S_ERROR;
    this.lineParts = [];
    this.lineLen = 0;
    this.handler.onError(notHttp1 === undefined ? { code, message } : { code, message, notHttp1 });
  }

  /**
   * A response's first bytes against `HTTP/1.`, as they arrive (only peeked: the line is read
   * as usual): the index of the first byte that differs, or -1. Checked byte by byte so the
   * verdict comes at the same byte however the input is cut.
   */
  private matchStatusStart(buf: Buffer, pos: number, len: number): number {
    for (let i = pos; i < len && this.startMatched < STATUS_START.length; i++) {
      if (buf[i] !== STATUS_START[this.startMatched]) return i;
      this.startMatched++;
    }
    return -1;
  }

  private onHeadLine(line: string): void {
    if (!this.startSeen) {
      this.startSeen = true;
      if (this.kind === 'request') this.parseRequestLine(line);
      else this.parseStatusLine(line);
      return;
    }
    if (line.length === 0) {
      this.headComplete();
      return;
    }
    this.addField(this.headers, line);
  }

  private onTrailerLine(line: string): void {
    if (line.length === 0) {
      if (this.headers.length > 0) this.handler.onTrailers(this.headers);
      if (this.state === S_TRAILERS) this.complete();
      return;
    }
    this.addField(this.headers, line);
  }

  private addField(list: Http1HeaderList, line: string): void {
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      const last = list[list.length - 1];
      if (last === undefined) {
        this.fail(HTTP1_ERR.HEADER, 'continuation line before any header');
        return;
      }
      const more = trimOws(line);
      if (BAD_VALUE.test(more)) {
        this.fail(HTTP1_ERR.HEADER, `invalid character in folded value of ${last[0]}`);
        return;
      }
      last[1] = last[1].length === 0 ? more : more.length === 0 ? last[1] : `${last[1]} ${more}`;
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      this.fail(HTTP1_ERR.HEADER, 'header line without a name and colon');
      return;
    }
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) {
      this.fail(HTTP1_ERR.HEADER, `invalid header name ${JSON.stringify(name.slice(0, 64))}`);
      return;
    }
    const value = trimOws(line, colon + 1);
    if (BAD_VALUE.test(value)) {
      this.fail(HTTP1_ERR.HEADER, `invalid character in value of ${name}`);
      return;
    }
    list.push([name, value]);
  }

  private parseVersion(s: string): boolean {
    const m = VERSION.exec(s);
    if (m === null || m[1] !== '1') return false;
    this.versionMajor = 1;
    this.versionMinor = Number(m[2]);
    return true;
  }

  private parseRequestLine(line: string): void {
    const sp1 = line.indexOf(' ');
    const sp2 = line.lastIndexOf(' ');
    if (sp1 <= 0 || sp2 === sp1) {
      this.fail(HTTP1_ERR.START_LINE, 'request line is not "method target version"');
      return;
    }
    const method = line.slice(0, sp1);
    const target = line.slice(sp1 + 1, sp2);
    if (!TOKEN.test(method)) {
      this.fail(HTTP1_ERR.START_LINE, 'invalid method');
      return;
    }
    if (target.length === 0 || TARGET_BAD.test(target)) {
      this.fail(HTTP1_ERR.START_LINE, 'invalid request target');
      return;
    }
    if (!this.parseVersion(line.slice(sp2 + 1))) {
      this.fail(HTTP1_ERR.START_LINE, 'unsupported HTTP version');
      return;
    }
    this.method = method;
    this.target = target;
    this.statusCode = 0;
    this.reason = '';
  }

  private parseStatusLine(line: string): void {
    const sp1 = line.indexOf(' ');
    if (sp1 <= 0 || !this.parseVersion(line.slice(0, sp1))) {
      this.fail(HTTP1_ERR.START_LINE, 'status line does not start with HTTP/1.x');
      return;
    }
    const code = line.slice(sp1 + 1, sp1 + 4);
    const after = line.charCodeAt(sp1 + 4);
    if (code.length !== 3 || !DIGITS.test(code) || (line.length > sp1 + 4 && after !== 32)) {
      this.fail(HTTP1_ERR.START_LINE, 'invalid status code');
      return;
    }
    const reason = line.slice(sp1 + 5);
    if (BAD_VALUE.test(reason)) {
      this.fail(HTTP1_ERR.START_LINE, 'invalid reason phrase');
      return;
    }
    this.statusCode = Number(code);
    this.reason = reason;
    this.method = '';
    this.target = '';
  }

  /**
   * The request line of the message being read once it was read whole and valid, though its
   * head may have failed after it (too large, a bad header): what a record of that failure can
   * still say. Undefined before it, for responses, and when the request line itself failed.
   */
  requestLine(): { method: string; target: string } | undefined {
    return this.kind === 'request' && this.method !== '' ? { method: this.method, target: this.target } : undefined;
  }

  private headComplete(): void {
    const headers = this.headers;
    const isRequest = this.kind === 'request';
    const framing = messageFraming(headers, {
      kind: this.kind,
      method: isRequest ? this.method : this.requestMethod(),
      statusCode: this.statusCode,
    });
    if ('code' in framing) {
      this.fail(framing.code, framing.message);
      return;
    }
    const { bodyKind, upgrade, transfer } = framing;
    const cl = framing.contentLength;
    this.nextAfterComplete = framing.after === 'paused' ? S_PAUSED : framing.after === 'upgraded' ? S_UPGRADED : S_IDLE;

    const head: Http1Head = {
      kind: this.kind,
      method: this.method,
      target: this.target,
      statusCode: this.statusCode,
      reason: this.reason,
      versionMajor: this.versionMajor,
      versionMinor: this.versionMinor,
      headers,
      headSize: this.sectionBytes,
      bodyKind,
      contentLength: cl,
      upgrade,
      transfer,
    };
    this.headers = [];
    if (bodyKind === 'length') {
      this.state = S_BODY_LENGTH;
      this.remaining = cl;
    } else if (bodyKind === 'chunked') {
      this.state = S_CHUNK_SIZE;
    } else if (bodyKind === 'eof') {
      this.state = S_BODY_EOF;
    }
    this.handler.onHead(head);
    if (bodyKind === 'none' && this.state === S_HEAD) this.complete();
  }

  private onChunkSizeLine(line: string): void {
    const m = HEX.exec(line);
    if (m === null) {
      this.fail(HTTP1_ERR.CHUNK_SIZE, `invalid chunk size ${JSON.stringify(line.slice(0, 32))}`);
      return;
    }
    const hex = m[0];
    const rest = line.slice(hex.length);
    const restTrim = trimOws(rest);
    if (restTrim.length > 0 && restTrim.charCodeAt(0) !== 59 /* ; */) {
      this.fail(HTTP1_ERR.CHUNK_SIZE, `invalid chunk size ${JSON.stringify(line.slice(0, 32))}`);
      return;
    }
    if (hex.length > 13) {
      this.fail(HTTP1_ERR.CHUNK_SIZE, 'chunk size too large');
      return;
    }
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = S_TRAILERS;
      this.sectionBytes = 0;
      this.headers = [];
    } else {
      this.remaining = size;
      this.state = S_CHUNK_DATA;
    }
  }

  private complete(): void {
    const bytes = this.msgBytes;
    this.msgBytes = 0;
    this.remaining = 0;
    this.headers = [];
    this.state = this.nextAfterComplete;
    this.nextAfterComplete = S_IDLE;
    this.handler.onMessageComplete(bytes);
  }
}
