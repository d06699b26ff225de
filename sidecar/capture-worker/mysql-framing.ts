/**
 * MySQL/MariaDB packet boundaries, followed on the forwarding thread so that a capture that
 * falls behind keeps a pooled connection captured (`framing.ts`).
 *
 * The worker's MySQL session absorbs a gap only inside the payload of a packet whose first byte
 * it saw, and only in a row of a result set or in a query, prepare, execute or long-data command
 * (`mysql/session.ts`). Elsewhere the framing is lost and the connection was not captured again.
 * So this follows, per connection, what the session follows: the handshake (the capabilities
 * both ends agreed: EOF packets or not, a metadata-follows byte, compression, TLS), the commands
 * in order and, for the answer to a query or an execute, the column count, the column
 * definitions, the EOF after them and the rows up to their terminator. A chunk over a budget
 * then copies every packet header and first payload byte, every packet that is not a row or
 * such a command, the first 256 bytes of those commands (the statement and its start, an
 * execute's statement id and parameter types), and skips only the rest of those and of rows.
 *
 * Whatever this is unsure of is copied whole: the handshake, answers to other commands (a
 * prepare's metadata, a fetch, a field list), results after the first of a multi-result answer,
 * a packet's first byte. A connection that turns to TLS or compression, asks for a LOAD DATA
 * LOCAL file, or sends a packet of 16 MiB or more is no longer followed (its first gap outside a
 * body cuts it, as before). The session refuses a skip it cannot absorb, so a mistake here costs
 * the capture of the connection, never the data path.
 */
import { parseGreeting } from '../mysql/handshake.ts';
import { CLIENT, COM, MARIADB, MAX_PACKET_PAYLOAD } from '../mysql/constants.ts';
import { ChunkFraming, MAY_SKIP, MUST_COPY, addRun } from './stream-framing.ts';

/** Of a query, prepare, execute or long-data command, the payload bytes always copied. */
export const COMMAND_PREFIX_BYTES = 256;
/** Bytes of a greeting or a handshake response kept to read the capabilities from. */
const SCRATCH_BYTES = 160;

/** Where the server's answer stands. */
const HANDSHAKE = 0;
/** An answer not followed: every packet copied. */
const OPAQUE = 1;
/** A result set's column count (or an OK, an ERR) is next. */
const FIRST = 2;
const COLUMNS = 3;
const COLUMNS_EOF = 4;
const ROWS = 5;

/** What a packet's payload is, once its first byte decided. */
const COPY_ALL = 0;
const COPY_PREFIX = 1;
const SKIP_REST = 2;

const SKIPPABLE_COMMANDS = new Set<number>([COM.QUERY, COM.STMT_PREPARE, COM.STMT_EXECUTE, COM.STMT_SEND_LONG_DATA]);
/** Commands the server does not answer. */
const UNANSWERED = new Set<number>([COM.QUIT, COM.STMT_CLOSE, COM.STMT_SEND_LONG_DATA]);

/** One direction's position in the packet stream. */
class PacketCursor {
  /** Header bytes read (0 to 3); meaningful when `left` is 0 and `firstPending` is false. */
  headerAt = 0;
  length = 0;
  /** The current packet's payload size. */
  size = 0;
  seq = 0;
  /** The sequence id of the packet before this one (-1: none yet). */
  lastSeq = -1;
  /** The payload's first byte is still to come. */
  firstPending = false;
  first = 0;
  /** Payload bytes still to come (after the first byte once that was read). */
  left = 0;
  /** Of those, how many to copy. */
  keepLeft = 0;
  /** Payload bytes read into the scratch buffer (packets whose content is read here). */
  scratchFill = 0;
  reading = false;
}

/**
 * Both directions of one connection, as `StreamFraming` describes. Either call returns false
 * (`split`: -1) once the connection is not followed any more.
 */
export class MysqlFraming extends ChunkFraming {
  private readonly client = new PacketCursor();
  private readonly server = new PacketCursor();
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  /** The server's answer being read. */
  private state = HANDSHAKE;
  private serverCaps = 0;
  private serverExt = 0;
  private deprecateEof = false;
  private metadataFlag = false;
  /** Column definitions of the current result still to come. */
  private columnsLeft = 0;
  /** Commands sent and not yet answered, oldest first from `head`. */
  private readonly commands: number[] = [];
  private head = 0;

