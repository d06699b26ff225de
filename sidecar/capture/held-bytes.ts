/**
 * A bound on bytes that sessions hold across chunks, shared by every connection of one capture
 * worker. A per-connection limit alone bounds one connection; this bounds all of them, so a
 * sidecar with hundreds of connections in the same state cannot hold hundreds of times that
 * limit. A session takes bytes before it holds them and gives them back when it lets them go
 * (the frame was complete, the capture was cut, the connection closed); a take that would pass
 * the bound is refused and the session cuts its capture instead, as it does for a gap.
 *
 * Used by the MySQL compressed protocol (`../mysql/compressed.ts`): a compressed frame can
 * only be decompressed whole, so its bytes are held until the last one arrives.
 */
export class HeldBytes {
  readonly limit: number;
  private heldBytes = 0;
  /** Takes refused because the bound was reached. */
  refused = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes held now, by every session sharing this bound. */
  get held(): number {
    return this.heldBytes;
  }

  /** Takes `n` bytes of the bound; false (and nothing taken) when that would pass it. */
  take(n: number): boolean {
    if (this.heldBytes + n > this.limit) {
      this.refused++;
      return false;
    }
    this.heldBytes += n;
    return true;
  }

  /** Gives back `n` bytes taken before. */
  give(n: number): void {
    this.heldBytes = Math.max(0, this.heldBytes - n);
  }
}
