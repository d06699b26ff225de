/**
 * Content-decoding of captured bodies for display. Pure and synchronous: the input is at most
 * one body limit of captured bytes, and every decompression is capped so a small compressed
 * body cannot expand into a large allocation (a "zip bomb").
 *
 * gzip, deflate and brotli are decoded in one pass that stops when the cap is full: zlib's
 * engine is driven synchronously with an output buffer of the cap's size (`decodeCapped`), as
 * Node's own sync calls drive it. Those calls, given `maxOutputLength`, throw away what they
 * decoded once it passes the cap, so the first cap bytes of a longer body had to be found by
 * bisecting the input, a decode per step: a 106-byte brotli stream of a long run cost about
 * 55 ms of the capture worker (seven decoders, each allocating brotli's window) and gave an
 * empty body. The bisection remains for zstd and for a Node whose engine does not expose the
 * handle this uses.
 *
 * HTTP/1 transfer codings besides the chunked framing (`Transfer-Encoding: gzip, chunked`) are
 * removed with the same decoders and caps (`decodeTransferCodings`).
 */
import zlib from 'node:zlib';

export interface DecodedBody {
  /** Decoded bytes (at most `maxOutputBytes`), or the input unchanged when nothing was decoded. */
  body: Uint8Array;
  /** True when `body` is a prefix of the decoded content (input cut short or output over the cap). */
  truncated: boolean;
  /** True when at least one coding was removed. */
  decoded: boolean;
  /** Why decoding was not done, when it was attempted and given up. */
  error?: string;
}

export interface DecodeBodyOptions {
  /** Cap on the decoded size. */
  maxOutputBytes: number;
  /** False when `raw` is only the first part of the body (captured up to a limit). */
  inputComplete: boolean;
}

type Decoder = (input: Uint8Array, maxOutputLength: number, partial: boolean) => Buffer;

/** What `decodeCapped` needs of a zlib stream object: its native handle's synchronous write (Node's `zlib.js` drives it the same way). */
interface ZlibEngine {
  _handle?: { writeSync?: (flush: number, input: Uint8Array, inOffset: number, inLength: number, out: Uint8Array, outOffset: number, outLength: number) => void };
  _writeState?: Uint32Array;
  readonly destroyed: boolean;
  on(event: 'error', listener: (err: Error) => void): unknown;
  close(): void;
}

/** How to decode one coding in a single capped pass: its engine and flush modes. */
interface CappedCoding {
  create: (input: Uint8Array) => ZlibEngine;
  /** Flush for a complete body (the stream must end) and for a captured prefix. */
  finish: number;
  partial: number;
}

/** Extra output tolerated while cutting a decoded body at the cap (bounds memory per body). */
const OVERFLOW_ALLOWANCE = 1024 * 1024;

const Z_SYNC = zlib.constants.Z_SYNC_FLUSH;
const BROTLI_FLUSH = zlib.constants.BROTLI_OPERATION_FLUSH;

function inflateEither(input: Uint8Array, maxOutputLength: number, partial: boolean): Buffer {
  const opts = partial ? { maxOutputLength, finishFlush: Z_SYNC } : { maxOutputLength };
  // "deflate" is meant to be zlib-wrapped, but some servers send raw deflate: try both.
  if (input.length > 0 && (input[0] & 0x0f) === 8 && ((input[0] << 8) | (input[1] ?? 0)) % 31 === 0) {
    return zlib.inflateSync(input, opts);
  }
  return zlib.inflateRawSync(input, opts);
}

/** zlib-wrapped or raw deflate, as `inflateEither` tells them apart. */
const isZlibWrapped = (input: Uint8Array): boolean => input.length > 0 && (input[0] & 0x0f) === 8 && ((input[0] << 8) | (input[1] ?? 0)) % 31 === 0;

