/**
 * Remembers truncated UDP answers for a few seconds, so that the TCP query a client sends next
 * for the same name and type can say it is a retry of one (RFC 7766 §5). Keyed by the client's
 * address without its port: the TCP retry comes from a new socket. Bounded: the oldest entry
 * goes first, so a flood of truncated answers costs a fixed amount of memory.
 */

export const RETRY_WINDOW_NS = 5_000_000_000n;
const MAX_ENTRIES = 1024;

function key(clientIp: string, name: string, type: number): string {
  return `${clientIp}\u0000${name.toLowerCase()}\u0000${type}`;
}

export class TruncationMemory {
  /** Insertion order is time order, so the oldest entries are first. */
  private readonly seen = new Map<string, bigint>();

  remember(clientIp: string, name: string, type: number, at: bigint): void {
    const k = key(clientIp, name, type);
    this.seen.delete(k);
    this.seen.set(k, at);
    while (this.seen.size > MAX_ENTRIES) this.seen.delete(this.seen.keys().next().value as string);
  }

  /** True (once) when a truncated UDP answer for this client, name and type came within the window. */
  takeRetry(clientIp: string, name: string, type: number, at: bigint): boolean {
    this.expire(at);
    const k = key(clientIp, name, type);
    const when = this.seen.get(k);
    if (when === undefined) return false;
    this.seen.delete(k);
    return at - when <= RETRY_WINDOW_NS;
  }

  private expire(now: bigint): void {
    for (const [k, at] of this.seen) {
      if (now - at <= RETRY_WINDOW_NS) break;
      this.seen.delete(k);
    }
  }
}
