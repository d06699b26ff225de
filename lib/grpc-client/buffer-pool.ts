/**
 * Reusable memory for serialized requests a stream writes often (the shipper's batches).
 *
 * A batch is hundreds of KiB, several a second; the sidecar maps blocks that large on their own
 * (`MALLOC_MMAP_THRESHOLD_`, `lib/pod-entry.ts`), so a batch allocated afresh each time touches
 * fresh pages — a minor fault per 4 KiB page, about 13 µs each on this project's VM. A few
 * buffers kept for reuse touch their pages once.
 *
 * A buffer goes back to the pool only once the stream reports the write done (the caller's
 * `release`, from the write's callback without an error): until then HTTP/2 may still be
 * sending from it. One whose write failed is never reused; the garbage collector frees it.
 */

/** Capacities are rounded up to this, so batches of slightly different sizes share buffers. */
const GRANULE = 64 * 1024;

export interface BufferPoolOptions {
  /** Buffers kept for reuse at most (default 2: one being written, one being filled). */
  keep?: number;
  /** Larger buffers are not kept (default 4 MiB). */
  maxKeptBytes?: number;
}

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly keep: number;
  private readonly maxKeptBytes: number;
  /** Buffers allocated, and acquisitions served from the pool (tests, benchmarks). */
  allocated = 0;
  reused = 0;

  constructor(options: BufferPoolOptions = {}) {
    this.keep = options.keep ?? 2;
    this.maxKeptBytes = options.maxKeptBytes ?? 4 * 1024 * 1024;
  }

  /** A Buffer of exactly `size` bytes (contents undefined), over pooled memory when some is free. */
  acquire(size: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].byteLength >= size && (best === -1 || this.free[i].byteLength < this.free[best].byteLength)) best = i;
    }
    if (best !== -1) {
      const memory = this.free.splice(best, 1)[0];
      this.reused++;
      return Buffer.from(memory, 0, size);
    }
    this.allocated++;
    const capacity = Math.ceil(Math.max(size, 1) / GRANULE) * GRANULE;
    // Slow: memory of its own, never a slice of Node's shared pool.
    return Buffer.allocUnsafeSlow(capacity).subarray(0, size);
  }

  /** Gives back a buffer from `acquire` whose last use is over. */
  release(buffer: Buffer): void {
    const memory = buffer.buffer;
    if (!(memory instanceof ArrayBuffer) || memory.byteLength > this.maxKeptBytes || this.free.includes(memory)) return;
    if (this.free.length >= this.keep) {
      // Keep the larger ones: a batch that needs more would otherwise allocate again.
      let smallest = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i].byteLength < this.free[smallest].byteLength) smallest = i;
      if (this.free[smallest].byteLength >= memory.byteLength) return;
      this.free.splice(smallest, 1);
    }
    this.free.push(memory);
  }

  /** Bytes held for reuse. */
  get keptBytes(): number {
    return this.free.reduce((n, m) => n + m.byteLength, 0);
  }
}
