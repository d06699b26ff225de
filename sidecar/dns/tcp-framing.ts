/**
 * DNS over TCP frames each message with a two-byte length (RFC 1035 §4.2.2, RFC 7766). The
 * relay forwards bytes as they come; capture reads copies through one `FrameReader` per
 * direction, which reassembles messages across any chunk split. Memory is bounded by the
 * format: a frame holds at most 65535 bytes.
 */

export class FrameReader {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  /** Feeds a chunk; returns the messages it completed, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (chunk.length === 0) return out;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    for (;;) {
      if (this.pendingBytes < 2) return out;
      const head = this.peek(2);
      const size = (head[0] << 8) | head[1];
      if (this.pendingBytes < 2 + size) return out;
      const frame = this.take(2 + size);
      out.push(frame.subarray(2));
    }
  }

  /** Bytes of an incomplete frame held (a connection that ends here ended mid-message). */
  get buffered(): number {
    return this.pendingBytes;
  }

  private peek(n: number): Uint8Array {
    if (this.pending[0].length >= n) return this.pending[0].subarray(0, n);
    return this.concat(n, false);
  }

  private take(n: number): Uint8Array {
    const first = this.pending[0];
    if (first.length === n) {
      this.pending.shift();
      this.pendingBytes -= n;
      return first;
    }
    if (first.length > n) {
      this.pending[0] = first.subarray(n);
      this.pendingBytes -= n;
      return first.subarray(0, n);
    }
    return this.concat(n, true);
  }

  private concat(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const part = this.pending[i];
      const used = Math.min(part.length, n - filled);
      out.set(part.subarray(0, used), filled);
      filled += used;
      if (consume) {
        if (used === part.length) {
          this.pending.shift();
        } else {
          this.pending[0] = part.subarray(used);
        }
      } else {
        i++;
      }
    }
    if (consume) this.pendingBytes -= n;
    return out;
  }
}
