/**
 * Incremental RESP reader, one per direction: the proxy hands us copies of chunks cut anywhere
 * (inside a length line, between `\r` and `\n`, in the middle of a 1 GiB value), so the reader
 * is a byte-driven state machine that never waits for a whole value to be in one piece and never
 * keeps more than the capture limits: bulk data past `maxBodyBytes` per top-level value is only
 * counted, elements past `maxStoredElements` only counted, and nesting or declared lengths past
 * their limits are parse errors (reported once, as values; nothing is thrown).
 *
 * Covers RESP2 and RESP3 (null, boolean, double, big number, blob error, verbatim string, map,
 * set, push, attribute) and, on the client side, inline commands (what `redis-cli` and telnet
 * users send: a line of words, with `"..."` and `'...'` quoting).
 */

export type RespKind =
  | 'simple'
  | 'error'
  | 'integer'
  | 'bulk'
  | 'null'
  | 'array'
  | 'map'
  | 'set'
  | 'double'
  | 'boolean'
  | 'bignum'
  | 'verbatim'
  | 'push'
  | 'blob_error'
  | 'attribute';

export interface RespValue {
  kind: RespKind;
  /** Line types (simple, error, integer, double, big number, boolean): the text, maybe cut. */
  text?: string;
  /** String types (bulk, verbatim, blob error): the bytes kept (a prefix of the value). */
  data?: Buffer;
  /** True size in bytes of `data` or `text` (more than kept when cut). */
  size?: number;
  /** Bytes of the value that passed unseen (capture fell behind); nothing after them is kept. */
  skipped?: number;
  /** Verbatim strings: the three-letter format (`txt`, `mkd`). */
  format?: string;
  /** Aggregates; a map (or attribute) alternates keys and values. */
  items?: RespValue[];
  /** Aggregates: the declared element count (pairs for maps). */
  count?: number;
  /** Aggregates: elements received but not kept (beyond the element limit). */
  dropped?: number;
  /** RESP3 attributes sent before this value. */
  attributes?: RespValue;
  /** A command sent as an inline line rather than a RESP array. */
  inline?: boolean;
}

export interface RespValueInfo {
  /** Bytes of the value on the wire (including leading blank lines and attributes). */
  wireBytes: number;
  /** Bytes of it that were skipped rather than seen. */
  skipped: number;
}

export interface RespReaderHandlers {
  /** The first byte of a top-level value was read (the caller notes the time). */
  onBegin(): void;
  onValue(value: RespValue, info: RespValueInfo): void;
  /** The stream is not RESP (any more): the reader stops; `detail` never quotes the payload. */
  onError(detail: string): void;
}

export interface RespReaderOptions {
  side: 'client' | 'server';
  /** Bulk bytes kept per top-level value (all its strings together). */
  maxBodyBytes: number;
  /** Aggregates inside aggregates, at most. Default 32. */
  maxDepth?: number;
  /** Largest declared aggregate length accepted. Default 2^24. */
  maxAggregateLength?: number;
  /** Largest declared bulk length accepted. Default 4 GiB. */
  maxBulkLength?: number;
  /** Values kept per top-level value (the rest are counted in `dropped`). Default 10 000. */
  maxStoredElements?: number;
  /** Longest inline command line, and text kept of a simple line. Default 64 KiB (Redis' own inline limit). */
  maxLineBytes?: number;
}

const CR = 13;
const LF = 10;
/** Length lines (`$123`, `*5`) are short; anything longer is not RESP. */
const MAX_LENGTH_LINE = 24;

type State = 'type' | 'line' | 'bulk' | 'bulk_cr' | 'bulk_lf' | 'inline';

interface Frame {
  node: RespValue;
  /** Elements still expected (maps and attributes: keys and values counted separately). */
  remaining: number;
  /** Over the element limit: read and counted, not kept. */
  ghost: boolean;
  /** Attribute read at this level, waiting for the value it describes. */
  pendingAttribute?: RespValue;
}

