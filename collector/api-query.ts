/**
 * The HTTP API's query parameters: which each route takes, and reading `limit`, `since` and `until`.
 * Pure: a bad value is a message for a 400 `COL_ERR_BAD_QUERY`, never a throw.
 *
 * A parameter a route does not take is refused rather than ignored (`?fitler=…` would
 * otherwise answer every call, as if the filter matched), and so is a parameter given twice.
 */

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

export type QueryResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** The query parameters each API route takes (routes as registered). */
export const ROUTE_QUERY_PARAMS: Readonly<Record<string, readonly string[]>> = {
  '/api/calls': ['view', 'limit', 'since', 'until', 'filter'],
  '/api/har': ['limit', 'since', 'until', 'filter'],
  '/api/calls/:id': ['view'],
  '/api/stream': ['filter'],
  '/api/servicemap': ['since', 'until'],
  '/api/offenders': ['since', 'until', 'limit', 'by'],
  '/api/coverage': ['since', 'until'],
  '/api/traces/:traceId': [],
  '/api/session': [],
};

/**
 * Undefined when `query` holds only parameters `route` takes, each once; else why not. Routes
 * not in the table are not checked (the dashboard's files, health, metrics, MCP).
 */
export function queryProblem(route: string, query: Record<string, unknown>): string | undefined {
  const accepted = ROUTE_QUERY_PARAMS[route];
  if (accepted === undefined) return undefined;
  for (const [name, value] of Object.entries(query)) {
    if (!accepted.includes(name)) {
      const takes = accepted.length === 0 ? 'takes no query parameters' : `takes ${accepted.join(', ')}`;
      return `unknown query parameter ${JSON.stringify(name)}: ${route} ${takes}`;
    }
    if (Array.isArray(value)) {
      const how = name === 'filter' ? 'give it once, combining conditions with && or ||' : 'give it once';
      return `${name} was given ${value.length} times: ${how} (${route} takes ${accepted.join(', ')}, each once)`;
    }
  }
  return undefined;
}

/**
 * Undefined when the query part of `url` is valid percent-encoding; else which parameter is not.
 * (The router's parser keeps a value with a bad escape as it came, so a filter with `%zz` in it
 * would reach the compiler as text the user never wrote.)
 */
export function encodingProblem(url: string): string | undefined {
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    for (const part of eq === -1 ? [pair] : [name, pair.slice(eq + 1)]) {
      try {
        decodeURIComponent(part.replace(/\+/g, ' '));
      } catch {
        let shown = name;
        try {
          shown = decodeURIComponent(name);
        } catch {
          // the name itself is badly encoded: shown as it came
        }
        return `the query parameter ${JSON.stringify(shown)} is not valid URL encoding (each % must start a UTF-8 byte as two hex digits, %25 for a % itself)`;
      }
    }
  }
  return undefined;
}

/** A parameter's value as text (a repeated one was refused before the route ran). */
export function paramText(raw: unknown): string {
  return Array.isArray(raw) ? String(raw[0]) : String(raw);
}

export function parseLimit(raw: unknown, max = MAX_LIST_LIMIT, fallback = DEFAULT_LIST_LIMIT): QueryResult<number> {
  if (raw === undefined) return { ok: true, value: fallback };
  const text = paramText(raw);
  if (!/^\d{1,7}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    return { ok: false, message: `limit must be an integer from 1 to ${max}, got ${JSON.stringify(text)}` };
  }
  return { ok: true, value: Number(text) };
}

const UNIT_NS: Record<string, bigint> = {
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
};

/** The last nanosecond a record's time (a signed 64-bit number) can hold: 2262-04-11T23:47:16Z. */
const MAX_NS = 2n ** 63n - 1n;

const TIME_FORMS = 'nanoseconds since the epoch, an RFC 3339 timestamp or a duration like 5m (ms, s, m, h, d)';

/**
 * Why a date and time without `Z` or an offset is refused, after the name of what was given
 * (`since`, `--since`): which instant it means depends on a zone the text does not name. Shared
 * by the API and `meshtap tap --since`, so both say the same.
 */
export function zonelessTimeText(text: string): string {
  return `${JSON.stringify(text)} is a date and time without a zone: add Z (UTC) or an offset such as +01:00, like ${text}Z`;
}

