/** Drives capture sessions and parsers from scripts, and cuts their input every possible way. */
import type { Test } from 'tap';
import type { CaptureEvent, CaptureSession, Exchange } from '../../../sidecar/capture/session.ts';
import type { CloseReason } from '../../../sidecar/capture/session.ts';
import { createHttp1Session, type Http1SessionOptions } from '../../../sidecar/http1/session.ts';
import { Http1Parser, type Http1Kind, type Http1ParserOptions } from '../../../sidecar/http1/parser.ts';
import { rng } from '../../helpers/rng.ts';

export { rng };

export type Step =
  | { c: string | Uint8Array }
  | { s: string | Uint8Array }
  | { cend: true }
  | { send: true }
  | { close: CloseReason };

export const bytes = (x: string | Uint8Array): Buffer => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from(x));

/** Time of step i: steps are 1 µs apart, so every timestamp names the step that produced it. */
export const timeOf = (i: number): bigint => 1_000_000_000n + BigInt(i) * 1000n;

/** Plain data for deep comparison (bodies as latin1 text). */
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

/** Split plan: for each data step, the cut offsets to apply (absent = whole). */
export type Cuts = Map<number, number[]>;

export function runSession(
  steps: Step[],
  cuts: Cuts = new Map(),
  maxBodyBytes = 64 * 1024,
  options: Http1SessionOptions = {},
  make: (ctx: Parameters<typeof createHttp1Session>[0]) => CaptureSession = (ctx) => createHttp1Session(ctx, options),
): RunResult {
  const exchanges: Exchange[] = [];
  const events: CaptureEvent[] = [];
  const session = make({ maxBodyBytes, emit: (e) => exchanges.push(e), event: (e) => events.push(e) });
  steps.forEach((step, i) => {
    const now = timeOf(i);
    if ('c' in step || 's' in step) {
      const data = bytes('c' in step ? step.c : step.s);
      const offsets = [0, ...(cuts.get(i) ?? []), data.length];
      for (let k = 0; k + 1 < offsets.length; k++) {
        const piece = data.subarray(offsets[k], offsets[k + 1]);
        if (piece.length === 0) continue;
        if ('c' in step) session.clientData(piece, now);
        else session.serverData(piece, now);
      }
    } else if ('cend' in step) session.clientEnd(now);
    else if ('send' in step) session.serverEnd(now);
    else session.close(now, step.close);
  });
  return { exchanges, events };
}


export function randomCuts(n: number, pieces: number, rand: () => number): number[] {
  const set = new Set<number>();
  while (set.size < Math.min(pieces - 1, n - 1)) set.add(1 + Math.floor(rand() * (n - 1)));
  return [...set].sort((a, b) => a - b);
}

/**
 * Up to three cut points inside each data step's bytes, from a seeded generator, so a property
 * test can replay the same conversation chunked differently (`{ c }`/`{ s }` steps of any
 * protocol's harness; other steps are kept whole).
 */
export function seededCuts(steps: readonly object[], seed: number): Map<number, number[]> {
  const rand = rng(seed);
  const cuts = new Map<number, number[]>();
  steps.forEach((st, i) => {
    const data = 'c' in st ? st.c : 's' in st ? st.s : undefined;
    const n = data instanceof Uint8Array ? data.length : 0;
    if (n > 1) cuts.set(i, randomCuts(n, 4, rand));
  });
  return cuts;
}

/**
 * Every way the spec asks for: for each data step alone, all two-piece cuts, byte by byte and a
 * few random many-piece cuts; plus all data steps byte by byte at once.
 */
