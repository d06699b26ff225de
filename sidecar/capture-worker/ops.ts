/**
 * The hand-off format between the forwarding thread and the capture worker: a batch of ops
 * written back to back into chunks of `OP_CHUNK_BYTES`, transferred (not copied) to the worker
 * as they are. Chunks are not handed back for reuse: the worker's sessions keep views of the
 * payloads they hold (a body in progress, bytes awaiting protocol detection), so a chunk lives
 * as long as its slowest view and is then collected.
 *
 * One op: `[op u8][capture u32][time f64][length u32][payload]`, little-endian, 17 bytes of
 * header, never split between chunks. `capture` numbers a connection's capture (not its
 * connection id, which can change once an inbound mesh handshake names it); `time` is the
 * forwarding thread's `performance.now()` when the bytes were seen; the payload is a byte copy
 * for data ops, UTF-8 JSON for the rare ops that carry structure (open, meta, unreachable), and
 * empty otherwise. Pure: no threads or sockets here, so both ends are tested without either.
 *
 * Why fixed chunks: a payload is copied once, into the chunk, and nothing else is copied or
 * allocated on the forwarding thread. A writer that grew one buffer by doubling and then copied
 * the batch out to transfer it copied each byte two to three times, and its large buffers were
 * fresh memory every batch (the sidecar maps blocks of 128 KiB and more on their own,
 * `lib/pod-entry.ts`), each page of which costs a page fault on first touch: about 13 µs on
 * this project's VM. A chunk stays under that size, so it comes from the allocator's reused
 * memory.
 */
import type { ForwardingFact } from '../capture/connection-facts.ts';

/** The forwarding thread hands a batch of ops over at least this often (ms): how late an op may reach the worker. */
export const HANDOFF_POST_MS = 100;

export const OP_OPEN = 1;
export const OP_CLIENT_DATA = 2;
export const OP_SERVER_DATA = 3;
export const OP_CLIENT_END = 4;
export const OP_SERVER_END = 5;
/** Payload: the close reason as text. */
export const OP_CLOSE = 6;
/** Stop capturing without flushing (the forwarding side reports the connection's fate itself). */
export const OP_DISABLE = 7;
/** Payload: JSON `{ detail, bytesOut }`: the upstream could not be reached. */
export const OP_UNREACHABLE = 8;
/** Payload: JSON of the connection facts that changed (mesh identities, connection id, fallback). */
export const OP_META = 9;
/**
 * Payload: `[bytes f64][reason u8]`. That many bytes passed unseen, because a budget was full
 * (`SKIP_REASONS[reason]`): the session absorbs them inside a body, or the capture is cut.
 */
export const OP_CLIENT_SKIP = 11;
export const OP_SERVER_SKIP = 12;
/**
 * Payload: `[kind u8][value f64]`, a fact only the forwarding thread knows, a few per connection
 * at most (`FACT_KINDS[kind]`): the upstream connect time or the mesh handshake time in µs, or
 * who reset the connection (value 0: the client, 1: the server).
 */
export const OP_FACT = 13;

export const FACT_KINDS = ['connect', 'tls_handshake', 'reset'] as const;

