/**
 * `meshtap tap --since`: the calls stored in a window back from now, read from `GET /api/calls`
 * before tap follows the stream.
 *
 * The API answers at most `MAX_LIST_LIMIT` items a request, newest stored first, and takes a
 * lower bound on the start (`since`) but no upper one and no cursor. A window holding more is read
 * in slices of start time, the upper bound in the filter (`start < timestamp(…)`, which the store
 * answers from its index): a slice that comes back full (or cut short by the collector's search
 * budget) is split in two and each half read again, until every slice fits in a page. Slices are
 * read newest first, so that when the window holds more than `maxItems` it is the newest that are
 * kept (the older ones are counted and skipped); what is kept is returned oldest first.
 */
import { CLI_ERR_USAGE } from '../../lib/cli.ts';
import { MeshtapError } from '../../lib/errors.ts';
import { MAX_LIST_LIMIT, parseRfc3339, parseSince, zonelessTimeText } from '../api-query.ts';

/** Calls printed from the window at most; older ones are counted and skipped. */
export const MAX_BACKFILL_ITEMS = 10_000;

/** Requests one backfill makes at most (a window whose calls keep arriving faster than pages are read). */
export const MAX_BACKFILL_REQUESTS = 500;

const DURATION = /^\d+(?:ms|s|m|h|d)$/;
/** What an RFC 3339 timestamp starts with: a date. The API's parser checks the rest. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]/i;

function usage(message: string): MeshtapError {
  return new MeshtapError(CLI_ERR_USAGE, message);
}

const FORMS = 'a duration back from now, like 30s, 10m, 2h or 1d (a whole number of ms, s, m, h or d), or an RFC 3339 time, like 2026-12-07T02:14:00Z';

const UNIT_WORDS: Record<string, string> = { ms: 'millisecond', s: 'second', m: 'minute', h: 'hour', d: 'day' };

/**
 * `--since -5m`: a duration with a minus sign, which no spelling makes valid (`--since=-5m` fails
 * too), answered with what was likely meant; undefined for any other value.
 */
export function negativeSinceText(raw: string): string | undefined {
  const negative = /^-(\d{1,9})(ms|s|m|h|d)$/.exec(raw);
  if (negative === null) return undefined;
  const [, count, unit] = negative;
  const span = Number(count) === 1 ? UNIT_WORDS[unit] : `${Number(count)} ${UNIT_WORDS[unit]}s`;
  return `--since ${raw}: a negative duration is not a time: --since ${count}${unit} means the last ${span}`;
}

/**
 * `--since`: a duration back from now in the API's own syntax (`30s`, `10m`, `2h`, `1d`) or an
 * RFC 3339 time (`2026-12-07T02:14:00Z`, `…+01:00`: "since the page at 02:14"), read by the
 * API's parser. The start of the window, in ns since the epoch (0 for a window reaching back
 * before 1970, as for the API). Bare numbers, which the API's `since` also takes as ns, are
 * refused: `--since 5` would be 5 ns after 1970, every call stored. A time after `nowNs` is
 * refused too: the window would hold nothing, which is never what was meant.
 */
export function parseSinceFlag(raw: string, nowNs: bigint): bigint {
  if (TIMESTAMP.test(raw)) {
    const time = parseRfc3339(raw);
    if (time === 'shape') {
      throw usage(`--since "${raw}" is not an RFC 3339 time: a date, T, the time to the second (a fraction may follow), then Z or an offset such as +01:00, like 2026-12-07T02:14:00Z`);
    }
    if (time === 'no-zone') throw usage(`--since ${zonelessTimeText(raw)}`);
    if (time === 'not-real') throw usage(`--since "${raw}" is not a real date and time`);
    if (time > nowNs) throw usage(`--since ${raw} is in the future (now is ${rfc3339Seconds(nowNs)}): the window would hold no call`);
    return time < 0n ? 0n : time;
  }
  const negative = negativeSinceText(raw);
  if (negative !== undefined) throw usage(negative);
  if (!DURATION.test(raw)) {
    const hint = /^\d+$/.test(raw) ? ` (a number needs its unit: ${raw}m is ${raw} minutes)` : '';
    throw usage(`--since must be ${FORMS}, got "${raw}"${hint}`);
  }
  if (/^0+[a-z]+$/.test(raw)) throw usage(`--since must be longer than 0, got "${raw}"`);
  const parsed = parseSince(raw, nowNs);
  if (!parsed.ok || parsed.value === undefined) {
    throw usage(`--since "${raw}" is beyond what the collector's API accepts: at most 9 digits before the unit (999999999d)`);
  }
  return parsed.value;
}