const GZIP: CappedCoding = { create: () => zlib.createGunzip() as unknown as ZlibEngine, finish: zlib.constants.Z_FINISH, partial: Z_SYNC };
const CAPPED: Record<string, CappedCoding> = {
  gzip: GZIP,
  'x-gzip': GZIP,
  deflate: {
    create: (input) => (isZlibWrapped(input) ? zlib.createInflate() : zlib.createInflateRaw()) as unknown as ZlibEngine,
    finish: zlib.constants.Z_FINISH,
    partial: Z_SYNC,
  },
  br: { create: () => zlib.createBrotliDecompress() as unknown as ZlibEngine, finish: zlib.constants.BROTLI_OPERATION_FINISH, partial: BROTLI_FLUSH },
};

/**
 * One pass of `coding` over `input` into a buffer of `cap + 1` bytes: the first `cap` bytes of
 * the content, and whether there is more. `failed` when the engine reports an error (the caller
 * asks Node's own call for its message); `unavailable` when this Node's engine lacks the handle.
 */
function decodeCapped(coding: CappedCoding, input: Uint8Array, cap: number, partial: boolean): { out: Uint8Array; more: boolean } | 'failed' | 'unavailable' {
  const engine = coding.create(input);
  const write = engine._handle?.writeSync;
  const state = engine._writeState;
  if (typeof write !== 'function' || state === undefined) {
    engine.close();
    return 'unavailable';
  }
  // An engine error destroys the stream synchronously (and emits 'error' later): listened to so
  // that the emit finds a listener.
  engine.on('error', () => undefined);
  const out = Buffer.allocUnsafe(cap + 1);
  try {
    write.call(engine._handle, partial ? coding.partial : coding.finish, input, 0, input.byteLength, out, 0, out.length);
  } catch {
    return 'failed';
  }
  if (engine.destroyed) return 'failed';
  const produced = out.length - state[0];
  engine.close();
  return { out: out.subarray(0, Math.min(produced, cap)), more: produced > cap };
}

const zstd = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array, o: object) => Buffer }).zstdDecompressSync;

const DECODERS: Record<string, Decoder> = {
  gzip: (input, maxOutputLength, partial) =>
    zlib.gunzipSync(input, partial ? { maxOutputLength, finishFlush: Z_SYNC } : { maxOutputLength }),
  'x-gzip': (input, maxOutputLength, partial) =>
    zlib.gunzipSync(input, partial ? { maxOutputLength, finishFlush: Z_SYNC } : { maxOutputLength }),
  deflate: inflateEither,
  br: (input, maxOutputLength, partial) =>
    zlib.brotliDecompressSync(input, partial ? { maxOutputLength, finishFlush: BROTLI_FLUSH } : { maxOutputLength }),
};
if (zstd !== undefined) {
  DECODERS.zstd = (input, maxOutputLength) => zstd(input, { maxOutputLength });
}

/** A coding this file removes (own keys only: `constructor` or `__proto__` is no coding). */
const hasDecoder = (coding: string): boolean => Object.hasOwn(DECODERS, coding);

function isTooLarge(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'ERR_BUFFER_TOO_LARGE';
}

/**
 * Decode one coding, capped. When the whole output would exceed the cap, the largest input
 * prefix whose (flushed) output fits is found by bisection: a prefix of compressed input decodes
 * to a prefix of the output, so the result is the first `<= cap` bytes of the content.
 */
function decodeOne(coding: string, input: Uint8Array, cap: number, inputComplete: boolean): { out: Uint8Array; truncated: boolean } {
  const decoder = DECODERS[coding];
  const capped = CAPPED[coding];
  if (capped !== undefined) {
    const once = decodeCapped(capped, input, cap, !inputComplete);
    if (typeof once === 'object') return { out: once.out, truncated: !inputComplete || once.more };
    // Failed: Node's own call below fails as fast and gives the error its message.
  }
  try {
    return { out: decoder(input, cap, !inputComplete), truncated: !inputComplete };
  } catch (err) {
    if (!isTooLarge(err)) throw err;
  }
  let lo = 0;
  let hi = input.length - 1;
  let best: Buffer = Buffer.alloc(0);
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    try {
      const out = decoder(input.subarray(0, mid), cap, true);
      best = out;
      lo = mid + 1;
    } catch (err) {
      if (!isTooLarge(err)) throw err;
      hi = mid - 1;
    }
  }
  // One more input byte can expand a lot (runs of repeated bytes): decode the first prefix that
  // overflowed with a bounded allowance and keep exactly `cap` bytes of it.
  if (best.length < cap && lo <= input.length) {
    try {
      const over = decoder(input.subarray(0, lo), cap + OVERFLOW_ALLOWANCE, true);
      best = over.subarray(0, cap);
    } catch {
      // Keep the shorter prefix.
    }
  }
  return { out: best, truncated: true };
}

