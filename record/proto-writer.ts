/**
 * The protobuf wire format written by hand: a growable byte buffer with the few primitives the
 * record writer needs (varints, sfixed64 from bigint, UTF-8 strings and bytes with their
 * lengths, sub-messages whose length is patched in when they end).
 *
 * Exists so the hot encode path needs neither protobufjs's reflection nor its per-field
 * operation list: one buffer is reused across messages and grown only when a message does not
 * fit. Every primitive reproduces protobufjs's bytes exactly, quirks included (see `string`),
 * because the two encoders must stay interchangeable on the wire.
 */

/** protobufjs writes strings shorter than this with its own UTF-8 loop, longer ones with Node's. */
const SHORT_STRING = 40;

/** Bytes a varint of the unsigned 32-bit `n` takes. */
export function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** The scratch buffer a writer starts with and returns to after an oversized message. */
const INITIAL_SIZE = 16 * 1024;
/** A writer keeps at most this much between messages; a larger one is released at `reset`. */
const MAX_RETAINED = 1024 * 1024;

export class ProtoWriter {
  buf: Buffer;
  view: DataView;
  pos = 0;

  constructor() {
    this.buf = Buffer.allocUnsafeSlow(INITIAL_SIZE);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Starts a new message at offset 0, dropping a buffer an earlier outsized message grew. */
  reset(): void {
    this.pos = 0;
    if (this.buf.length > MAX_RETAINED) this.replace(Buffer.allocUnsafeSlow(INITIAL_SIZE));
  }

  /** Makes room for `n` more bytes. Offsets taken earlier stay valid: growing copies in place. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(this.pos + n);
  }

  private grow(needed: number): void {
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.replace(next);
  }

  private replace(buf: Buffer): void {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** The bytes written so far, copied out of the scratch buffer (which the next message reuses). */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  /** A tag or any unsigned 32-bit value as a varint. The caller has ensured 5 bytes. */
  varint32(v: number): void {
    const buf = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
  }

  /** A 64-bit value given as two unsigned 32-bit halves, as a varint (at most 10 bytes). */
  varint64(lo: number, hi: number): void {
    const buf = this.buf;
    let p = this.pos;
    while (hi !== 0) {
      buf[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 0x7f) {
      buf[p++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    buf[p++] = lo;
    this.pos = p;
  }

  /** `tag` then a uint32 field value (protobufjs takes `value >>> 0`). */
  uint32Field(tag: number, value: number): void {
    this.ensure(10);
    this.varint32(tag);
    this.varint32(value >>> 0);
  }

  /** `tag` then an int32 field value: negative ones take 10 bytes, sign-extended to 64 bits. */
  int32Field(tag: number, value: number): void {
    this.ensure(15);
    this.varint32(tag);
    value |= 0;
    if (value < 0) this.varint64(value >>> 0, 0xffffffff);
    else this.varint32(value);
  }

  /**
   * `tag` then a uint64 field value given as a JS number, split into halves the way protobufjs
   * does it (`LongBits.fromNumber`), so fractions, negatives and values past 2^53 come out the
   * same as from the reflection encoder.
   */
  uint64Field(tag: number, value: number): void {
    this.ensure(15);
    this.varint32(tag);
    if (value >>> 0 === value) {
      this.varint32(value);
      return;
    }
    const negative = value < 0;
    if (negative) value = -value;
    let lo = value >>> 0;
    let hi = ((value - lo) / 4294967296) >>> 0;
    if (negative) {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
      if (++lo > 0xffffffff) {
        lo = 0;
        if (++hi > 0xffffffff) hi = 0;
      }
    }
    this.varint64(lo, hi);
  }

  /** `tag` then a bool field value (one byte, 0 or 1). */
  boolField(tag: number, value: boolean): void {
    this.ensure(6);
    this.varint32(tag);
    this.buf[this.pos++] = value ? 1 : 0;
  }

  /** `tag` then an sfixed64 field value; outside the int64 range it wraps modulo 2^64, as protobufjs's does. */
  sfixed64Field(tag: number, value: bigint): void {
    this.ensure(13);
    this.varint32(tag);
    this.view.setBigInt64(this.pos, value, true);
    this.pos += 8;
  }

  /** `tag` then a double field value (little-endian IEEE 754, as protobufjs writes it). */
  doubleField(tag: number, value: number): void {
    this.ensure(13);
    this.varint32(tag);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** `tag` then a bytes field value (its length, then the bytes). */
  bytesField(tag: number, value: Uint8Array): void {
    const len = value.length;
    this.ensure(10 + len);
    this.varint32(tag);
    this.varint32(len);
    this.buf.set(value, this.pos);
    this.pos += len;
  }

  /** `tag` then a string field value. */
  stringField(tag: number, value: string): void {
    this.ensure(5);
    this.varint32(tag);
    this.string(value);
  }

  /**
   * A string's UTF-8 length, then its UTF-8 bytes, written straight into the buffer.
   *
   * protobufjs writes strings of fewer than 40 UTF-16 units with its own loop and longer ones
   * with Node's encoder, and the two differ on a lone surrogate: the loop writes it as its own
   * three-byte sequence (ED A0 80 for U+D800), Node writes U+FFFD (EF BF BD). Both take three
   * bytes, so lengths agree; this writer takes the same two paths so the bytes agree too. A
   * decoder reads either form back as replacement characters: lone surrogates never survive
   * the wire, from either encoder.
   */
  string(value: string): void {
    const units = value.length;
    if (units < SHORT_STRING) {
      // At most 3 bytes a unit: under 128 bytes, so the length is one byte, patched in after.
      this.ensure(1 + 3 * units);
      const buf = this.buf;
      const start = this.pos;
      let p = start + 1;
      for (let i = 0; i < units; i++) {
        let c = value.charCodeAt(i);
        if (c < 0x80) {
          buf[p++] = c;
        } else if (c < 0x800) {
          buf[p++] = (c >> 6) | 0xc0;
          buf[p++] = (c & 0x3f) | 0x80;
        } else if ((c & 0xfc00) === 0xd800 && i + 1 < units && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
          c = 0x10000 + ((c & 0x3ff) << 10) + (value.charCodeAt(++i) & 0x3ff);
          buf[p++] = (c >> 18) | 0xf0;
          buf[p++] = ((c >> 12) & 0x3f) | 0x80;
          buf[p++] = ((c >> 6) & 0x3f) | 0x80;
          buf[p++] = (c & 0x3f) | 0x80;
        } else {
          buf[p++] = (c >> 12) | 0xe0;
          buf[p++] = ((c >> 6) & 0x3f) | 0x80;
          buf[p++] = (c & 0x3f) | 0x80;
        }
      }
      buf[start] = p - start - 1;
      this.pos = p;
      return;
    }
    // UTF-8 takes at least one byte per UTF-16 unit, so the length's varint is at least this
    // long; it is longer only for non-ASCII text crossing a varint boundary, fixed up by `end`.
    const reserved = varintSize(units);
    this.ensure(reserved + 3 * units + 5);
    const mark = this.pos;
    this.pos = mark + reserved;
    this.pos += this.buf.write(value, this.pos);
    this.end(mark, reserved);
  }

  /**
   * Opens a length-delimited sub-message: reserves `reserved` bytes for its length (a guess;
   * `end` moves the content when the real length needs another size) and returns where the
   * length goes. The caller has written the tag.
   */
  begin(reserved: number): number {
    this.ensure(reserved);
    const mark = this.pos;
    this.pos = mark + reserved;
    return mark;
  }

  /** Closes what `begin` (or `string`) opened at `mark`: writes the length, moving the content if the guess was wrong. */
  end(mark: number, reserved: number): void {
    const start = mark + reserved;
    const len = this.pos - start;
    const size = varintSize(len);
    if (size !== reserved) {
      this.ensure(size - reserved);
      this.buf.copyWithin(mark + size, start, this.pos);
      this.pos += size - reserved;
    }
    const end = this.pos;
    this.pos = mark;
    this.varint32(len);
    this.pos = end;
  }
}