/**
 * `since`: nanoseconds since the epoch (digits), an RFC 3339 timestamp
 * (`2025-11-27T10:00:00Z`, `…+01:00`, fractions of any length, kept to the nanosecond, `:60` for a leap second), or a
 * duration back from now (`500ms`, `30s`, `5m`, `2h`, `1d`). A time before 1970 (a duration
 * longer than the time since then) means from the first record: 0. A calendar date that does
 * not exist (`2026-02-30`) and a time past what a record's time can hold are refused.
 */
export function parseSince(raw: unknown, now: bigint): QueryResult<bigint | undefined> {
  return parseTimeParam('since', raw, now);
}

/**
 * `until`: in the forms `since` takes, the end of a window (exclusive: calls that started before
 * it). With `since`, it must come after it: an empty window is a mistake, not a question.
 */
export function parseUntil(raw: unknown, now: bigint, since: bigint | undefined): QueryResult<bigint | undefined> {
  const until = parseTimeParam('until', raw, now);
  if (!until.ok || until.value === undefined || since === undefined || until.value > since) return until;
  return { ok: false, message: `until must be after since (the window is from since up to, not including, until), got until ${JSON.stringify(paramText(raw))}` };
}

function parseTimeParam(name: 'since' | 'until', raw: unknown, now: bigint): QueryResult<bigint | undefined> {
  if (raw === undefined) return { ok: true, value: undefined };
  const text = paramText(raw);
  if (/^\d{1,19}$/.test(text)) return inRange(name, BigInt(text), text);
  const relative = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text);
  if (relative) return inRange(name, now - BigInt(relative[1]) * UNIT_NS[relative[2]], text);
  const time = parseRfc3339(text);
  if (time === 'shape') return { ok: false, message: `${name} must be ${TIME_FORMS}, got ${JSON.stringify(text)}` };
  if (time === 'no-zone') return { ok: false, message: `${name} ${zonelessTimeText(text)}` };
  if (time === 'not-real') return { ok: false, message: `${name} is not a real date and time: ${JSON.stringify(text)}` };
  return inRange(name, time, text);
}

/**
 * An RFC 3339 time (`2025-11-27T10:00:00Z`, `…+01:00`, fractions of any length, kept to the nanosecond, `:60` for a
 * leap second) in ns since the epoch (negative before 1970); `no-zone` for a date and time
 * without `Z` or an offset, `shape` when the text is not one otherwise, `not-real` for a calendar
 * date or a time of day that does not exist.
 */
export function parseRfc3339(text: string): bigint | 'shape' | 'no-zone' | 'not-real' {
  const rfc = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))?$/i.exec(text);
  if (!rfc) return 'shape';
  if (rfc[8] === undefined && rfc[9] === undefined) return 'no-zone';
  const [year, month, day, hour, minute, second] = rfc.slice(1, 7).map(Number);
  const offsetHours = rfc[8] === undefined ? Number(rfc[10]) : 0;
  const offsetMinutes = rfc[8] === undefined ? Number(rfc[11]) : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  const realDay = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  if (!realDay || hour > 23 || minute > 59 || second > 60 || offsetHours > 23 || offsetMinutes > 59) return 'not-real';
  const sign = rfc[9] === '-' ? -1n : 1n;
  const offsetS = sign * BigInt(offsetHours * 3600 + offsetMinutes * 60);
  // A leap second (:60) is the instant the next minute starts, to the second.
  const seconds = BigInt(date.getTime() / 1000) + BigInt(hour * 3600 + minute * 60 + second) - offsetS;
  // RFC 3339 allows any number of fraction digits: past the nanosecond they are dropped.
  const fraction = BigInt((rfc[7] ?? '').slice(0, 9).padEnd(9, '0'));
  return seconds * 1_000_000_000n + fraction;
}

function inRange(name: string, ns: bigint, text: string): QueryResult<bigint> {
  if (ns > MAX_NS) return { ok: false, message: `${name} must be at most ${MAX_NS} ns (2262-04-11T23:47:16Z), got ${JSON.stringify(text)}` };
  return { ok: true, value: ns < 0n ? 0n : ns };
}