  protected walk(fromClient: boolean, chunk: Uint8Array, runs: number[] | undefined): number {
    const c = fromClient ? this.client : this.server;
    const n = chunk.length;
    let must = 0;
    let i = 0;
    while (i < n) {
      let take: number;
      let kind = MUST_COPY;
      if (c.firstPending) {
        take = 1;
        c.firstPending = false;
        c.first = chunk[i];
        const what = fromClient ? this.clientPacket(c) : this.serverPacket(c);
        if (what < 0) return this.stop();
        c.keepLeft = what === COPY_ALL ? c.left : what === COPY_PREFIX ? Math.min(c.left, COMMAND_PREFIX_BYTES - 1) : 0;
        if (c.reading) this.read(c, chunk, i, 1);
        if (c.left === 0 && this.packetEnded(fromClient, c) < 0) return this.stop();
      } else if (c.left === 0) {
        take = Math.min(4 - c.headerAt, n - i);
        for (let k = 0; k < take; k++) {
          const b = chunk[i + k];
          const at = c.headerAt + k;
          if (at < 3) c.length |= b << (8 * at);
          else c.seq = b;
        }
        c.headerAt += take;
        if (c.headerAt === 4) {
          c.headerAt = 0;
          // A packet continued past 16 MiB: not followed (rare enough to copy everything after).
          if (c.length >= MAX_PACKET_PAYLOAD) return this.stop();
          // Only the end of a continued packet is empty.
          if (c.length === 0) return this.stop();
          if (!fromClient) this.serverHeader(c);
          c.size = c.length;
          c.left = c.length - 1;
          c.length = 0;
          c.scratchFill = 0;
          c.firstPending = true;
        }
      } else if (c.keepLeft > 0) {
        take = Math.min(c.keepLeft, n - i);
        if (c.reading) this.read(c, chunk, i, take);
        c.keepLeft -= take;
        c.left -= take;
        if (c.left === 0 && this.packetEnded(fromClient, c) < 0) return this.stop();
      } else {
        take = Math.min(c.left, n - i);
        c.left -= take;
        kind = MAY_SKIP;
        if (c.left === 0 && this.packetEnded(fromClient, c) < 0) return this.stop();
      }
      i += take;
      if (kind === MUST_COPY) must += take;
      if (runs !== undefined) addRun(runs, kind, take);
    }
    return must;
  }

  private read(c: PacketCursor, chunk: Uint8Array, at: number, n: number): void {
    const room = Math.min(n, SCRATCH_BYTES - c.scratchFill);
    if (room > 0) this.scratch.set(chunk.subarray(at, at + room), c.scratchFill);
    c.scratchFill += room;
  }

  /** A server packet's header: a break in the sequence ids starts the answer to the next command. */
  private serverHeader(c: PacketCursor): void {
    const continues = c.lastSeq >= 0 && c.seq === ((c.lastSeq + 1) & 0xff);
    c.lastSeq = c.seq;
    if (this.state === HANDSHAKE || continues) return;
    const command = this.head < this.commands.length ? this.commands[this.head++] : -1;
    if (this.head === this.commands.length) {
      this.commands.length = 0;
      this.head = 0;
    }
    this.state = command === COM.QUERY || command === COM.STMT_EXECUTE ? FIRST : OPAQUE;
  }

  /** How a client packet's payload is copied, from its first byte; -1: stop following. */
  private clientPacket(c: PacketCursor): number {
    if (this.state === HANDSHAKE) {
      // The handshake response (sequence 1) carries the client's capabilities.
      c.reading = c.seq === 1;
      return COPY_ALL;
    }
    c.reading = false;
    if (c.seq !== 0) return COPY_ALL;
    if (!UNANSWERED.has(c.first)) this.commands.push(c.first);
    return SKIPPABLE_COMMANDS.has(c.first) ? COPY_PREFIX : COPY_ALL;
  }

