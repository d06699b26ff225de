/**
 * Incremental framing of MySQL/MariaDB packets, one direction per framer, and a reader for
 * their contents.
 *
 * A packet is a 3-byte little-endian payload length, a sequence id, then the payload; a payload
 * of exactly 0xffffff bytes continues in the next packet (and so on, ending with a shorter one,
 * possibly empty). The framer joins those into one logical packet. Capture sees the stream cut
 * anywhere, so it keeps only the 4 header bytes in progress and, of a payload, the prefix the
 * session asks for once it has seen the first payload byte (which says what most packets are):
 * a row past the row limit is counted, never buffered.
 */
import { MAX_PACKET_PAYLOAD } from './constants.ts';

export interface MysqlPacket {
  /** Sequence id of the first physical packet. */
  seq: number;
  /** Payload size of the logical packet (continuations joined). */
  size: number;
  /** The kept prefix of the payload. */
  body: Buffer;
  /** Bytes on the wire, headers included. */
  wireSize: number;
  /** Payload bytes that passed unseen (capture fell behind); nothing after them is kept. */
  skipped: number;
  /** The first payload byte; undefined for an empty payload. */
  first: number | undefined;
}

export interface PacketHandlers {
  /**
   * How many payload bytes of this packet to keep. `size` is the first physical packet's payload
   * size (0xffffff: at least that much, continued).
   */
  keep(size: number, seq: number, first: number): number;
  packet(packet: MysqlPacket): void;
}

export class PacketFramer {
  /** Set (usually by a handler) to stop consuming: `push` returns how far it got. */
  paused = false;
  private readonly handlers: PacketHandlers;
  private readonly header = Buffer.alloc(4);
  private headerFill = 0;
  private inFragment = false;
  private fragLeft = 0;
  /** The current physical packet is 0xffffff long: the logical packet goes on. */
  private continued = false;
  private started = false;
  private seq = 0;
  private size = 0;
  private wire = 0;
  private first: number | undefined;
  private keepLimit: number | undefined;
  private pieces: Buffer[] = [];
  private keptLen = 0;
  private skipped = 0;

  constructor(handlers: PacketHandlers) {
    this.handlers = handlers;
  }

  /** Consumes bytes until the chunk ends or a handler pauses the framer; returns bytes consumed. */
  push(chunk: Uint8Array): number {
    let off = 0;
    while (off < chunk.length && !this.paused) {
      if (!this.inFragment) {
        const take = Math.min(4 - this.headerFill, chunk.length - off);
        this.header.set(chunk.subarray(off, off + take), this.headerFill);
        this.headerFill += take;
        off += take;
        if (this.headerFill < 4) break;
        this.headerFill = 0;
        this.startFragment();
        if (this.fragLeft === 0) {
          this.endFragment();
          continue;
        }
        if (off >= chunk.length) break;
      }
      if (this.keepLimit === undefined) {
        this.first = chunk[off];
        this.keepLimit = Math.max(0, this.handlers.keep(this.size, this.seq, chunk[off]));
      }
      const n = Math.min(this.fragLeft, chunk.length - off);
      const room = this.keepLimit - this.keptLen;
      if (room > 0) {
        const piece = Buffer.from(chunk.subarray(off, off + Math.min(n, room)));
        this.pieces.push(piece);
        this.keptLen += piece.length;
      }
      off += n;
      this.fragLeft -= n;
      if (this.fragLeft === 0) this.endFragment();
    }
    return off;
  }

  /**
   * `n` bytes of the current payload passed unseen. True when they lie within the payload whose
   * first byte was seen (the packet is still framed); false otherwise (nothing changes).
   */
  skip(n: number): boolean {
    if (!this.inFragment || this.keepLimit === undefined || n > this.fragLeft) return false;
    this.fragLeft -= n;
    this.skipped += n;
    this.keepLimit = this.keptLen;
    if (this.fragLeft === 0) this.endFragment();
    return true;
  }

  /** The packet being read, once its first payload byte was seen. */
  get current(): { seq: number; first: number } | undefined {
    if (!this.inFragment || this.first === undefined || this.keepLimit === undefined) return undefined;
    return { seq: this.seq, first: this.first };
  }