const LINE_KIND: Record<number, RespKind | undefined> = {
  0x2b: 'simple', // +
  0x2d: 'error', // -
  0x3a: 'integer', // :
  0x2c: 'double', // ,
  0x28: 'bignum', // (
  0x23: 'boolean', // #
  0x5f: 'null', // _
};
const STRING_KIND: Record<number, RespKind | undefined> = {
  0x24: 'bulk', // $
  0x21: 'blob_error', // !
  0x3d: 'verbatim', // =
};
const AGGREGATE_KIND: Record<number, RespKind | undefined> = {
  0x2a: 'array', // *
  0x25: 'map', // %
  0x7e: 'set', // ~
  0x3e: 'push', // >
  0x7c: 'attribute', // |
};

const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;

class ReaderError extends Error {}

export class RespReader {
  readonly #h: RespReaderHandlers;
  readonly #client: boolean;
  readonly #maxBody: number;
  readonly #maxDepth: number;
  readonly #maxAggregate: number;
  readonly #maxBulk: number;
  readonly #maxStored: number;
  readonly #maxLine: number;

  #state: State = 'type';
  #failed = false;
  #stack: Frame[] = [];
  /** Attribute read at the top level, waiting for its value. */
  #topAttribute: RespValue | undefined;
  /** Type byte of the line being read. */
  #lineType = 0;
  #line: Buffer[] = [];
  #lineKept = 0;
  #lineSize = 0;
  #lineLast = 0;
  /** The string value being read and what is left of it. */
  #bulk: RespValue | undefined;
  #bulkParts: Buffer[] = [];
  #bulkKept = 0;
  #bulkRemaining = 0;
  #bulkGhost = false;
  /** Per top-level value. */
  #began = false;
  #wire = 0;
  #skipped = 0;
  #budget = 0;
  #nodes = 0;

