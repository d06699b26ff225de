/**
 * Incremental framing of PostgreSQL protocol v3 messages, one direction per framer.
 *
 * Capture sees the stream cut anywhere, so the framer keeps only the few header bytes of a
 * message in progress and, of its content, what the session asked to keep: a DataRow past the
 * row limit or CopyData is counted, never buffered. It never interprets content (what a `p`
 * message means depends on the authentication request the server sent; only the session knows).
 *
 * Four framings exist and the session switches between them:
 *   untyped  client startup phase: Int32 length, then the content (StartupMessage, SSLRequest,
 *            GSSENCRequest, CancelRequest), told apart by the content's first Int32;
 *   typed    everything else: a type byte, Int32 length, content;
 *   answer   the server's single byte answering SSLRequest/GSSENCRequest (`S`, `N`, `G`); any
 *            other byte is a typed message (old servers answer with an ErrorResponse);
 *   legacy   the server's answer to a StartupMessage of protocol 1.x or 2.x: a type byte, then
 *            NUL-terminated text with no length word. A server refuses such a startup with an
 *            ErrorResponse in that older form (`EFATAL:  unsupported frontend protocol 2.0…`),
 *            and only this framing can read it to its end.
 */

export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** Largest message the framer accepts (the server's own limit for most messages is 1 GiB). */
export const MAX_MESSAGE_LENGTH = 1 << 30;
/** Largest startup-phase packet (the server refuses longer ones: MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_LENGTH = 10000;
/** Longest protocol 2.0 style text read (a server's error is one line). */
export const MAX_LEGACY_TEXT = 64 * 1024;

export type FramerSide = 'frontend' | 'backend';
export type FramerMode = 'untyped' | 'typed' | 'answer' | 'legacy';

/** Types each side may send once the startup packet is done. */
const FRONTEND_TYPES = new Set('QPBEDSHCXpdcfF'.split(''));
const BACKEND_TYPES = new Set('RSKZTDCEN123nstIGHWdcAVv'.split(''));

/** Messages whose length is fixed by the protocol: a mismatch means we are not reading it. */
const FRONTEND_FIXED: Record<string, number> = { S: 4, H: 4, X: 4, c: 4 };
const BACKEND_FIXED: Record<string, number> = { '1': 4, '2': 4, '3': 4, n: 4, I: 4, s: 4, c: 4, Z: 5 };

export interface PgMessage {
  /**
   * The type byte as a character; `''` for untyped startup-phase messages, `'answer'` for the
   * SSL/GSS answer byte, `'legacy'` for a protocol 2.0 style message (its body: the type byte,
   * then the text without its NUL).
   */
  type: string;
  /** Bytes on the wire, type byte and length word included. */
  wireSize: number;
  /** Content size (after the length word). */
  size: number;
  /** The kept prefix of the content (for `answer`: the one byte). */
  body: Buffer;
  /** Content bytes that passed unseen (capture fell behind); nothing after them is kept. */
  skipped: number;
}

export interface FramerHandlers {
  /** How many content bytes of a message of this type and size to keep (the rest is counted). */
  keep(type: string, size: number): number;
  message(msg: PgMessage): void;
  /** The stream stopped looking like the protocol; the framer consumes nothing more. */
  error(detail: string): void;
}

export class PgFramer {
  mode: FramerMode;
  /** Set (usually by a handler) to stop consuming: `push` returns how far it got. */
  paused = false;
  failed: string | undefined;
  private readonly side: FramerSide;
  private readonly handlers: FramerHandlers;
  private header = Buffer.alloc(5);
  private headerFill = 0;
  /** Current message, once its header is complete. */
  private type = '';
  private size = 0;
  private left = 0;
  private kept: Buffer = Buffer.alloc(0);
  private keptFill = 0;
  private skipped = 0;
  private inBody = false;
  /** Legacy framing: text bytes read of the message in progress (-1: its type byte is next). */
  private legacySeen = -1;

  constructor(side: FramerSide, mode: FramerMode, handlers: FramerHandlers) {
    this.side = side;
    this.mode = mode;
    this.handlers = handlers;
  }

  /** The type of the message whose content is being read, if any. */
  get bodyType(): string | undefined {
    return this.inBody ? this.type : undefined;
  }

  /** Bytes of the incomplete message seen so far (for byte counts at close). */
  get partialBytes(): number {
    if (this.mode === 'legacy') return this.legacySeen < 0 ? 0 : 1 + this.legacySeen;
    if (!this.inBody) return this.headerFill;
    return this.headerLength() + this.size - this.left;
  }

  /** Consumes `chunk` up to where the framer pauses or fails; returns the bytes consumed. */
  push(chunk: Uint8Array): number {
    let i = 0;
    while (i < chunk.length && !this.paused && this.failed === undefined) {
      if (this.inBody) {
        const n = Math.min(this.left, chunk.length - i);
        const room = this.kept.length - this.keptFill;
        if (room > 0 && this.skipped === 0) {
          const take = Math.min(room, n);
          this.kept.set(chunk.subarray(i, i + take), this.keptFill);
          this.keptFill += take;
        }
        this.left -= n;
        i += n;
        if (this.left === 0) this.complete();
        continue;
      }
      if (this.mode === 'answer') {
        const b = chunk[i];
        if (b === 0x53 || b === 0x4e || b === 0x47) {
          i++;
          this.mode = 'typed';
          this.handlers.message({ type: 'answer', wireSize: 1, size: 1, body: Buffer.from([b]), skipped: 0 });
          continue;
        }
        this.mode = 'typed';
      }
      if (this.mode === 'legacy') {
        i = this.pushLegacy(chunk, i);
        continue;
      }
      const need = this.headerLength();
      const n = Math.min(need - this.headerFill, chunk.length - i);
      this.header.set(chunk.subarray(i, i + n), this.headerFill);
      this.headerFill += n;
      i += n;
      if (this.headerFill < need) break;
      this.startBody();
    }
    return i;
  }

  /**
   * `n` bytes passed unseen. Absorbed only inside the content of the current message (its
   * framing is known); false otherwise, and the framer is then of no further use.
   */
  skip(n: number): boolean {
    if (!this.inBody || n > this.left || this.failed !== undefined) return false;
    this.skipped += n;
    this.left -= n;
    if (this.left === 0) this.complete();
    return true;
  }

  /** Legacy framing from `i`: a type byte, then text up to its NUL; returns where it stopped. */
  private pushLegacy(chunk: Uint8Array, i: number): number {
    if (this.legacySeen < 0) {
      this.legacySeen = 0;
      this.kept = Buffer.alloc(1 + MAX_LEGACY_TEXT);
      this.kept[0] = chunk[i];
      this.keptFill = 1;
      return i + 1;
    }
    const nul = chunk.indexOf(0, i);
    const end = nul === -1 ? chunk.length : nul;
    const take = Math.min(end - i, this.kept.length - this.keptFill);
    this.kept.set(chunk.subarray(i, i + take), this.keptFill);
    this.keptFill += take;
    this.legacySeen += end - i;
    if (this.legacySeen > MAX_LEGACY_TEXT) {
      this.fail(`protocol 2.0 message longer than ${MAX_LEGACY_TEXT} bytes`);
      return end;
    }
    if (nul === -1) return end;
    const msg: PgMessage = { type: 'legacy', wireSize: 2 + this.legacySeen, size: this.legacySeen + 1, body: this.kept.subarray(0, this.keptFill), skipped: 0 };
    this.kept = Buffer.alloc(0);
    this.keptFill = 0;
    this.legacySeen = -1;
    this.handlers.message(msg);
    return nul + 1;
  }

  private headerLength(): number {
    return this.mode === 'untyped' ? 4 : 5;
  }

  private fail(detail: string): void {
    this.failed = detail;
    this.handlers.error(detail);
  }

  private startBody(): void {
    this.headerFill = 0;
    let length: number;
    if (this.mode === 'untyped') {
      this.type = '';
      length = this.header.readUInt32BE(0);
      if (length < 8 || length > MAX_STARTUP_LENGTH) {
        this.fail(`startup packet length ${length} outside 8..${MAX_STARTUP_LENGTH}`);
        return;
      }
    } else {
      this.type = String.fromCharCode(this.header[0]);
      length = this.header.readUInt32BE(1);
      const allowed = this.side === 'frontend' ? FRONTEND_TYPES : BACKEND_TYPES;
      if (!allowed.has(this.type)) {
        this.fail(`unknown ${this.side} message type 0x${this.header[0].toString(16).padStart(2, '0')}`);
        return;
      }
      if (length < 4 || length > MAX_MESSAGE_LENGTH) {
        this.fail(`${this.side} message '${this.type}' length ${length} outside 4..${MAX_MESSAGE_LENGTH}`);
        return;
      }
      const fixed = (this.side === 'frontend' ? FRONTEND_FIXED : BACKEND_FIXED)[this.type];
      if (fixed !== undefined && length !== fixed) {
        this.fail(`${this.side} message '${this.type}' length ${length}, expected ${fixed}`);
        return;
      }
    }
    this.size = length - 4;
    this.left = this.size;
    this.skipped = 0;
    const keep = Math.max(0, Math.min(this.size, Math.floor(this.handlers.keep(this.type, this.size))));
    this.kept = Buffer.alloc(keep);
    this.keptFill = 0;
    this.inBody = true;
    if (this.left === 0) this.complete();
  }

  private complete(): void {
    this.inBody = false;
    const msg: PgMessage = {
      type: this.type,
      wireSize: this.headerLength() + this.size,
      size: this.size,
      body: this.keptFill === this.kept.length ? this.kept : this.kept.subarray(0, this.keptFill),
      skipped: this.skipped,
    };
    this.kept = Buffer.alloc(0);
    this.keptFill = 0;
    this.handlers.message(msg);
  }
}