  /** Bytes of a packet begun but not complete. */
  get partialBytes(): number {
    if (this.started) return this.wire - this.fragLeft;
    return this.headerFill;
  }

  private startFragment(): void {
    const h = this.header;
    const len = h[0] | (h[1] << 8) | (h[2] << 16);
    if (!this.started) {
      this.started = true;
      this.seq = h[3];
      this.size = 0;
      this.wire = 0;
      this.first = undefined;
      this.keepLimit = undefined;
      this.pieces = [];
      this.keptLen = 0;
      this.skipped = 0;
    }
    this.size += len;
    this.wire += 4 + len;
    this.fragLeft = len;
    this.continued = len === MAX_PACKET_PAYLOAD;
    this.inFragment = true;
  }

  private endFragment(): void {
    this.inFragment = false;
    if (this.continued) return;
    this.started = false;
    const body = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces);
    this.pieces = [];
    this.handlers.packet({ seq: this.seq, size: this.size, body, wireSize: this.wire, skipped: this.skipped, first: this.first });
  }
}

/**
 * Reads a payload front to back. Every read returns undefined when the bytes run out, so a
 * cut prefix is read as far as it goes.
 */
export class Reader {
  off: number;
  readonly buf: Buffer;

  constructor(buf: Buffer, off = 0) {
    this.buf = buf;
    this.off = off;
  }

  get left(): number {
    return this.buf.length - this.off;
  }

  u8(): number | undefined {
    if (this.left < 1) return undefined;
    return this.buf[this.off++];
  }

  u16(): number | undefined {
    if (this.left < 2) return undefined;
    const v = this.buf.readUInt16LE(this.off);
    this.off += 2;
    return v;
  }

  u24(): number | undefined {
    if (this.left < 3) return undefined;
    const v = this.buf.readUIntLE(this.off, 3);
    this.off += 3;
    return v;
  }

  u32(): number | undefined {
    if (this.left < 4) return undefined;
    const v = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }

  u64(): bigint | undefined {
    if (this.left < 8) return undefined;
    const v = this.buf.readBigUInt64LE(this.off);
    this.off += 8;
    return v;
  }

  bytes(n: number): Buffer | undefined {
    if (n < 0 || this.left < n) return undefined;
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }

  /** Up to `n` bytes: what is left when fewer remain (a cut value). */
  upTo(n: number): Buffer {
    const v = this.buf.subarray(this.off, this.off + Math.max(0, n));
    this.off += v.length;
    return v;
  }

  /**
   * A length-encoded integer: null for 0xfb (NULL in a row), undefined when the bytes run out
   * or the first byte is 0xff (not an integer).
   */
  lenenc(): number | null | undefined {
    const b = this.u8();
    if (b === undefined || b === 0xff) return undefined;
    if (b < 0xfb) return b;
    if (b === 0xfb) return null;
    if (b === 0xfc) return this.u16();
    if (b === 0xfd) return this.u24();
    const v = this.u64();
    return v === undefined ? undefined : Number(v);
  }

  /** A length-encoded string; null for NULL. */
  lenencBytes(): Buffer | null | undefined {
    const n = this.lenenc();
    if (n === null || n === undefined) return n;
    return this.bytes(n);
  }

  lenencString(): string | undefined {
    const b = this.lenencBytes();
    return b === null || b === undefined ? undefined : b.toString('utf8');
  }

  /** A NUL-terminated string; `orRest`: the rest when there is no NUL (a last field). */
  nulString(orRest = false): string | undefined {
    const end = this.buf.indexOf(0, this.off);
    if (end === -1) {
      if (!orRest) return undefined;
      return this.rest().toString('utf8');
    }
    const v = this.buf.toString('utf8', this.off, end);
    this.off = end + 1;
    return v;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.off);
    this.off = this.buf.length;
    return v;
  }
}

/** UTF-8 text of a buffer; when `cut`, an incomplete last character is dropped. */
export function utf8Prefix(buf: Buffer, cut: boolean): string {
  if (!cut) return buf.toString('utf8');
  let end = buf.length;
  let k = end - 1;
  while (k >= 0 && end - k <= 4 && (buf[k] & 0xc0) === 0x80) k--;
  if (k >= 0) {
    const lead = buf[k];
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - k < need) end = k;
  }
  return buf.toString('utf8', 0, end);
}