/** How messages name `--since`'s window after "calls": "in the last 10m", "since 2026-12-07T02:14:00Z". */
export function sinceWindowText(raw: string): string {
  return DURATION.test(raw) ? `in the last ${raw}` : `since ${raw}`;
}

/** `ns` since the epoch as RFC 3339 to the second, for messages. */
function rfc3339Seconds(ns: bigint): string {
  return `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19)}Z`;
}

/** `ns` since the epoch as RFC 3339 with all nine digits of the fraction, e.g. `2025-11-24T16:00:00.000000001Z`. */
export function rfc3339Nanos(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

/**
 * The filter of one slice: `source` (the stream's filter) and, when the slice has an upper bound,
 * `start < timestamp(to)`. `shift` is how far the source moved right (for an error's position).
 */
export function sliceFilter(source: string | undefined, to: bigint | undefined): { filter: string | undefined; shift: number } {
  if (to === undefined) return { filter: source, shift: 0 };
  const bound = `start < timestamp("${rfc3339Nanos(to)}")`;
  if (source === undefined) return { filter: bound, shift: 0 };
  return { filter: `(${source}\n) && ${bound}`, shift: 1 };
}

export interface BackfillPage<T> {
  /** Newest stored first, as the API answers. */
  items: T[];
  /** The collector's search stopped before a full page (`truncated` in its answer). */
  truncated: boolean;
}

export interface BackfillSource<T> {
  /** The window's start, ns since the epoch. */
  since: bigint;
  /** Now, ns since the epoch: where to cut a slice with no upper bound that answered nothing. */
  now: bigint;
  /** Items with a record starting in `[from, to)` (`to` undefined: no upper bound), at most `limit`. */
  page: (from: bigint, to: bigint | undefined, limit: number) => Promise<BackfillPage<T>>;
  idOf: (item: T) => string;
  startOf: (item: T) => bigint;
  /** Of two copies of one item read in two slices (a call whose two records start in each), the one to keep. */
  prefer?: (kept: T, other: T) => T;
  pageSize?: number;
  maxItems?: number;
  maxRequests?: number;
}

export interface BackfillResult<T> {
  /** Oldest first. */
  items: T[];
  /** Older items of the window left out: exactly, or at least, when `skippedAtLeast`. */
  skipped: number;
  skippedAtLeast: boolean;
  /** A slice could not be read whole (the collector's search budget, or a page of items at one instant): some may be missing. */
  incomplete: boolean;
  requests: number;
}

interface Slice {
  from: bigint;
  to: bigint | undefined;
}

const byStart = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/** Where to split a slice that came back full: the median start of what came back, else the middle of the slice. */
function splitPoint(slice: Slice, starts: bigint[], now: bigint): bigint | undefined {
  const inside = (x: bigint): boolean => x > slice.from && (slice.to === undefined || x < slice.to);
  const sorted = [...starts].sort(byStart);
  const median = sorted[Math.floor(sorted.length / 2)];
  if (median !== undefined && inside(median)) return median;
  if (slice.to === undefined) {
    const newest = sorted.length > 0 ? sorted[sorted.length - 1] + 1n : now;
    return newest > slice.from ? newest : undefined;
  }
  return slice.to - slice.from > 1n ? slice.from + (slice.to - slice.from) / 2n : undefined;
}

export async function readBackfill<T>(source: BackfillSource<T>): Promise<BackfillResult<T>> {
  const pageSize = source.pageSize ?? MAX_LIST_LIMIT;
  const maxItems = source.maxItems ?? MAX_BACKFILL_ITEMS;
  const maxRequests = source.maxRequests ?? MAX_BACKFILL_REQUESTS;
  // Newest first as read; reversed at the end.
  const kept = new Map<string, T>();
  // Slices not read yet, contiguous, the newest last: everything read so far is newer than all of them.
  const pending: Slice[] = [{ from: source.since, to: undefined }];
  let requests = 0;
  let incomplete = false;
  let skipped = 0;
  let skippedAtLeast = false;

  while (pending.length > 0 && kept.size < maxItems) {
    // What is left is counted below, as skipped.
    if (requests >= maxRequests) break;
    const slice = pending.pop()!;
    requests++;
    const page = await source.page(slice.from, slice.to, pageSize);
    if (page.items.length >= pageSize || page.truncated) {
      const mid = splitPoint(slice, page.items.map(source.startOf), source.now);
      if (mid !== undefined) {
        pending.push({ from: slice.from, to: mid }, { from: mid, to: slice.to });
        continue;
      }
      incomplete = true;
    }
    // Newest start first, so that a full window keeps its newest items (ties: newest stored first, as given).
    const items = [...page.items].sort((a, b) => byStart(source.startOf(b), source.startOf(a)));
    for (const item of items) {
      const id = source.idOf(item);
      const have = kept.get(id);
      if (have !== undefined) kept.set(id, source.prefer ? source.prefer(have, item) : have);
      else if (kept.size < maxItems) kept.set(id, item);
      else skipped++;
    }
  }

  if (pending.length > 0) {
    // The window's older part was not read: count what it holds, up to a page.
    const to = pending[pending.length - 1].to;
    requests++;
    const rest = await source.page(source.since, to, pageSize);
    skipped += rest.items.filter((item) => !kept.has(source.idOf(item))).length;
    skippedAtLeast = rest.items.length >= pageSize || rest.truncated;
  }
  const items = [...kept.values()].reverse();
  // Stable: items that start at the same instant stay in the order they were stored.
  items.sort((a, b) => byStart(source.startOf(a), source.startOf(b)));
  return { items, skipped, skippedAtLeast, incomplete, requests };
}

/** An answer of the API other than 200: its status and error, when it gave one. */
export class ApiAnswerError extends Error {
  readonly status: number;
  readonly error: { code: string; message: string; position?: { offset: number; line: number; column: number } } | undefined;
  /** How far the user's filter moved right in the filter sent. */
  readonly shift: number;
  constructor(status: number, error: ApiAnswerError['error'], shift: number) {
    super(`the collector answered ${status}${error ? `: ${error.message}` : ''}`);
    this.status = status;
    this.error = error;
    this.shift = shift;
  }
}

export interface CallsPageOptions {
  /** The API's base URL, ending in `/`. */
  apiBase: string;
  authorization: string | undefined;
  /** `call`: joined calls (`view=call`); `record`: the records as stored. */
  view: 'call' | 'record';
  /** The stream's filter (namespace clause and the user's filter), or undefined for none. */
  filter: string | undefined;
  signal: AbortSignal;
}

/** Reads one slice from `GET /api/calls`; an answer other than 200 throws an `ApiAnswerError`. */
export function callsPageReader<T>(options: CallsPageOptions): BackfillSource<T>['page'] {
  return async (from, to, limit) => {
    const url = new URL('api/calls', options.apiBase);
    if (options.view === 'call') url.searchParams.set('view', 'call');
    url.searchParams.set('since', from.toString());
    url.searchParams.set('limit', String(limit));
    const { filter, shift } = sliceFilter(options.filter, to);
    if (filter !== undefined) url.searchParams.set('filter', filter);
    const res = await fetch(url, { headers: options.authorization ? { authorization: options.authorization } : {}, signal: options.signal });
    if (res.status !== 200) {
      const text = await res.text().catch(() => '');
      let error: ApiAnswerError['error'];
      try {
        error = (JSON.parse(text) as { error?: ApiAnswerError['error'] }).error;
      } catch {
        error = undefined;
      }
      throw new ApiAnswerError(res.status, error, shift);
    }
    const body = (await res.json()) as { calls?: T[]; truncated?: boolean };
    return { items: body.calls ?? [], truncated: body.truncated === true };
  };
}
