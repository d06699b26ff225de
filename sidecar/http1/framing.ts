/**
 * How an HTTP/1 message's body is delimited (RFC 9112 §6.3), decided from its head alone.
 *
 * Pure: the parser hands the header list, its kind and start line facts, and gets back the
 * body kind, the Content-Length, whether the connection stops being HTTP/1 after the message
 * (an upgrade or CONNECT) — or a parse error value. Kept apart from the parser's byte loop
 * because this is where request smuggling defences live (TE over CL, conflicting lengths,
 * a request TE that does not end with `chunked`), and they deserve to be read on their own.
 *
 * It also says which transfer codings (RFC 9112 §7: `gzip, chunked` compresses the body, then
 * chunks it) the body still carries once the parser removed its framing, for the capture to
 * remove; they never change where the message ends.
 */
import { HTTP1_ERR, type Http1ParseError } from './errors.ts';
import type { Http1BodyKind, Http1HeaderList, Http1Kind } from './parser.ts';
import { trimOws } from './ows.ts';

const DIGITS = /^\d+$/;

/** A body's transfer codings other than the framing the parser removes. */
export interface TransferCodings {
  /** Every coding of Transfer-Encoding, lower-cased, in the order they were applied. */
  all: string[];
  /** Those the body bytes still carry once the parser removed the framing (all but a final `chunked`); never empty. */
  left: string[];
}

/** What follows the message on its connection. */
export type AfterMessage = 'idle' | 'paused' | 'upgraded';

export interface Framing {
  bodyKind: Http1BodyKind;
  /** Content-Length when `bodyKind` is `length`, else -1. */
  contentLength: number;
  /** The Upgrade asked for (request) or granted (101 response: '' when the header is absent). */
  upgrade?: string;
  /** `paused`: a request asking to switch protocols; `upgraded`: the switch happened. */
  after: AfterMessage;
  /** Set when the body carries transfer codings besides a final `chunked` (`gzip, chunked`; a response's `gzip` read to the close). */
  transfer?: TransferCodings;
}

/** Facts of the message's start line the framing depends on. */
export interface StartFacts {
  kind: Http1Kind;
  /** The request's method (requests), or the method of the request a response answers. */
  method: string | undefined;
  /** The response's status (0 for requests). */
  statusCode: number;
}

interface FramingFields {
  contentLength: number;
  transferCodings?: string[];
  connectionUpgrade: boolean;
  upgrade?: string;
}

function isError(x: FramingFields | Http1ParseError): x is Http1ParseError {
  return 'code' in x;
}

function readFields(headers: Http1HeaderList): FramingFields | Http1ParseError {
  const fields: FramingFields = { contentLength: -1, connectionUpgrade: false };
  for (let i = 0; i < headers.length; i++) {
    const [rawName, value] = headers[i];
    // Only names of 7..17 characters can matter: skip the rest without lower-casing them.
    if (rawName.length < 7 || rawName.length > 17) continue;
    const name = rawName.toLowerCase();
    if (name === 'content-length') {
      for (const part of value.split(',')) {
        const v = trimOws(part);
        if (!DIGITS.test(v) || v.length > 15) {
          return { code: HTTP1_ERR.CONTENT_LENGTH, message: `invalid Content-Length ${JSON.stringify(value.slice(0, 32))}` };
        }
        const n = Number(v);
        if (fields.contentLength !== -1 && fields.contentLength !== n) {
          return { code: HTTP1_ERR.CONTENT_LENGTH, message: 'conflicting Content-Length values' };
        }
        fields.contentLength = n;
      }
    } else if (name === 'transfer-encoding') {
      const codings = (fields.transferCodings ??= []);
      for (const part of value.split(',')) {
        const v = trimOws(part).toLowerCase();
        if (v.length > 0) codings.push(v);
      }
    } else if (name === 'connection') {
      for (const part of value.split(',')) if (trimOws(part).toLowerCase() === 'upgrade') fields.connectionUpgrade = true;
    } else if (name === 'upgrade') {
      fields.upgrade = fields.upgrade === undefined ? value : `${fields.upgrade}, ${value}`;
    }
  }
  return fields;
}

/** The codings a body framed as `bodyKind` still carries: `te` without the final `chunked` the parser removes. */
function transferLeft(te: string[], bodyKind: Http1BodyKind): TransferCodings | undefined {
  const left = bodyKind === 'chunked' ? te.slice(0, -1) : te;
  return left.length === 0 ? undefined : { all: te, left };
}

function requestFraming(f: FramingFields, method: string | undefined): Framing | Http1ParseError {
  const te = f.transferCodings;
  let bodyKind: Http1BodyKind;
  if (te !== undefined) {
    if (te[te.length - 1] !== 'chunked') {
      return { code: HTTP1_ERR.TRANSFER_ENCODING, message: 'request Transfer-Encoding does not end with chunked' };
    }
    bodyKind = 'chunked';
  } else {
    bodyKind = f.contentLength > 0 ? 'length' : 'none';
  }
  const contentLength = bodyKind === 'length' ? f.contentLength : -1;
  const transfer = te === undefined ? undefined : transferLeft(te, bodyKind);
  let framing: Framing;
  if (method === 'CONNECT') framing = { bodyKind, contentLength, after: 'paused' };
  else if (f.connectionUpgrade && f.upgrade !== undefined) framing = { bodyKind, contentLength, upgrade: f.upgrade, after: 'paused' };
  else framing = { bodyKind, contentLength, after: 'idle' };
  if (transfer !== undefined) framing.transfer = transfer;
  return framing;
}

function responseFraming(f: FramingFields, status: number, requestMethod: string | undefined): Framing {
  const none = (after: AfterMessage = 'idle'): Framing => ({ bodyKind: 'none', contentLength: -1, after });
  if (status === 101) return { ...none('upgraded'), upgrade: f.upgrade ?? '' };
  if (requestMethod === 'CONNECT' && status >= 200 && status < 300) return none('upgraded');
  if (status < 200 || status === 204 || status === 304 || requestMethod === 'HEAD') return none();
  const te = f.transferCodings;
  if (te !== undefined) {
    const bodyKind = te[te.length - 1] === 'chunked' ? 'chunked' : 'eof';
    const transfer = transferLeft(te, bodyKind);
    return transfer === undefined ? { bodyKind, contentLength: -1, after: 'idle' } : { bodyKind, contentLength: -1, after: 'idle', transfer };
  }
  if (f.contentLength > 0) return { bodyKind: 'length', contentLength: f.contentLength, after: 'idle' };
  return f.contentLength === 0 ? none() : { bodyKind: 'eof', contentLength: -1, after: 'idle' };
}

/** The framing of a message whose head is `headers`, or why the head cannot be framed. */
export function messageFraming(headers: Http1HeaderList, start: StartFacts): Framing | Http1ParseError {
  const fields = readFields(headers);
  if (isError(fields)) return fields;
  return start.kind === 'request' ? requestFraming(fields, start.method) : responseFraming(fields, start.statusCode, start.method);
}