export const SKIP_REASONS = ['connection_budget', 'sidecar_budget'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export const OP_HEADER_BYTES = 17;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes of each chunk of a batch (an op larger than this gets a chunk of its own size). */
export const OP_CHUNK_BYTES = 64 * 1024;

/** A batch of ops: chunks filled in order, `lengths[i]` bytes of `buffers[i]` used. */
export interface OpBatch {
  buffers: ArrayBuffer[];
  lengths: number[];
}

/** Appends ops into chunks; `take()` hands the filled ones over. */
export class OpWriter {
  private buffer: ArrayBuffer | undefined;
  private bytes = new Uint8Array(0);
  private view = new DataView(new ArrayBuffer(0));
  private offset = 0;
  private taken: ArrayBuffer[] = [];
  private takenLengths: number[] = [];
  /** Bytes in the chunks filled before the current one. */
  private takenBytes = 0;
  private readonly chunkBytes: number;

  constructor(chunkBytes = OP_CHUNK_BYTES) {
    this.chunkBytes = chunkBytes;
  }

  /** Bytes written since the last `take()`. */
  get length(): number {
    return this.takenBytes + this.offset;
  }

  data(op: number, capture: number, time: number, chunk: Uint8Array): void {
    const at = this.header(op, capture, time, chunk.byteLength);
    this.bytes.set(chunk, at);
    this.offset = at + chunk.byteLength;
  }

  text(op: number, capture: number, time: number, text: string): void {
    const payload = encoder.encode(text);
    this.data(op, capture, time, payload);
  }

  signal(op: number, capture: number, time: number): void {
    this.offset = this.header(op, capture, time, 0);
  }

  skip(op: number, capture: number, time: number, bytes: number, reason: SkipReason): void {
    const at = this.header(op, capture, time, 9);
    this.view.setFloat64(at, bytes, true);
    this.view.setUint8(at + 8, SKIP_REASONS.indexOf(reason));
    this.offset = at + 9;
  }

  fact(capture: number, time: number, fact: ForwardingFact): void {
    const at = this.header(OP_FACT, capture, time, 9);
    this.view.setUint8(at, FACT_KINDS.indexOf(fact.kind));
    this.view.setFloat64(at + 1, fact.kind === 'reset' ? (fact.by === 'client' ? 0 : 1) : fact.us, true);
    this.offset = at + 9;
  }

  /**
   * The ops written since the last call, in the chunks they were written to (nothing is
   * copied: the chunks are meant to be transferred); the writer starts a fresh chunk on its
   * next write.
   */
  take(): OpBatch {
    this.close();
    const batch = { buffers: this.taken, lengths: this.takenLengths };
    this.taken = [];
    this.takenLengths = [];
    this.takenBytes = 0;
    return batch;
  }

  private header(op: number, capture: number, time: number, length: number): number {
    const need = OP_HEADER_BYTES + length;
    if (this.buffer === undefined || this.offset + need > this.buffer.byteLength) this.next(need);
    const view = this.view;
    const o = this.offset;
    view.setUint8(o, op);
    view.setUint32(o + 1, capture, true);
    view.setFloat64(o + 5, time, true);
    view.setUint32(o + 13, length, true);
    return o + OP_HEADER_BYTES;
  }

  /**
   * Ends the current chunk (if it holds anything) and starts one with room for `need` bytes.
   * The chunk is not zero-filled (only its first `lengths[i]` bytes are ever read), so a batch
   * touches only the pages it writes: about 9 µs per chunk with 3 000 bytes used against 25–29
   * for a zeroed `new ArrayBuffer` (a micro-benchmark, the sidecar's malloc settings).
   */
  private next(need: number): void {
    this.close();
    const buffer = Buffer.allocUnsafeSlow(Math.max(this.chunkBytes, need)).buffer;
    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
  }

  private close(): void {
    if (this.buffer === undefined) return;
    if (this.offset > 0) {
      this.taken.push(this.buffer);
      this.takenLengths.push(this.offset);
      this.takenBytes += this.offset;
    }
    this.buffer = undefined;
    this.offset = 0;
  }
}

export interface OpVisitor {
  /** `payload` is a view into one of the batch's chunks (which are never reused, so it may be kept). */
  op(op: number, capture: number, time: number, payload: Uint8Array): void;
}

/** Reads a batch written by `OpWriter`, chunk by chunk. A truncated op ends its chunk (it cannot happen between the two ends). */
export function readOps(batch: OpBatch, visitor: OpVisitor): void {
  for (let i = 0; i < batch.buffers.length; i++) readChunk(batch.buffers[i], Math.min(batch.lengths[i], batch.buffers[i].byteLength), visitor);
}

function readChunk(buffer: ArrayBuffer, length: number, visitor: OpVisitor): void {
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  let o = 0;
  while (o + OP_HEADER_BYTES <= length) {
    const op = view.getUint8(o);
    const capture = view.getUint32(o + 1, true);
    const time = view.getFloat64(o + 5, true);
    const n = view.getUint32(o + 13, true);
    const start = o + OP_HEADER_BYTES;
    if (start + n > length) return;
    visitor.op(op, capture, time, bytes.subarray(start, start + n));
    o = start + n;
  }
}

export function payloadText(payload: Uint8Array): string {
  return decoder.decode(payload);
}

export function payloadSkip(payload: Uint8Array): { bytes: number; reason: SkipReason } {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return { bytes: view.getFloat64(0, true), reason: SKIP_REASONS[view.getUint8(8)] ?? 'connection_budget' };
}

/** The fact of an `OP_FACT` payload; undefined for one this reader does not know. */
export function payloadFact(payload: Uint8Array): ForwardingFact | undefined {
  if (payload.byteLength < 9) return undefined;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const kind = FACT_KINDS[view.getUint8(0)];
  const value = view.getFloat64(1, true);
  if (kind === 'reset') return { kind, by: value === 0 ? 'client' : 'server' };
  if (kind === undefined || !Number.isFinite(value)) return undefined;
  return { kind, us: value };
}
