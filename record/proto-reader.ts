/**
 * Reading protobuf wire format by hand (the counterpart of `proto-writer.ts`): a bounded reader
 * over one buffer and exact 64-bit integers as decimal text. The message decoders
 * (`record-reader.ts` for batches and acks, `ca-wire.ts`, `membership-wire.ts`) build on it, so
 * what runs in a pod reads its messages without protobufjs.
 *
 * Every read is bounded by the end of the message being read; anything that is not well-formed
 * wire format throws a `ProtoDecodeError`: a length or a value running past its end, a varint
 * longer than ten bytes, field number 0, wire types 4, 6 and 7 outside a group.
 */

export class ProtoDecodeError extends Error {}

export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const START_GROUP = 3;
export const END_GROUP = 4;
export const FIXED32 = 5;

const TWO_32 = 4294967296;

/**
 * A position in one Buffer. Every read is bounded by `end`, the end of the message being read
 * (not of the buffer), so a field cannot run past its enclosing message.
 */
export class Reader {
  readonly buf: Buffer;
  pos: number;
  /** The high 32 bits of the last `varint64`. */
  hi = 0;

  /** Reads `bytes` in place (a view, never a copy). */
  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  fail(what: string): never {
    throw new ProtoDecodeError(`${what} at byte ${this.pos} of ${this.buf.length}`);
  }

  /** A varint's low 32 bits, unsigned; the rest of a longer varint is read and dropped. */
  uint32(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= end) this.fail('truncated varint');
    let b = buf[pos++];
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let value = b & 0x7f;
    for (let shift = 7; shift < 70; shift += 7) {
      if (pos >= end) this.fail('truncated varint');
      b = buf[pos++];
      // Bits past 32 are dropped (shift 28 keeps the low 4 of the byte).
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return value >>> 0;
      }
    }
    return this.fail('varint longer than ten bytes');
  }

  /** A varint as two unsigned 32-bit halves: returns the low one, the high one is in `hi`. */
  varint64(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.fail('truncated varint');
      b = buf[pos++];
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if (b < 0x80) {
        this.pos = pos;
        this.hi = hi >>> 0;
        return lo >>> 0;
      }
    }
    return this.fail('varint longer than ten bytes');
  }

  uint64String(end: number): string {
    const lo = this.varint64(end);
    return uint64ToString(lo, this.hi);
  }

  /** An `int64` varint as exact decimal text (negative values are ten-byte two's complement). */
  int64String(end: number): string {
    const lo = this.varint64(end);
    return int64ToString(lo, this.hi);
  }

  /** A `uint64` varint as a JS number (as protobufjs' `longs: Number`: exact below 2^53). */
  uint64Number(end: number): number {
    const lo = this.varint64(end);
    return this.hi * TWO_32 + lo;
  }

  /** An `int64` varint as a JS number, negative from the sign bit (as `Long#toNumber`). */
  int64Number(end: number): number {
    const lo = this.varint64(end);
    const hi = this.hi;
    return (hi >= 0x80000000 ? hi - TWO_32 : hi) * TWO_32 + lo;
  }

  /** A `bool`: true when the varint's low 32 bits are not zero (as protobufjs reads it). */
  bool(end: number): boolean {
    return this.uint32(end) !== 0;
  }

  sfixed64String(end: number): string {
    if (this.pos + 8 > end) this.fail('truncated fixed64');
    const buf = this.buf;
    const p = this.pos;
    const lo = (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24)) >>> 0;
    const hi = (buf[p + 4] | (buf[p + 5] << 8) | (buf[p + 6] << 16) | (buf[p + 7] << 24)) >>> 0;
    this.pos = p + 8;
    return int64ToString(lo, hi);
  }

  double(end: number): number {
    if (this.pos + 8 > end) this.fail('truncated double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** The end of a length-delimited field whose length is read now. */
  lengthEnd(end: number): number {
    const length = this.uint32(end);
    const to = this.pos + length;
    if (to > end) this.fail(`length ${length} past the end of its message`);
    return to;
  }

  string(end: number): string {
    const to = this.lengthEnd(end);
    const from = this.pos;
    this.pos = to;
    return from === to ? '' : this.buf.toString('utf8', from, to);
  }

  bytes(end: number): Buffer {
    const to = this.lengthEnd(end);
    const from = this.pos;
    this.pos = to;
    return from === to ? Buffer.alloc(0) : this.buf.subarray(from, to);
  }

  /** Skips the value of a field of `wireType` whose tag was just read. */
  skip(wireType: number, end: number, depth = 0): void {
    switch (wireType) {
      case VARINT:
        this.varint64(end);
        return;
      case FIXED64:
        if (this.pos + 8 > end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case LEN:
        this.pos = this.lengthEnd(end);
        return;
      case START_GROUP:
        if (depth > 32) this.fail('groups nested too deep');
        for (;;) {
          const tag = this.uint32(end);
          if ((tag & 7) === END_GROUP) return;
          this.skip(tag & 7, end, depth + 1);
        }
      case FIXED32:
        if (this.pos + 4 > end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`invalid wire type ${wireType}`);
    }
  }

  /** The next tag of a message ending at `end`; field number 0 is refused. */
  tag(end: number): number {
    const tag = this.uint32(end);
    if (tag >>> 3 === 0) this.fail('field number 0');
    return tag;
  }
}

/** `'0000000'` padding for the low decimal digits. */
function pad7(n: number): string {
  const s = String(n);
  return s.length >= 7 ? s : '0000000'.slice(s.length) + s;
}

/** The unsigned 64-bit integer `hi * 2^32 + lo` in decimal, exactly. */
export function uint64ToString(lo: number, hi: number): string {
  if (hi <= 0x1fffff) return String(hi * TWO_32 + lo);
  // Three base-2^24 digits recombined in base 10^7 (as protobuf's own JavaScript runtimes do).
  const low = lo & 0xffffff;
  const mid = ((lo >>> 24) | (hi << 8)) & 0xffffff;
  const high = (hi >>> 16) & 0xffff;
  let digitA = low + mid * 6777216 + high * 6710656;
  let digitB = mid + high * 8147497;
  let digitC = high * 2;
  const base = 10000000;
  if (digitA >= base) {
    digitB += Math.floor(digitA / base);
    digitA %= base;
  }
  if (digitB >= base) {
    digitC += Math.floor(digitB / base);
    digitB %= base;
  }
  return String(digitC) + pad7(digitB) + pad7(digitA);
}

/** The two's-complement signed 64-bit integer `hi * 2^32 + lo` in decimal, exactly. */
export function int64ToString(lo: number, hi: number): string {
  if (hi < 0x80000000) return uint64ToString(lo, hi);
  // Negate: two's complement of (hi, lo).
  const nlo = (~lo + 1) >>> 0;
  let nhi = ~hi >>> 0;
  if (nlo === 0) nhi = (nhi + 1) >>> 0;
  return '-' + uint64ToString(nlo, nhi);
}