  constructor(handlers: RespReaderHandlers, options: RespReaderOptions) {
    this.#h = handlers;
    this.#client = options.side === 'client';
    this.#maxBody = Math.max(0, options.maxBodyBytes);
    this.#maxDepth = options.maxDepth ?? 32;
    this.#maxAggregate = options.maxAggregateLength ?? 1 << 24;
    this.#maxBulk = options.maxBulkLength ?? 2 ** 32;
    this.#maxStored = options.maxStoredElements ?? 10_000;
    this.#maxLine = options.maxLineBytes ?? 64 * 1024;
    this.#budget = this.#maxBody;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** Bytes of the top-level value in progress (for accounting when the connection ends). */
  get messageBytes(): number {
    return this.#began ? this.#wire : 0;
  }

  /** Between top-level values (nothing of a value read yet). */
  get atBoundary(): boolean {
    return !this.#began;
  }

  /** Forget everything (framing lost); the next byte must start a value. */
  reset(): void {
    this.#state = 'type';
    this.#failed = false;
    this.#stack = [];
    this.#topAttribute = undefined;
    this.#line = [];
    this.#bulk = undefined;
    this.#bulkParts = [];
    this.#startValue();
  }

  /** Stop for good (the session gave up on the connection). */
  stop(): void {
    this.#failed = true;
    this.#stack = [];
    this.#line = [];
    this.#bulkParts = [];
  }

  execute(chunk: Uint8Array): void {
    if (this.#failed) return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    try {
      let i = 0;
      while (i < buf.length && !this.#failed) i = this.#step(buf, i);
    } catch (err) {
      this.#fail(err instanceof ReaderError ? err.message : `reader state: ${String(err)}`);
    }
  }

  /**
   * `n` bytes passed unseen. Absorbed only inside a string value long enough to hold them (the
   * framing is then intact); otherwise false and the caller must resynchronise.
   */
  skip(n: number): boolean {
    if (this.#failed) return true;
    if (this.#state !== 'bulk' || this.#bulk === undefined || n > this.#bulkRemaining) return false;
    this.#bulk.skipped = (this.#bulk.skipped ?? 0) + n;
    this.#bulkRemaining -= n;
    this.#wire += n;
    this.#skipped += n;
    if (this.#bulkRemaining === 0) this.#state = 'bulk_cr';
    return true;
  }

  #fail(detail: string): void {
    if (this.#failed) return;
    this.stop();
    this.#h.onError(detail);
  }

  #startValue(): void {
    this.#began = false;
    this.#wire = 0;
    this.#skipped = 0;
    this.#budget = this.#maxBody;
    this.#nodes = 0;
  }

  #begin(): void {
    if (this.#began) return;
    this.#began = true;
    this.#h.onBegin();
  }

  /** Consumes bytes from `buf` at `i`; returns the next offset. */
  #step(buf: Buffer, i: number): number {
    switch (this.#state) {
      case 'type':
        return this.#readType(buf, i);
      case 'line':
      case 'inline':
        return this.#readLine(buf, i);
      case 'bulk':
        return this.#readBulk(buf, i);
      case 'bulk_cr':
      case 'bulk_lf': {
        const want = this.#state === 'bulk_cr' ? CR : LF;
        if (buf[i] !== want) throw new ReaderError(`string value not followed by CRLF (got ${hex(buf[i])})`);
        this.#wire++;
        if (this.#state === 'bulk_cr') this.#state = 'bulk_lf';
        else this.#finishBulk();
        return i + 1;
      }
    }
  }

  #readType(buf: Buffer, i: number): number {
    const b = buf[i];
    const top = this.#stack.length === 0 && this.#topAttribute === undefined;
    if (this.#client && top) {
      // Redis skips blank lines between commands; they count towards the next one's bytes.
      if (b === CR || b === LF) {
        this.#wire++;
        return i + 1;
      }
      this.#begin();
      this.#line = [];
      this.#lineKept = 0;
      this.#lineSize = 0;
      if (b !== 0x2a) {
        this.#state = 'inline';
        return i;
      }
    }
    this.#begin();
    if (LINE_KIND[b] === undefined && STRING_KIND[b] === undefined && AGGREGATE_KIND[b] === undefined) {
      throw new ReaderError(`unknown RESP type byte ${hex(b)}`);
    }
    this.#wire++;
    this.#lineType = b;
    this.#line = [];
    this.#lineKept = 0;
    this.#lineSize = 0;
    this.#state = 'line';
    return i + 1;
  }

  #readLine(buf: Buffer, i: number): number {
    const lf = buf.indexOf(LF, i);
    const end = lf === -1 ? buf.length : lf;
    const piece = buf.subarray(i, end);
    const inline = this.#state === 'inline';
    const lengthLine = !inline && LINE_KIND[this.#lineType] === undefined;
    const cap = lengthLine ? MAX_LENGTH_LINE : this.#maxLine;
    this.#lineSize += piece.length;
    this.#wire += piece.length;
    if (piece.length > 0) this.#lineLast = piece[piece.length - 1];
    if (this.#lineSize > cap) {
      if (lengthLine) throw new ReaderError('length line too long');
      if (inline) throw new ReaderError(`inline command longer than ${cap} bytes`);
    }
    if (this.#lineKept < cap) {
      const take = piece.subarray(0, cap - this.#lineKept);
      this.#line.push(Buffer.from(take));
      this.#lineKept += take.length;
    }
    if (lf === -1) return buf.length;
    this.#wire++;
    let line = this.#line.length === 1 ? this.#line[0] : Buffer.concat(this.#line);
    this.#line = [];
    let size = this.#lineSize;
    if (size > 0 && this.#lineLast === CR) {
      // The CR of CRLF is not part of the text.
      size--;
      if (line.length > size) line = line.subarray(0, size);
    }
    if (inline) this.#finishInline(line);
    else this.#finishLine(line, size);
    return lf + 1;
  }

  #finishInline(line: Buffer): void {
    const args = splitInlineArgs(line);
    if (args === undefined) throw new ReaderError('unbalanced quotes in inline command');
    const items = args.map((a): RespValue => ({ kind: 'bulk', data: a, size: a.length }));
    this.#state = 'type';
    this.#emitTop({ kind: 'array', items, count: items.length, inline: true });
  }

  #finishLine(line: Buffer, size: number): void {
    const t = this.#lineType;
    const lineKind = LINE_KIND[t];
    if (lineKind !== undefined) {
      const text = line.toString('utf8');
      const v: RespValue = { kind: lineKind };
      if (lineKind !== 'null') v.text = text;
      if (size > line.length) v.size = size;
      if (lineKind === 'boolean' && text !== 't' && text !== 'f') throw new ReaderError('boolean is not t or f');
      if (lineKind === 'integer' && !/^[+-]?\d{1,20}$/.test(text)) throw new ReaderError('integer is not a number');
      this.#state = 'type';
      this.#complete(v, this.#newNode());
      return;
    }
    const text = line.toString('latin1');
    const stringKind = STRING_KIND[t];
    if (stringKind !== undefined) {
      if (text === '-1' && stringKind === 'bulk') {
        this.#state = 'type';
        this.#complete({ kind: 'null' }, this.#newNode());
        return;
      }
      if (!/^\d{1,12}$/.test(text)) throw new ReaderError(text === '?' ? 'streamed strings are not supported' : 'bad string length');
      const len = Number(text);
      if (len > this.#maxBulk) throw new ReaderError(`string length ${len} over the limit`);
      const ghost = this.#newNode();
      this.#bulk = { kind: stringKind, size: len };
      this.#bulkParts = [];
      this.#bulkKept = 0;
      this.#bulkRemaining = len;
      this.#bulkGhost = ghost;
      this.#state = len === 0 ? 'bulk_cr' : 'bulk';
      return;
    }
    const aggKind = AGGREGATE_KIND[t] as RespKind;
    if (text === '-1' && (aggKind === 'array' || aggKind === 'set' || aggKind === 'map')) {
      this.#state = 'type';
      this.#complete({ kind: 'null' }, this.#newNode());
      return;
    }
    if (!/^\d{1,12}$/.test(text)) throw new ReaderError(text === '?' ? 'streamed aggregates are not supported' : 'bad aggregate length');
    const count = Number(text);
    if (count > this.#maxAggregate) throw new ReaderError(`aggregate length ${count} over the limit`);
    if (this.#client && this.#stack.length === 0 && aggKind !== 'array') throw new ReaderError('a command is not an array');
    const ghost = this.#newNode();
    const node: RespValue = { kind: aggKind, items: [], count };
    this.#state = 'type';
    const elements = aggKind === 'map' || aggKind === 'attribute' ? count * 2 : count;
    if (elements === 0) {
      this.#complete(node, ghost);
      return;
    }
    if (this.#stack.length >= this.#maxDepth) throw new ReaderError(`aggregates nested deeper than ${this.#maxDepth}`);
    this.#stack.push({ node, remaining: elements, ghost });
  }

  /** Counts a node; true when it will not be kept (over the element limit). */
  #newNode(): boolean {
    this.#nodes++;
    return this.#nodes > this.#maxStored + 1;
  }

  #readBulk(buf: Buffer, i: number): number {
    const take = Math.min(this.#bulkRemaining, buf.length - i);
    const v = this.#bulk as RespValue;
    // After a gap the bytes would not follow what was kept: count them only.
    if (!this.#bulkGhost && v.skipped === undefined && this.#budget > 0) {
      const keep = Math.min(this.#budget, take);
      this.#bulkParts.push(Buffer.from(buf.subarray(i, i + keep)));
      this.#bulkKept += keep;
      this.#budget -= keep;
    }
    this.#bulkRemaining -= take;
    this.#wire += take;
    if (this.#bulkRemaining === 0) this.#state = 'bulk_cr';
    return i + take;
  }

  #finishBulk(): void {
    const v = this.#bulk as RespValue;
    this.#bulk = undefined;
    const data = this.#bulkParts.length === 1 ? this.#bulkParts[0] : Buffer.concat(this.#bulkParts, this.#bulkKept);
    this.#bulkParts = [];
    v.data = data;
    if (v.kind === 'verbatim' && data.length >= 4 && data[3] === 0x3a) {
      v.format = data.toString('latin1', 0, 3);
      v.data = data.subarray(4);
      v.size = (v.size as number) - 4;
    }
    this.#state = 'type';
    this.#complete(v, this.#bulkGhost);
  }

  /** A value is complete: hand it to its aggregate (closing those it completes) or emit it. */
  #complete(value: RespValue, isGhost: boolean): void {
    let v = value;
    let ghost = isGhost;
    for (;;) {
      const frame = this.#stack[this.#stack.length - 1];
      if (v.kind === 'attribute') {
        // Describes the next value at this level; does not count as an element.
        if (frame === undefined) this.#topAttribute = v;
        else frame.pendingAttribute = v;
        return;
      }
      if (frame === undefined) {
        if (this.#topAttribute !== undefined) {
          v.attributes = this.#topAttribute;
          this.#topAttribute = undefined;
        }
        this.#emitTop(v);
        return;
      }
      if (frame.pendingAttribute !== undefined) {
        v.attributes = frame.pendingAttribute;
        frame.pendingAttribute = undefined;
      }
      const items = frame.node.items as RespValue[];
      if (!ghost) items.push(v);
      else frame.node.dropped = (frame.node.dropped ?? 0) + 1;
      frame.remaining--;
      if (frame.remaining > 0) return;
      this.#stack.pop();
      v = frame.node;
      ghost = frame.ghost;
    }
  }

  #emitTop(v: RespValue): void {
    const info: RespValueInfo = { wireBytes: this.#wire, skipped: this.#skipped };
    this.#startValue();
    this.#h.onValue(v, info);
  }
}

const isSpace = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0b || b === 0x0c || b === 0x0d || b === 0x00;
const hexDigit = (b: number): number => {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
};
const ESCAPES: Record<number, number> = { 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07 };

/**
 * Words of an inline command as Redis splits them: blanks separate words; `"..."` takes
 * `\n \r \t \b \a \xHH \\ \"` escapes, `'...'` only `\'`; a closing quote must end the word.
 * Undefined for unbalanced quotes (Redis answers with a protocol error).
 */
export function splitInlineArgs(line: Uint8Array): Buffer[] | undefined {
  const out: Buffer[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) break;
    const word: number[] = [];
    let quote = 0;
    for (;;) {
      if (i >= n) {
        if (quote !== 0) return undefined;
        break;
      }
      const b = line[i];
      if (quote === 0x22) {
        if (b === 0x5c && i + 3 < n && line[i + 1] === 0x78 && hexDigit(line[i + 2]) >= 0 && hexDigit(line[i + 3]) >= 0) {
          word.push(hexDigit(line[i + 2]) * 16 + hexDigit(line[i + 3]));
          i += 4;
        } else if (b === 0x5c && i + 1 < n) {
          const e = line[i + 1];
          word.push(ESCAPES[e] ?? e);
          i += 2;
        } else if (b === 0x22) {
          if (i + 1 < n && !isSpace(line[i + 1])) return undefined;
          i++;
          quote = 0;
          break;
        } else {
          word.push(b);
          i++;
        }
      } else if (quote === 0x27) {
        if (b === 0x5c && i + 1 < n && line[i + 1] === 0x27) {
          word.push(0x27);
          i += 2;
        } else if (b === 0x27) {
          if (i + 1 < n && !isSpace(line[i + 1])) return undefined;
          i++;
          quote = 0;
          break;
        } else {
          word.push(b);
          i++;
        }
      } else if (isSpace(b)) {
        break;
      } else if (b === 0x22 || b === 0x27) {
        quote = b;
        i++;
      } else {
        word.push(b);
        i++;
      }
    }
    out.push(Buffer.from(word));
  }
  return out;
}