export function* allCuts(steps: Step[], seed = 7): Generator<{ label: string; cuts: Cuts }> {
  const rand = rng(seed);
  const dataSteps: Array<[number, number]> = [];
  steps.forEach((s, i) => {
    if ('c' in s || 's' in s) dataSteps.push([i, bytes('c' in s ? s.c : s.s).length]);
  });
  for (const [i, n] of dataSteps) {
    for (let k = 1; k < n; k++) yield { label: `step ${i} cut at ${k}`, cuts: new Map([[i, [k]]]) };
    yield { label: `step ${i} byte by byte`, cuts: new Map([[i, Array.from({ length: Math.max(0, n - 1) }, (_, k) => k + 1)]]) };
    for (let r = 0; r < 4; r++) {
      const pieces = 2 + Math.floor(rand() * Math.min(12, n));
      yield { label: `step ${i} random ${r}`, cuts: new Map([[i, randomCuts(n, pieces, rand)]]) };
    }
  }
  yield {
    label: 'everything byte by byte',
    cuts: new Map(dataSteps.map(([i, n]) => [i, Array.from({ length: Math.max(0, n - 1) }, (_, k) => k + 1)])),
  };
}

/**
 * Runs a script whole and at every cut of `allCuts` (through `run`, any protocol's session);
 * asserts that every run gives the same exchanges, and returns the whole run.
 */
export function sameAtEveryCut(t: Test, steps: Step[], run: (cuts: Cuts) => RunResult): RunResult {
  const whole = run(new Map());
  const want = JSON.stringify(plain(whole));
  let differ = 0;
  let first = '';
  let runs = 0;
  for (const { label, cuts } of allCuts(steps)) {
    runs++;
    if (JSON.stringify(plain(run(cuts))) !== want) {
      differ++;
      first ||= label;
    }
  }
  t.equal(differ, 0, `same exchanges at every cut (${runs} ways)${first ? `; first difference: ${first}` : ''}`);
  return whole;
}

/** Parser events flattened to comparable values (consecutive body slices merged). */
export function parseAll(kind: Http1Kind, pieces: Uint8Array[], options: Http1ParserOptions = {}, finish = false): string[] {
  const ev: string[] = [];
  let body: Buffer[] = [];
  const flush = (): void => {
    if (body.length > 0) ev.push(`body ${Buffer.concat(body).toString('latin1')}`);
    body = [];
  };
  const p = new Http1Parser(
    kind,
    {
      onMessageBegin: () => {
        flush();
        ev.push('begin');
      },
      onHead: (h) => {
        flush();
        const start = h.kind === 'request' ? `${h.method} ${h.target}` : `${h.statusCode} ${h.reason}`;
        const headers = h.headers.map(([n, v]) => `${n}=${v}`).join('|');
        const up = h.upgrade === undefined ? '' : ` upgrade=${h.upgrade}`;
        ev.push(`head ${start} HTTP/${h.versionMajor}.${h.versionMinor} [${headers}] ${h.bodyKind}${h.bodyKind === 'length' ? `:${h.contentLength}` : ''} size=${h.headSize}${up}`);
      },
      onBody: (d) => body.push(Buffer.from(d)),
      onTrailers: (t) => {
        flush();
        ev.push(`trailers [${t.map(([n, v]) => `${n}=${v}`).join('|')}]`);
      },
      onMessageComplete: (w) => {
        flush();
        ev.push(`complete ${w}`);
      },
      onError: (e) => {
        flush();
        ev.push(`error ${e.code}`);
      },
    },
    options,
  );
  let rest: Buffer[] | undefined;
  for (const piece of pieces) {
    if (rest !== undefined) {
      rest.push(Buffer.from(piece));
      continue;
    }
    const n = p.execute(piece);
    if (n < piece.length) rest = [Buffer.from(piece.subarray(n))];
  }
  if (rest !== undefined) {
    flush();
    // Where a failing parser stops depends on the cuts; what a paused or switched one left does not.
    if (p.failed) ev.push('stopped failed');
    else ev.push(`stopped ${p.paused ? 'paused' : 'upgraded'} ${Buffer.concat(rest).toString('latin1')}`);
  }
  if (finish) {
    const clean = p.finish();
    flush();
    ev.push(`finish ${clean}`);
  }
  flush();
  return ev;
}
