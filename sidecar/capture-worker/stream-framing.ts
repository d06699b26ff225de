/**
 * What a framing followed on the forwarding thread (`framing.ts`) tells the hand-off about a
 * chunk: which of its bytes the worker must see and which it may be told only the length of.
 */

/** A run of bytes the worker must see (`MUST_COPY`) or may be told only the length of (`MAY_SKIP`). */
export const MUST_COPY = 0;
export const MAY_SKIP = 1;

export interface StreamFraming {
  /** Follows a chunk copied whole. False: the connection is not of this protocol; stop following it. */
  advance(fromClient: boolean, chunk: Uint8Array): boolean;
  /**
   * Follows a chunk and fills `runs` with flat pairs [MUST_COPY | MAY_SKIP, bytes] covering it in
   * order (consecutive runs of a kind merged). Returns the bytes to copy, or -1 if the connection
   * is not of this protocol (`runs` is then meaningless).
   */
  split(fromClient: boolean, chunk: Uint8Array, runs: number[]): number;
}

/** What every framing shares: `advance` and `split` are one walk over the chunk, until `stop`. */
export abstract class ChunkFraming implements StreamFraming {
  private off = false;

  advance(fromClient: boolean, chunk: Uint8Array): boolean {
    return !this.off && this.walk(fromClient, chunk, undefined) >= 0;
  }

  split(fromClient: boolean, chunk: Uint8Array, runs: number[]): number {
    runs.length = 0;
    return this.off ? -1 : this.walk(fromClient, chunk, runs);
  }

  /** Follows `chunk`, describing it in `runs` when given; the bytes to copy, or `stop()`. */
  protected abstract walk(fromClient: boolean, chunk: Uint8Array, runs: number[] | undefined): number;

  /** The connection is not followed any more; returns -1 for `walk` to return. */
  protected stop(): number {
    this.off = true;
    return -1;
  }
}

/** Appends a run, merged into the last one when of the same kind. */
export function addRun(runs: number[], kind: number, bytes: number): void {
  const last = runs.length - 2;
  if (last >= 0 && runs[last] === kind) runs[last + 1] += bytes;
  else runs.push(kind, bytes);
}
