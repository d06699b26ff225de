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
