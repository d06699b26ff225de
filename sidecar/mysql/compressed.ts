/**
 * The MySQL compressed protocol, undone: after a login that negotiated `CLIENT_COMPRESS` (zlib)
 * or `CLIENT_ZSTD_COMPRESSION_ALGORITHM` (zstd), each direction is a run of frames, each a
 * 7-byte header — the payload's length on the wire (3 bytes, little-endian), a sequence number,
 * the length before compression (3 bytes; 0: the payload was sent as is) — and the payload,
 * which holds ordinary packets (or pieces of them: a packet may span frames). Each compressed
 * frame is compressed on its own, so it is decompressed as soon as it is complete.
 *
 * Pure: bytes in, the frames' packet bytes out. A payload sent as is streams straight through;
 * a compressed one is held until complete, so what one frame may hold is bounded
 * (`maxFrameBytes` on the wire): a frame over it throws `FrameOverBound` (capture gives up on
 * the connection, which is not malformed). A frame that does not decompress, or whose size
 * after decompression is not its header's, throws `MalformedPacket`.
 */
import { inflateSync, zstdDecompressSync } from 'node:zlib';
import { MalformedPacket } from './calls.ts';
import { CLIENT } from './constants.ts';

export type CompressionAlgorithm = 'zlib' | 'zstd';

/**
 * The algorithm a login's agreed capabilities choose. zlib when it was agreed, zstd only
 * without it, as MySQL's client and server decide (both are agreed when a MySQL 8 server,
 * which offers both by default, meets a client that asks for both).
 */
export function compressionOf(caps: number): CompressionAlgorithm {
  return (caps & CLIENT.COMPRESS) !== 0 ? 'zlib' : 'zstd';
}

/** A compressed frame larger than capture holds: the connection is valid, capture stops. */
export class FrameOverBound extends Error {}

const HEADER_BYTES = 7;
/** A compressed frame's bytes on the wire held until it is complete, by default. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

export class CompressedUnframer {
  private readonly algorithm: CompressionAlgorithm;
  private readonly maxFrameBytes: number;
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private inFrame = false;
  private wireLength = 0;
  private rawLength = 0;
  private pieces: Buffer[] = [];
  private got = 0;
  /** Frames read whole. */
  frames = 0;

  constructor(algorithm: CompressionAlgorithm, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.algorithm = algorithm;
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Reads `chunk`; `out` gets the packet bytes the frames hold, in order. */
  push(chunk: Uint8Array, out: (packetBytes: Buffer) => void): void {
    let off = 0;
    while (off < chunk.length) {
      if (!this.inFrame) {
        const take = Math.min(HEADER_BYTES - this.headerFill, chunk.length - off);
        this.header.set(chunk.subarray(off, off + take), this.headerFill);
        this.headerFill += take;
        off += take;
        if (this.headerFill < HEADER_BYTES) return;
        this.headerFill = 0;
        const h = this.header;
        this.wireLength = h[0] | (h[1] << 8) | (h[2] << 16);
        this.rawLength = h[4] | (h[5] << 8) | (h[6] << 16);
        if (this.rawLength !== 0 && this.wireLength > this.maxFrameBytes) {
          throw new FrameOverBound(`a compressed frame of ${this.wireLength} bytes, over the ${this.maxFrameBytes} bytes capture holds to decompress one`);
        }
        this.inFrame = true;
        this.pieces = [];
        this.got = 0;
        if (this.wireLength === 0) {
          this.finish(out);
          continue;
        }
      }
      const n = Math.min(this.wireLength - this.got, chunk.length - off);
      const piece = chunk.subarray(off, off + n);
      this.got += n;
      off += n;
      if (this.rawLength === 0) {
        // Sent as is: nothing to wait for.
        out(Buffer.from(piece));
        if (this.got === this.wireLength) this.endFrame();
        continue;
      }
      this.pieces.push(Buffer.from(piece));
      if (this.got === this.wireLength) this.finish(out);
    }
  }

  /** Bytes of a frame begun but not complete, its header included. */
  get partialBytes(): number {
    return this.inFrame ? HEADER_BYTES + this.got : this.headerFill;
  }

  private endFrame(): void {
    this.pieces = [];
    this.inFrame = false;
    this.frames++;
  }

  private finish(out: (packetBytes: Buffer) => void): void {
    const payload = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.got);
    const rawLength = this.rawLength;
    this.endFrame();
    if (rawLength === 0) return;
    let raw: Buffer;
    try {
      raw =
        this.algorithm === 'zstd'
          ? zstdDecompressSync(payload, { maxOutputLength: rawLength })
          : inflateSync(payload, { maxOutputLength: rawLength });
    } catch (err) {
      throw new MalformedPacket(`compressed frame (${this.algorithm}) that does not decompress: ${(err as Error).message}`);
    }
    if (raw.length !== rawLength) {
      throw new MalformedPacket(`compressed frame whose header says ${rawLength} bytes and holds ${raw.length}`);
    }
    out(raw);
  }
}
