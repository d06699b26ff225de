/**
 * Drives a Redis capture session from a script of client/server chunks, and cuts that input
 * every possible way: a session must give the same exchanges however the bytes were chunked.
 */
import type { Test } from 'tap';
import type { CaptureEvent, CloseReason, Exchange } from '../../../sidecar/capture/session.ts';
import { createRedisSession, type RedisSessionOptions } from '../../../sidecar/redis/session.ts';
import { rng } from '../../helpers/rng.ts';

export type Step = { c: string | Uint8Array } | { s: string | Uint8Array } | { close: CloseReason };

export const bytes = (x: string | Uint8Array): Buffer => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from(x));

/** Time of step i: every timestamp names the step that produced it. */
export const timeOf = (i: number): bigint => 5_000_000_000n + BigInt(i) * 1000n;

/** Comparable plain data (bytes as latin1 text, bigints as strings). */
export function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return `bytes:${Buffer.from(x).toString('latin1')}`;
  if (typeof x === 'bigint') return `${x}n`;
  if (Array.isArray(x)) return x.map(plain);
  if (x !== null && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = plain(v);
    return out;
  }
  return x;
}

export interface RunResult {
  exchanges: Exchange[];
  events: CaptureEvent[];
}

/** For each data step, where to cut it (absent: fed whole). */
export type Cuts = Map<number, number[]>;

export function runSession(steps: Step[], cuts: Cuts = new Map(), maxBodyBytes = 64 * 1024, options: RedisSessionOptions = {}): RunResult {
  const exchanges: Exchange[] = [];
  const events: CaptureEvent[] = [];
  const session = createRedisSession({ maxBodyBytes, emit: (e) => exchanges.push(e), event: (e) => events.push(e) }, options);
  steps.forEach((step, i) => {
    const now = timeOf(i);
    if ('close' in step) {
      session.close(now, step.close);
      return;
    }
    const data = bytes('c' in step ? step.c : step.s);
    const offsets = [0, ...(cuts.get(i) ?? []), data.length];
    for (let k = 0; k + 1 < offsets.length; k++) {
      const piece = data.subarray(offsets[k], offsets[k + 1]);
      if (piece.length === 0) continue;
      if ('c' in step) session.clientData(piece, now);
      else session.serverData(piece, now);
    }
  });
  return { exchanges, events };
}


const range = (n: number): number[] => Array.from({ length: Math.max(0, n - 1) }, (_, k) => k + 1);

/** Each data step cut in two at every offset, byte by byte, at random; then all steps byte by byte. */
export function* allCuts(steps: Step[], seed = 11): Generator<{ label: string; cuts: Cuts }> {
  const rand = rng(seed);
  const data: Array<[number, number]> = [];
  steps.forEach((s, i) => {
    if (!('close' in s)) data.push([i, bytes('c' in s ? s.c : s.s).length]);
  });
  for (const [i, n] of data) {
    for (let k = 1; k < n; k++) yield { label: `step ${i} cut at ${k}`, cuts: new Map([[i, [k]]]) };
    yield { label: `step ${i} byte by byte`, cuts: new Map([[i, range(n)]]) };
    for (let r = 0; r < 3; r++) {
      const set = new Set<number>();
      const pieces = 2 + Math.floor(rand() * Math.min(10, n));
      while (set.size < Math.min(pieces - 1, n - 1)) set.add(1 + Math.floor(rand() * (n - 1)));
      yield { label: `step ${i} random ${r}`, cuts: new Map([[i, [...set].sort((a, b) => a - b)]]) };
    }
  }
  yield { label: 'everything byte by byte', cuts: new Map(data.map(([i, n]) => [i, range(n)])) };
}

/** Runs the script whole, then cut every way; every run must give the same exchanges and events. */
export function invariant(t: Test, steps: Step[], maxBodyBytes = 64 * 1024, options: RedisSessionOptions = {}): RunResult {
  const whole = runSession(steps, new Map(), maxBodyBytes, options);
  const expected = JSON.stringify(plain(whole));
  let runs = 0;
  let bad = 0;
  for (const { label, cuts } of allCuts(steps)) {
    runs++;
    const got = runSession(steps, cuts, maxBodyBytes, options);
    if (JSON.stringify(plain(got)) !== expected) {
      bad++;
      if (bad <= 2) t.same(plain(got), plain(whole), `same result when ${label}`);
    }
  }
  t.equal(bad, 0, `identical result for all ${runs} ways to cut the input`);
  return whole;
}

export const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('utf8');

/** A command as a client library sends it: a RESP array of bulk strings. */
export function cmd(...args: Array<string | Uint8Array>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = bytes(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export const bulk = (s: string): string => `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`;