/** The codings of a `content-encoding` value that change the bytes (`identity` and empty items left out), lower-cased. */
export function contentCodings(contentEncoding: string | undefined): string[] {
  if (contentEncoding === undefined) return [];
  return contentEncoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c.length > 0 && c !== 'identity');
}

/** True when every coding of `contentEncoding` is one `decodeBody` removes. */
export function isDecodable(contentEncoding: string | undefined): boolean {
  return contentCodings(contentEncoding).every(hasDecoder);
}

const UNSUPPORTED = 'unsupported content-encoding ';
const FAILED = ' decode failed: ';

/** True when `text` (e.g. the part of a record note after `request.body: `) is an `error` of `decodeBody`. */
export function isDecodeError(text: string): boolean {
  return text.startsWith(UNSUPPORTED) || text.includes(FAILED);
}

/**
 * True when `body` still starts like an encoded stream of one of the codings (gzip or zstd
 * magic): a body the capture path could not decode and passed on as it came.
 */
export function looksEncoded(body: Uint8Array, contentEncoding: string | undefined): boolean {
  if (body.length < 4) return false;
  for (const c of contentCodings(contentEncoding)) {
    if ((c === 'gzip' || c === 'x-gzip') && body[0] === 0x1f && body[1] === 0x8b && body[2] === 8) return true;
    if (c === 'zstd' && body[0] === 0x28 && body[1] === 0xb5 && body[2] === 0x2f && body[3] === 0xfd) return true;
  }
  return false;
}

/** Remove `content-encoding` codings (applied in order, so removed in reverse) for display. */
export function decodeBody(raw: Uint8Array, contentEncoding: string | undefined, options: DecodeBodyOptions): DecodedBody {
  if (contentEncoding === undefined) return { body: raw, truncated: !options.inputComplete, decoded: false };
  return removeCodings(raw, contentCodings(contentEncoding), options, (c) => `${UNSUPPORTED}${c}`, (message) => `${contentEncoding}${FAILED}${message}`);
}

/**
 * Remove HTTP/1 transfer codings other than the chunked framing (`gzip` of `Transfer-Encoding:
 * gzip, chunked`), given in the order applied, as `decodeBody` removes the same content codings.
 * `chunked` among them (applied twice, or before another coding) is a coding it cannot remove.
 */
export function decodeTransferCodings(raw: Uint8Array, codings: readonly string[], options: DecodeBodyOptions): DecodedBody {
  return removeCodings(
    raw,
    codings.filter((c) => c !== 'identity'),
    options,
    (c) => `unsupported transfer coding ${c}`,
    (message, coding) => `${coding}${FAILED}${message}`,
  );
}

/** `codings` (lower-cased, in the order applied) removed in reverse; the input unchanged, with why, when one cannot be. */
function removeCodings(
  raw: Uint8Array,
  codings: readonly string[],
  options: DecodeBodyOptions,
  unsupported: (coding: string) => string,
  failed: (message: string, coding: string) => string,
): DecodedBody {
  if (codings.length === 0 || raw.length === 0) return { body: raw, truncated: !options.inputComplete, decoded: false };
  for (const c of codings) {
    if (!hasDecoder(c)) {
      return { body: raw, truncated: !options.inputComplete, decoded: false, error: unsupported(c) };
    }
  }
  let data: Uint8Array = raw;
  let complete = options.inputComplete;
  let i = codings.length - 1;
  try {
    for (; i >= 0; i--) {
      const { out, truncated } = decodeOne(codings[i], data, options.maxOutputBytes, complete);
      data = out;
      complete = !truncated;
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { body: raw, truncated: !options.inputComplete, decoded: false, error: failed(message, codings[i]) };
  }
  return { body: data, truncated: !complete, decoded: true };
}
