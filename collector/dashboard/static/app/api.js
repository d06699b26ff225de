// The collector API as the page uses it. URLs are relative to the page, so the dashboard
// also works behind a path prefix.

/**
 * @typedef {import('./types.js').CallJson} CallJson
 * @typedef {{ code?: string, message: string, position?: { offset: number, line: number, column: number } }} ApiError
 * @typedef {{ ok: true, value: any } | { ok: false, status: number, error: ApiError }} ApiResult
 */

/**
 * @param {string} url
 * @param {AbortSignal} [signal]
 * @returns {Promise<ApiResult>}
 */
export async function getJson(url, signal) {
  const asked = epoch;
  let res;
  try {
    res = await fetch(url, { signal, headers: { accept: 'application/json' } });
  } catch (err) {
    if (/** @type {Error} */ (err).name === 'AbortError') throw err;
    return { ok: false, status: 0, error: { message: `collector unreachable: ${/** @type {Error} */ (err).message}` } };
  }
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (res.ok) {
    if (asked === epoch) answered = true;
    return { ok: true, value: body };
  }
  if (res.status === 401) return { ok: false, status: 401, error: { code: body?.error?.code, message: answered ? SESSION_ENDED : unauthenticated } };
  const error = body && typeof body === 'object' && body.error && typeof body.error.message === 'string' ? body.error : { message: `HTTP ${res.status}` };
  return { ok: false, status: res.status, error };
}

export const NOT_SIGNED_IN =
  'Not signed in: open the dashboard through its login link (meshtap lab status prints it; meshtap dashboard opens one in a cluster).';

export const LOGIN_LINK_REFUSED =
  'The login link is not valid (its token was refused): it may be mistyped or stale, or the collector\'s tokens changed. Open a fresh login link (meshtap lab status prints it; meshtap dashboard opens one in a cluster).';

export const SESSION_ENDED =
  'Signed out: the collector no longer accepts this page\'s session (it expired or was signed out in another tab, the collector restarted, or its token was revoked). Open a fresh login link to sign in again (meshtap lab status prints it; meshtap dashboard opens one in a cluster).';

/** What a 401 says: "not signed in", or why the login link just opened did not sign in. */
let unauthenticated = NOT_SIGNED_IN;
/**
 * Whether the collector has answered this page with data since the last sign-in or sign-out: a
 * 401 after that is a session that ended under the page, not one that never began.
 */
let answered = false;
/** Bumped by each sign-in and sign-out: an answer to a request asked before does not count. */
let epoch = 0;

/** A sign-in or sign-out starts afresh: until the collector answers, a 401 means "not signed in". */
function newEpoch() {
  epoch++;
  answered = false;
}

const LOGIN_FRAGMENT = /^#token=([^&]+)/;

/**
 * Whether a fragment is a login link's (`#token=…`): at load, or pasted into an open tab, where
 * only the fragment changes.
 * @param {string} hash
 */
export const isLoginFragment = (hash) => LOGIN_FRAGMENT.test(hash);

/**
 * The login link carries the API token in the URL fragment, which browsers never send to a
 * server or write to its logs. The page trades it once for an HttpOnly session cookie and takes
 * it out of the address bar and history.
 * @param {{ hash: string, pathname: string, search: string }} [loc]
 * @param {{ replaceState: (data: any, unused: string, url: string) => void }} [hist]
 * @returns {Promise<{ ok: boolean, message?: string }>}
 */
export async function loginFromFragment(loc = location, hist = history) {
  const m = LOGIN_FRAGMENT.exec(loc.hash);
  if (!m) return { ok: true };
  const token = decodeURIComponent(m[1]);
  hist.replaceState(null, '', `${loc.pathname}${loc.search}#/calls`);
  newEpoch();
  try {
    const res = await fetch('api/session', { method: 'POST', headers: { authorization: `Bearer ${token}` }, credentials: 'same-origin' });
    if (res.ok) {
      unauthenticated = NOT_SIGNED_IN;
      return { ok: true };
    }
    unauthenticated = res.status === 401 ? LOGIN_LINK_REFUSED : `Not signed in: the login link did not sign in (HTTP ${res.status} from the collector). Try the link again.`;
    return { ok: false, message: unauthenticated };
  } catch (err) {
    unauthenticated = `Not signed in: the login link could not reach the collector (${/** @type {Error} */ (err).message}). Try the link again.`;
    return { ok: false, message: unauthenticated };
  }
}

