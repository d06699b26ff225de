// The live call list behind the stream view: the newest calls matching the current filter,
// fed by one list request and then the server's event stream. Kept outside the components so
// it survives navigating to a call and back. Network and scheduling are injected.
//
// The feed holds records (observations). In the call view (`view: 'call'`, one row per call)
// the list is asked for calls (`view=call`: a call whose client or server record matched, with
// both records) and each is kept as its records, so a meshed call has both sides even when the
// filter matches one; a live record whose partner did not arrive is looked up the same way a
// moment later (the partner may not match the filter, so the stream never sends it), and the
// partner is put next to it. In the record view the list and the stream are the matching
// records only.

import { callKey } from './call-rows.js';

/**
 * @typedef {import('./types.js').CallJson} CallJson
 * @typedef {'connecting' | 'live' | 'reconnecting' | 'error'} FeedStatus
 * @typedef {{ calls: CallJson[], pending: number, paused: boolean, filter: string, status: FeedStatus,
 *   error?: string, version: number }} FeedState
 *   `pending`: what a paused feed holds back, in rows of its view (calls, or records)
 * @typedef {{ onCall: (call: CallJson) => void, onOpen: () => void, onError: () => void, onUnauthenticated: (message: string) => void }} StreamHandlers
 *   `onUnauthenticated`: the collector refused the stream with a 401 (the session ended under the
 *   page); `message` says so
 * @typedef {'call' | 'record'} FeedView
 * @typedef {{ ok: true, value: any } | { ok: false, error: { message: string } }} ListResult
 * @typedef {{
 *   list: (filter: string, view: FeedView) => Promise<ListResult>,
 *   stream: (filter: string, handlers: StreamHandlers) => { close: () => void },
 *   lookup?: (recordIds: string[]) => Promise<ListResult>,
 *   schedule?: (fn: () => void) => void,
 *   delay?: (fn: () => void, ms: number) => unknown,
 *   cancel?: (timer: any) => void,
 *   capacity?: number,
 *   view?: FeedView,
 * }} FeedDeps
 *   `lookup`: the calls (`view=call`) of the given record ids, for live records whose partner
 *   has not arrived; `view`: what the list holds at first
 */

/** Enough for a busy minute of a small cluster; the table renders only what is on screen. */
export const DEFAULT_CAPACITY = 20_000;
/** The most records a paused feed holds back; beyond that the oldest held are dropped. */
const MAX_PENDING = 50_000;
/**
 * When a live record still without its partner is looked up, after it arrived: the partner
 * usually comes on the stream within the first (when it matches the filter too), and the other
 * sidecar may ship a little later than this one.
 */
export const LOOKUP_DELAYS_MS = [1000, 5000];
/** Record ids per lookup request; a busier feed drops the oldest waiting beyond a few requests. */
const LOOKUP_BATCH = 50;
const MAX_AWAITING = 4 * LOOKUP_BATCH;

/**
 * The records of a list or lookup item: a joined call (`view=call`) is its one or two
 * observations, the client's first; a record is itself.
 * @param {any} item
 * @returns {CallJson[]}
 */
export function recordsOf(item) {
  if (!item || typeof item !== 'object') return [];
  const isRecord = (/** @type {any} */ r) => r && typeof r === 'object' && typeof r.id === 'string';
  if (isRecord(item.client) || isRecord(item.server)) return [item.client, item.server].filter(isRecord);
  return [item];
}

/**
 * The id the other side's sidecar gives the same exchange (`<connection_id>-o|i<ordinal>`).
 * @param {CallJson} r
 */
const partnerIdOf = (r) => `${r.connection_id}-${r.observer === 'inbound' ? 'o' : 'i'}${r.ordinal ?? 0}`;

/**
 * @param {FeedDeps} deps
 */
