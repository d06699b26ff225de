/**
 * Feeding a recorded conversation to a real capture session the way the hand-off does when
 * capture falls behind (`hand-off.ts`): the connection's first chunk chooses the framing
 * (`framing.ts`) and is copied whole; each later chunk is copied whole, or split by the framing
 * into runs copied and runs of which the session is told only the length.
 */
import type { Test } from 'tap';
import type { CaptureContext, CaptureEvent, CaptureSession, Exchange } from '../../../sidecar/capture/session.ts';
import { openingFraming } from '../../../sidecar/capture-worker/framing.ts';
import { MAY_SKIP, MUST_COPY, type StreamFraming } from '../../../sidecar/capture-worker/stream-framing.ts';
import type { RelayChunk } from '../../helpers/recording-relay.ts';
import { rng } from '../http1/harness.ts';

export interface Fed {
  exchanges: Exchange[];
  events: CaptureEvent[];
  /** Skips the session refused, runs that did not cover their chunk, splits the framing gave up on. */
  refused: number;
  skipped: number;
  /** The framing at the end (undefined once it gave up). */
  framing: StreamFraming | undefined;
}

/** `data` cut into pieces of `size` bytes (0: random sizes up to `maxRandom`). */
export function pieces(data: Buffer, size: number, rand: () => number, maxRandom = 600): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const n = size > 0 ? size : 1 + Math.floor(rand() * maxRandom);
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

/**
 * Feeds `chunks` (re-cut by `size`) to the session `create` makes: each piece after the first is
 * copied whole when `copyWhole` says so, else split.
 */
export function feedSplit(
  create: (ctx: CaptureContext) => CaptureSession,
  chunks: RelayChunk[],
  size: number,
  seed: number,
  copyWhole: (rand: () => number) => boolean,
): Fed {
  const rand = rng(seed);
  const exchanges: Exchange[] = [];
  const events: CaptureEvent[] = [];
  const session = create({ maxBodyBytes: 64 * 1024, emit: (e) => exchanges.push(e), event: (e) => events.push(e) });
  let framing: StreamFraming | undefined;
  let chosen = false;
  const runs: number[] = [];
  let refused = 0;
  let skipped = 0;
  let last = 0n;
  for (const recorded of chunks) {
    const client = recorded.from === 'client';
    last = recorded.at;
    for (const chunk of pieces(recorded.data, size, rand)) {
      let whole = copyWhole(rand);
      if (!chosen) {
        chosen = true;
        framing = openingFraming(client, chunk);
        whole = true;
      }
      if (whole || framing === undefined) {
        if (framing !== undefined && !framing.advance(client, chunk)) framing = undefined;
        if (client) session.clientData(chunk, recorded.at);
        else session.serverData(chunk, recorded.at);
        continue;
      }
      if (framing.split(client, chunk, runs) < 0) {
        refused++;
        framing = undefined;
        continue;
      }
      let at = 0;
      for (let r = 0; r < runs.length; r += 2) {
        const len = runs[r + 1];
        if (runs[r] === MUST_COPY) {
          const part = chunk.subarray(at, at + len);
          if (client) session.clientData(part, recorded.at);
          else session.serverData(part, recorded.at);
        } else {
          if (runs[r] !== MAY_SKIP) refused++;
          skipped += len;
          if (!(client ? session.skipClient!(len, recorded.at) : session.skipServer!(len, recorded.at))) refused++;
        }
        at += len;
      }
      if (at !== chunk.length) refused++;
    }
  }
  session.close(last + 1n, 'fin');
  return { exchanges, events, refused, skipped, framing };
}

/** The statement a database call's request body names ('' when the body is not a statement). */
export function statementOf(e: Exchange): string {
  try {
    return String(JSON.parse(Buffer.from(e.request?.body ?? []).toString()).query ?? '');
  } catch {
    return '';
  }
}

export interface SplitCheck {
  create: (ctx: CaptureContext) => CaptureSession;
  /** What a gap must not change about a call. */
  shape: (e: Exchange) => unknown[];
  /** The framing that must follow the conversation to its end. */
  framing: abstract new (...args: never[]) => StreamFraming;
  /** When given: the bytes every fully split run must skip, exactly. */
  skippable?: number;
}

/**
 * Feeds `chunks` whole, then split at every chunking below: every run covers its chunk, every
 * skip is absorbed, nothing is cut, and the session records the same calls as from the whole
 * conversation. Returns the whole run.
 */
export function checkSplits(t: Test, name: string, chunks: RelayChunk[], check: SplitCheck): Fed {
  const whole = feedSplit(check.create, chunks, 0, 1, () => true);
  t.equal(whole.refused, 0, `${name}: copied whole, nothing refused`);
  t.ok(whole.framing instanceof check.framing, `${name}: followed to the end`);
  t.same(whole.events, [], `${name}: no parse errors`);
  const never = (): boolean => false;
  const half = (rand: () => number): boolean => rand() < 0.5;
  for (const [label, size, seed, copyWhole] of [
    ['every chunk split, chunks as recorded', 1 << 30, 2, never],
    ['every chunk split, random sizes', 0, 3, never],
    ['every chunk split, 7-byte chunks', 7, 4, never],
    ['every chunk split, 1-byte chunks', 1, 5, never],
    ['some chunks copied whole, some split', 0, 6, half],
    ['some chunks copied whole, some split, 13-byte chunks', 13, 7, half],
  ] as const) {
    const got = feedSplit(check.create, chunks, size, seed, copyWhole);
    const what = `${name}, ${label}`;
    t.equal(got.refused, 0, `${what}: every run covers its chunk, every skip absorbed`);
    if (check.skippable !== undefined && copyWhole === never) t.equal(got.skipped, check.skippable, `${what}: exactly what the session can absorb skipped`);
    else t.ok(got.skipped > 0, `${what}: bytes skipped (${got.skipped})`);
    t.same(got.events, [], `${what}: no parse error, no cut`);
    t.same(got.exchanges.map(check.shape), whole.exchanges.map(check.shape), `${what}: the same calls, statements, statuses and row counts`);
  }
  return whole;
}