/**
 * Signs out: the collector ends the session and the live streams it opened, and clears the
 * cookie. Afterwards a 401 says "not signed in", as before any login link.
 * @returns {Promise<{ ok: boolean, message?: string }>}
 */
export async function signOut() {
  unauthenticated = NOT_SIGNED_IN;
  newEpoch();
  try {
    const res = await fetch('api/session', { method: 'DELETE', credentials: 'same-origin' });
    // What was asked while the DELETE was on its way may have been answered with data.
    newEpoch();
    return res.ok ? { ok: true } : { ok: false, message: `Sign-out failed: HTTP ${res.status} from the collector.` };
  } catch (err) {
    return { ok: false, message: `Sign-out failed: the collector could not be reached (${/** @type {Error} */ (err).message}).` };
  }
}

/**
 * How the collector sees this page: `{ viewer, all, auth, session }`, where `auth` is the
 * collector's auth mode (`none`: no token is needed) and `session` whether the page's session
 * cookie authenticated the request (not when a proxy in front adds a bearer token). A 401: a
 * token is needed and the page has no session.
 * @param {AbortSignal} [signal]
 */
export const getSession = (signal) => getJson('api/session', signal);

/**
 * Whether the page has a session to sign out of, from what `getSession` answered. Not with
 * `--auth none`, where signing out would end nothing (the API answers everyone), nor when a
 * proxy in front adds the credentials (`meshtap dashboard`): the API answers the next request
 * just the same. A 401 (a token is needed, none given yet) or no answer keeps Sign out.
 * @param {ApiResult} result
 */
export const offersSignOut = (result) => !(result.ok && (result.value?.auth === 'none' || result.value?.session === false));

/**
 * @param {Record<string, string | number | undefined>} params
 */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** @param {{ filter?: string, limit?: number, since?: string, view?: 'call' | 'record' }} p @param {AbortSignal} [signal] */
export const listCalls = (p, signal) => getJson(`api/calls${query(p)}`, signal);
/** @param {string} id @param {AbortSignal} [signal] */
export const getCall = (id, signal) => getJson(`api/calls/${encodeURIComponent(id)}`, signal);
/** @param {{ since?: string }} p @param {AbortSignal} [signal] */
export const getServiceMap = (p, signal) => getJson(`api/servicemap${query(p)}`, signal);
/** @param {{ since?: string, limit?: number, by?: string }} p @param {AbortSignal} [signal] */
export const getOffenders = (p, signal) => getJson(`api/offenders${query(p)}`, signal);
/** @param {string} traceId @param {AbortSignal} [signal] */
export const getTrace = (traceId, signal) => getJson(`api/traces/${encodeURIComponent(traceId)}`, signal);

/** The latest time a record can hold (2262-04-11): a list from then on reads nothing. */
const END_OF_TIME_NS = '9223372036854775807';

/**
 * Checks a filter the cheap way: the server compiles it (a filter that does not compile is a
 * 400 naming where) and lists from the end of time, so no record is read or evaluated. The API
 * has no check that answers 200 for a bad filter, so the browser still logs the 400 in its
 * console.
 * @param {string} filter
 * @param {AbortSignal} [signal]
 * @returns {Promise<{ ok: true } | { ok: false, error: ApiError, status: number }>}
 */
export async function checkFilter(filter, signal) {
  if (filter.trim() === '') return { ok: true };
  const r = await listCalls({ filter, limit: 1, since: END_OF_TIME_NS }, signal);
  return r.ok ? { ok: true } : r;
}

/** @param {string | undefined} filter */
export const streamUrl = (filter) => `api/stream${query({ filter })}`;

/**
 * The records of a trace, whatever envelope the API wraps them in.
 * @param {any} value
 * @returns {CallJson[]}
 */
export function traceRecords(value) {
  const list = Array.isArray(value) ? value : Array.isArray(value?.calls) ? value.calls : [];
  // Entries are `{ call, depth, parent_id? }`; the server's parent link rides along on the call.
  return list
    .map((/** @type {any} */ entry) => {
      if (entry && typeof entry === 'object' && entry.call && typeof entry.call === 'object') {
        return typeof entry.parent_id === 'string' ? { ...entry.call, parent_id: entry.parent_id } : entry.call;
      }
      return entry;
    })
    .filter((/** @type {any} */ c) => c && typeof c.id === 'string');
}