export function createCallFeed(deps) {
  const capacity = deps.capacity ?? DEFAULT_CAPACITY;
  const schedule = deps.schedule ?? ((fn) => requestAnimationFrame(fn));
  const delay = deps.delay ?? ((fn, ms) => setTimeout(fn, ms));
  const cancel = deps.cancel ?? ((timer) => clearTimeout(timer));
  /** @type {FeedView} */
  let view = deps.view ?? 'call';
  /** Live records waiting for their partner's lookup, per attempt (index into LOOKUP_DELAYS_MS). */
  /** @type {Array<Map<string, CallJson>>} */
  let awaiting = LOOKUP_DELAYS_MS.map(() => new Map());
  /** @type {unknown[]} */
  let lookupTimers = [];
  /** @type {FeedState} */
  let state = { calls: [], pending: 0, paused: false, filter: '', status: 'connecting', version: 0 };
  /** @type {Set<string>} */
  let ids = new Set();
  /** Arrived, not yet shown: in arrival order (oldest first). */
  /** @type {CallJson[]} */
  let incoming = [];
  /** @type {CallJson[]} */
  let held = [];
  /** The rows the held records will add (row keys: see `rowKey`), and the list they were counted against. */
  let heldRows = new Set();
  /** @type {CallJson[] | undefined} */
  let countedFor;
  let listedRows = new Set();
  let flushScheduled = false;
  let generation = 0;
  /** @type {{ close: () => void } | undefined} */
  let stream;
  /** @type {Set<(s: FeedState) => void>} */
  const listeners = new Set();

  /** @param {Partial<FeedState>} patch */
  function set(patch) {
    state = { ...state, ...patch, version: state.version + 1 };
    for (const l of listeners) l(state);
  }

  /** @param {CallJson[]} arrived oldest first */
  function prepend(arrived) {
    const fresh = [];
    for (let i = arrived.length - 1; i >= 0; i--) {
      const c = arrived[i];
      if (!c || typeof c.id !== 'string' || ids.has(c.id)) continue;
      ids.add(c.id);
      fresh.push(c);
    }
    if (fresh.length === 0) return 0;
    let calls = fresh.concat(state.calls);
    if (calls.length > capacity) {
      for (const dropped of calls.slice(capacity)) ids.delete(dropped.id);
      calls = calls.slice(0, capacity);
    }
    set({ calls });
    return fresh.length;
  }

  /** A record's row: its call's (both records of a call are one row), or its own. */
  const rowKey = (/** @type {CallJson} */ r) => (view === 'call' ? callKey(r) : r.id);

  /**
   * How many rows a resume will add: the held records' rows that are not listed (a record of a
   * listed call moves that call's row up, it adds none).
   * @param {CallJson[]} arrived the records just held; all of them are counted afresh when the
   *   list changed or `afresh`
   */
  function countHeld(arrived, afresh = false) {
    if (countedFor !== state.calls) {
      countedFor = state.calls;
      listedRows = new Set(state.calls.map(rowKey));
      afresh = true;
    }
    if (afresh) heldRows = new Set();
    for (const r of afresh ? held : arrived) if (r && typeof r.id === 'string' && !listedRows.has(rowKey(r))) heldRows.add(rowKey(r));
    return heldRows.size;
  }

  /** Whether a record with this id is shown or held. */
  function known(/** @type {string} */ id) {
    return ids.has(id) || held.some((c) => c.id === id);
  }

  /**
   * Puts each record right after its partner (keyed by the partner's id), in the list and in
   * what a pause holds: the call's row stays where it is.
   * @param {Map<string, CallJson>} bySibling
   */
  function attach(bySibling) {
    /** @type {CallJson[]} */
    const inserted = [];
    /** @param {CallJson[]} list @param {CallJson[]} [into] */
    const insert = (list, into) => {
      if (bySibling.size === 0) return list;
      /** @type {CallJson[]} */
      const out = [];
      for (const c of list) {
        out.push(c);
        const partner = bySibling.get(c.id);
        if (partner !== undefined) {
          bySibling.delete(c.id);
          out.push(partner);
          into?.push(partner);
        }
      }
      return out;
    };
    let calls = insert(state.calls, inserted);
    const heldBefore = held.length;
    held = insert(held);
    if (inserted.length > 0) {
      for (const c of inserted) ids.add(c.id);
      if (calls.length > capacity) {
        for (const dropped of calls.slice(capacity)) ids.delete(dropped.id);
        calls = calls.slice(0, capacity);
      }
      set({ calls });
    }
    if (held.length !== heldBefore) set({ pending: countHeld([], true) });
  }

  /** @param {CallJson} record @param {number} attempt */
  function awaitPartner(record, attempt) {
    const mine = generation;
    const waiting = awaiting[attempt];
    waiting.set(record.id, record);
    if (waiting.size > MAX_AWAITING) waiting.delete(waiting.keys().next().value ?? '');
    if (lookupTimers[attempt] !== undefined) return;
    lookupTimers[attempt] = delay(() => {
      lookupTimers[attempt] = undefined;
      if (mine !== generation) return;
      void lookUp(attempt);
    }, LOOKUP_DELAYS_MS[attempt] - (attempt > 0 ? LOOKUP_DELAYS_MS[attempt - 1] : 0));
  }

  /** @param {number} attempt */
  async function lookUp(attempt) {
    const mine = generation;
    const batch = [...awaiting[attempt].values()].filter((r) => !known(partnerIdOf(r)) && known(r.id));
    awaiting[attempt] = new Map();
    for (let i = 0; i < batch.length; i += LOOKUP_BATCH) {
      const chunk = batch.slice(i, i + LOOKUP_BATCH);
      let result;
      try {
        result = await /** @type {NonNullable<FeedDeps['lookup']>} */ (deps.lookup)(chunk.map((r) => r.id));
      } catch {
        result = undefined;
      }
      if (mine !== generation) return;
      /** @type {Map<string, CallJson>} */
      const bySibling = new Map();
      const found = new Set();
      for (const item of result?.ok && Array.isArray(result.value?.calls) ? result.value.calls : []) {
        const records = recordsOf(item);
        if (records.length !== 2) continue;
        const [a, b] = records;
        if (known(a.id) && !known(b.id)) bySibling.set(a.id, b);
        else if (known(b.id) && !known(a.id)) bySibling.set(b.id, a);
        found.add(a.id).add(b.id);
      }
      attach(bySibling);
      // Not stored yet (the other sidecar ships later) or an unmeshed peer: once more, later.
      if (attempt + 1 < LOOKUP_DELAYS_MS.length) for (const r of chunk) if (!found.has(r.id)) awaitPartner(r, attempt + 1);
    }
  }

  /** A live record in the call view under a filter: its partner may never come on the stream. */
  function watchPartners(/** @type {CallJson[]} */ arrived) {
    if (view !== 'call' || state.filter === '' || deps.lookup === undefined) return;
    for (const c of arrived) if (c && typeof c.id === 'string' && typeof c.connection_id === 'string') awaitPartner(c, 0);
  }

  function flush() {
    flushScheduled = false;
    const arrived = incoming;
    incoming = [];
    watchPartners(arrived);
    if (state.paused) {
      held = held.concat(arrived);
      const trimmed = held.length > MAX_PENDING;
      if (trimmed) held = held.slice(held.length - MAX_PENDING);
      set({ pending: countHeld(arrived, trimmed) });
    } else {
      prepend(arrived);
    }
  }

  /**
   * Stops listing and streaming and shows `error` instead of the calls.
   * @param {string} error
   */
  function stop(error) {
    generation++;
    for (const timer of lookupTimers) if (timer !== undefined) cancel(timer);
    lookupTimers = [];
    stream?.close();
    stream = undefined;
    ids = new Set();
    held = [];
    heldRows = new Set();
    set({ calls: [], pending: 0, status: 'error', error });
  }

  /** @param {string} filter */
  async function start(filter) {
    const mine = ++generation;
    stream?.close();
    incoming = [];
    held = [];
    heldRows = new Set();
    ids = new Set();
    for (const timer of lookupTimers) if (timer !== undefined) cancel(timer);
    lookupTimers = [];
    awaiting = LOOKUP_DELAYS_MS.map(() => new Map());
    set({ calls: [], pending: 0, filter, status: 'connecting', error: undefined });
    let listed = false;
    /** @type {CallJson[]} */
    const early = [];
    // Open the stream first and hold its events until the list is in: nothing that arrives
    // between the two requests is missed, and duplicates are dropped by id.
    stream = deps.stream(filter, {
      onCall(call) {
        if (mine !== generation) return;
        if (!listed) {
          early.push(call);
          return;
        }
        incoming.push(call);
        if (!flushScheduled) {
          flushScheduled = true;
          schedule(flush);
        }
      },
      onOpen() {
        if (mine === generation && listed) set({ status: 'live', error: undefined });
      },
      onError() {
        // A list that failed (not signed in, a bad filter) keeps its message: the stream's own
        // failure, which may come after it, is not news.
        if (mine === generation && state.status !== 'error') set({ status: 'reconnecting' });
      },
      onUnauthenticated(message) {
        // Signed out under the page: "reconnecting" would never end. The calls go, as on Sign out.
        if (mine === generation) stop(message);
      },
    });
    const result = await deps.list(filter, view);
    if (mine !== generation) return;
    listed = true;
    if (!result.ok) {
      // Not signed in: the stream would only be refused again, every few seconds.
      if (/** @type {{ status?: number }} */ (result).status === 401) {
        stream?.close();
        stream = undefined;
      }
      set({ status: 'error', error: result.error.message });
      return;
    }
    const calls = Array.isArray(result.value?.calls) ? result.value.calls : [];
    // The list is newest first (a call's records together); prepend wants oldest first.
    prepend(calls.flatMap(recordsOf).reverse());
    prepend(early);
    watchPartners(early);
    set({ status: 'live' });
  }

  return {
    /** @returns {FeedState} */
    get state() {
      return state;
    },
    /** @param {(s: FeedState) => void} fn */
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    /** @returns {FeedView} */
    get view() {
      return view;
    },
    /**
     * Lists calls (`call`: both records of a call either of whose records matched) or only the
     * matching records (`record`); a change reloads the list.
     * @param {FeedView} next
     */
    setView(next) {
      if (next === view) return Promise.resolve();
      view = next;
      return generation > 0 ? start(state.filter) : Promise.resolve();
    },
    /** Applies a filter (also the first start). Same filter again: no-op unless `force`. */
    /** @param {string} filter @param {{ force?: boolean }} [options] */
    setFilter(filter, options = {}) {
      if (!options.force && filter === state.filter && generation > 0) return Promise.resolve();
      return start(filter);
    },
    pause() {
      if (!state.paused) set({ paused: true });
    },
    resume() {
      if (!state.paused) return;
      const release = held;
      held = [];
      heldRows = new Set();
      set({ paused: false, pending: 0 });
      prepend(release);
    },
    clear() {
      ids = new Set();
      held = [];
      heldRows = new Set();
      set({ calls: [], pending: 0 });
    },
    /**
     * Stops listing and streaming and shows `error` instead of the calls (signed out: what a
     * 401 shows); the next `setFilter` starts again.
     */
    stop,
    close() {
      generation++;
      for (const timer of lookupTimers) if (timer !== undefined) cancel(timer);
      lookupTimers = [];
      stream?.close();
      stream = undefined;
    },
  };
}