  /** How a server packet's payload is copied, from its first byte; -1: stop following. */
  private serverPacket(c: PacketCursor): number {
    const first = c.first;
    c.reading = false;
    switch (this.state) {
      case HANDSHAKE:
        if (c.seq === 0) {
          if (first !== 0x0a) return -1;
          c.reading = true;
        } else if (first === 0x00) this.state = OPAQUE;
        else if (first === 0xff) return -1;
        return COPY_ALL;
      case FIRST:
        if (first === 0xfb) return -1; // LOAD DATA LOCAL INFILE: the client's file follows
        if (first === 0x00 || first === 0xff) this.state = OPAQUE;
        else c.reading = true;
        return COPY_ALL;
      case ROWS:
        // A terminator, an ERR, or (rarely) a row whose first value is 16 MiB or more: copied.
        if (first === 0xfe || first === 0xff) return COPY_ALL;
        return SKIP_REST;
      default:
        return COPY_ALL;
    }
  }

  /** After a packet's last byte: reads what it said. -1: stop following. */
  private packetEnded(fromClient: boolean, c: PacketCursor): number {
    if (fromClient) {
      if (c.reading && c.scratchFill > 0) {
        c.reading = false;
        return this.handshakeResponse(c.scratchFill);
      }
      return 0;
    }
    const first = c.first;
    const size = c.scratchFill;
    switch (this.state) {
      case HANDSHAKE:
        if (c.reading) {
          c.reading = false;
          const g = parseGreeting(Buffer.from(this.scratch.buffer, this.scratch.byteOffset, size));
          if (g === undefined) return -1;
          this.serverCaps = g.capabilities;
          this.serverExt = g.mariadbCapabilities;
        }
        return 0;
      case FIRST: {
        if (!c.reading) return 0;
        c.reading = false;
        // A column count (length-encoded), then a metadata-follows byte when that was agreed.
        const s = this.scratch;
        const width = first < 0xfb ? 1 : first === 0xfc ? 3 : first === 0xfd ? 4 : -1;
        if (width < 0 || size < width) return -1;
        const count = width === 1 ? first : width === 3 ? s[1] | (s[2] << 8) : s[1] | (s[2] << 8) | (s[3] << 16);
        if (count === 0) return -1;
        const follows = this.metadataFlag ? size > width && s[width] !== 0 : true;
        this.columnsLeft = follows ? count : 0;
        this.state = follows ? COLUMNS : this.afterColumns();
        return 0;
      }
      case COLUMNS:
        if (--this.columnsLeft === 0) this.state = this.afterColumns();
        return 0;
      case COLUMNS_EOF:
        this.state = ROWS;
        return 0;
      case ROWS:
        // The terminator (an EOF, or the OK replacing it) or an ERR ends the rows; what may follow
        // (more results) is copied whole.
        if (first === 0xff || (first === 0xfe && (this.deprecateEof || c.size < 9))) this.state = OPAQUE;
        return 0;
      default:
        return 0;
    }
  }

  private afterColumns(): number {
    return this.deprecateEof ? ROWS : COLUMNS_EOF;
  }

  /** The client's handshake response: the capabilities both ends agreed on. -1: TLS or compression. */
  private handshakeResponse(size: number): number {
    const s = this.scratch;
    if (size < 4) return -1;
    const low = s[0] | (s[1] << 8);
    if ((low & CLIENT.PROTOCOL_41) === 0) return -1;
    const clientCaps = (low | (s[2] << 16) | (s[3] << 24)) >>> 0;
    // An SSLRequest is the first 32 bytes of a response alone.
    if ((clientCaps & CLIENT.SSL) !== 0 && size === 32) return -1;
    const caps = (clientCaps & this.serverCaps) >>> 0;
    if ((caps & (CLIENT.COMPRESS | CLIENT.ZSTD_COMPRESSION)) !== 0) return -1;
    const clientExt = size >= 32 ? (s[28] | (s[29] << 8) | (s[30] << 16) | (s[31] << 24)) >>> 0 : 0;
    const ext = (this.serverCaps & CLIENT.LONG_PASSWORD) === 0 ? this.serverExt & clientExt : 0;
    this.deprecateEof = (caps & CLIENT.DEPRECATE_EOF) !== 0;
    this.metadataFlag = (caps & CLIENT.OPTIONAL_RESULTSET_METADATA) !== 0 || (ext & MARIADB.CACHE_METADATA) !== 0;
    return 0;
  }
}
