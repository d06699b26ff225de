/**
 * The MySQL compressed protocol, undone: after a login that negotiated `CLIENT_COMPRESS` (zlib)
 * or `CLIENT_ZSTD_COMPRESSION_ALGORITHM` (zstd), each direction is a run of frames, each a
 * 7-byte header — the payload's length on the wire (3 bytes, little-endian), a sequence number,
 * the length before compression (3 bytes; 0: the payload was sent as is) — and the payload,
 * which holds ordinary packets (or pieces of them: a packet may span frames). Each compressed
 * frame is compressed on its own, so it is decompressed as soon as it is complete.
 *
 * Pure: bytes in, the frames' packet bytes out. A payload sent as is streams straight through;
 * a compressed one is held until complete, so what is held is bounded twice: per frame
 * (`maxFrameBytes` on the wire) and, across every connection of the sidecar, by the shared
 * `HeldBytes` a frame's wire length is taken from when its header arrives and given back when
 * it is complete or the unframer is let go (`release`). A frame over either bound throws
 * `FrameOverBound` (capture gives up on the connection, which is not malformed). Decompressing
 * needs the frame's decompressed size at once (under 16 MiB, the header's 3 bytes), one frame
 * at a time in the worker, and none of it is kept: the packets' bytes are copied as the packet
 * reader keeps them. A frame that does not decompress, or whose size after decompression is not
 * its header's, throws `MalformedPacket`.
 */
import { inflateSync, zstdDecompressSync } from 'node:zlib';
import type { HeldBytes } from '../capture/held-bytes.ts';
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

/**
 * Why a compressed frame was not held: over the bound for one frame (`compressed_frame`), or
 * over what the sidecar holds for every connection's frames together (`compressed_held`).
 */
export type FrameBound = 'compressed_frame' | 'compressed_held';

/** A compressed frame capture cannot hold: the connection is valid, capture stops. */
export class FrameOverBound extends Error {
  readonly bound: FrameBound;
  constructor(bound: FrameBound, message: string) {
    super(message);
    this.bound = bound;
  }
}

const HEADER_BYTES = 7;
/** A compressed frame's bytes on the wire held until it is complete, by default. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Bytes of compressed frames held by every connection of a sidecar together, by default. */
export const DEFAULT_HELD_FRAME_BYTES = 16 * 1024 * 1024;

export interface UnframerOptions {
  /** One frame's bytes on the wire held at most (default `DEFAULT_MAX_FRAME_BYTES`). */
  maxFrameBytes?: number;
  /** The bound shared with the other connections' unframers; none: only the per-frame bound. */
  held?: HeldBytes;
}

export class CompressedUnframer {
  private readonly algorithm: CompressionAlgorithm;
  private readonly maxFrameBytes: number;
  private readonly held: HeldBytes | undefined;
  /** Bytes taken from `held` for the frame in progress. */
  private taken = 0;
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private inFrame = false;
  private wireLength = 0;
  private rawLength = 0;
  private pieces: Buffer[] = [];
  private got = 0;
  /** Frames read whole. */
  frames = 0;

  constructor(algorithm: CompressionAlgorithm, options: UnframerOptions = {}) {
    this.algorithm = algorithm;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.held = options.held;
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
        if (this.rawLength !== 0) this.hold(this.wireLength);
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

  /** Lets go of a frame in progress and gives back what it held (the capture stopped). */
  release(): void {
    this.pieces = [];
    this.giveBack();
  }

  private hold(wireLength: number): void {
    if (wireLength > this.maxFrameBytes) {
      throw new FrameOverBound('compressed_frame', `a compressed frame of ${wireLength} bytes, over the ${this.maxFrameBytes} bytes capture holds to decompress one`);
    }
    const held = this.held;
    if (held === undefined || wireLength === 0) return;
    if (!held.take(wireLength)) {
      throw new FrameOverBound(
        'compressed_held',
        `a compressed frame of ${wireLength} bytes, while other connections' frames hold ${held.held} of the ${held.limit} bytes the sidecar holds for them`,
      );
    }
    this.taken = wireLength;
  }

  private giveBack(): void {
    if (this.taken === 0) return;
    this.held?.give(this.taken);
    this.taken = 0;
  }

  /** Bytes of a frame begun but not complete, its header included. */
  get partialBytes(): number {
    return this.inFrame ? HEADER_BYTES + this.got : this.headerFill;
  }

  private endFrame(): void {
    this.pieces = [];
    this.giveBack();
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
