/**
 * The MySQL compressed protocol, undone: after a login that negotiated `CLIENT_COMPRESS` (zlib)
 * or `CLIENT_ZSTD_COMPRESSION_ALGORITHM` (zstd), each direction is a run of frames, each a
 * 7-byte header — the payload's length on the wire (3 bytes, little-endian), a sequence number,
 * the length before compression (3 bytes; 0: the payload was sent as is) — and the payload,
 * which holds ordinary packets (or pieces of them: a packet may span frames). Each frame is
 * compressed on its own, so it is decompressed as soon as it is complete.
 *
 * Pure: bytes in, the frames' packet bytes out. A frame is held until complete, so what one
 * frame may hold is bounded (`maxFrameBytes` on the wire); a frame over it, one that does not
 * decompress, or one whose size after decompression is not the header's throws
 * `MalformedPacket`, and the session stops reading the connection.
 */
import { inflateSync, zstdDecompressSync } from 'node:zlib';
import { MalformedPacket } from './calls.ts';
import { CLIENT } from './constants.ts';

export type CompressionAlgorithm = 'zlib' | 'zstd';

/** The algorithm a login's agreed capabilities choose: zstd when both ends offered it, else zlib. */
export function compressionOf(caps: number): CompressionAlgorithm {
  return (caps & CLIENT.ZSTD_COMPRESSION) !== 0 ? 'zstd' : 'zlib';
}

const HEADER_BYTES = 7;
/** A frame's bytes on the wire held until it is complete, by default. */
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

  /** Reads `chunk`; `out` gets each complete frame's packet bytes, in order. */
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
        if (this.wireLength > this.maxFrameBytes) {
          throw new MalformedPacket(`compressed frame of ${this.wireLength} bytes: over the ${this.maxFrameBytes} bytes capture holds for one frame`);
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
      this.pieces.push(Buffer.from(chunk.subarray(off, off + n)));
      this.got += n;
      off += n;
      if (this.got === this.wireLength) this.finish(out);
    }
  }

  /** Bytes of a frame begun but not complete. */
  get partialBytes(): number {
    return this.inFrame ? HEADER_BYTES + this.got : this.headerFill;
  }

  private finish(out: (packetBytes: Buffer) => void): void {
    const payload = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.got);
    this.pieces = [];
    this.inFrame = false;
    this.frames++;
    if (this.rawLength === 0) {
      out(payload);
      return;
    }
    let raw: Buffer;
    try {
      raw =
        this.algorithm === 'zstd'
          ? zstdDecompressSync(payload, { maxOutputLength: Math.max(1, this.rawLength) })
          : inflateSync(payload, { maxOutputLength: Math.max(1, this.rawLength) });
    } catch (err) {
      throw new MalformedPacket(`compressed frame (${this.algorithm}) that does not decompress: ${(err as Error).message}`);
    }
    if (raw.length !== this.rawLength) {
      throw new MalformedPacket(`compressed frame whose header says ${this.rawLength} bytes and holds ${raw.length}`);
    }
    out(raw);
  }
}
