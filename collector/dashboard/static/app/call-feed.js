// The live call list behind the stream view: the newest calls matching the current filter,
// fed by one list request and then the server's event stream. Kept outside the components so
// it survives navigating to a call and back. Network and scheduling are injected.

/**
 * @typedef {import('./types.js').CallJson} CallJson
 * @typedef {'connecting' | 'live' | 'reconnecting' | 'error'} FeedStatus
 * @typedef {{ calls: CallJson[], pending: number, paused: boolean, filter: string, status: FeedStatus,
 *   error?: string, version: number, added: number }} FeedState
 * @typedef {{ onCall: (call: CallJson) => void, onOpen: () => void, onError: () => void, close: () => void }} StreamHandle
 * @typedef {{
 *   list: (filter: string) => Promise<{ ok: true, value: any } | { ok: false, error: { message: string } }>,
 *   stream: (filter: string, handlers: { onCall: (call: CallJson) => void, onOpen: () => void, onError: () => void }) => { close: () => void },
 *   schedule?: (fn: () => void) => void,
 *   capacity?: number,
 * }} FeedDeps
 */

/** Enough for a busy minute of a small cluster; the table renders only what is on screen. */
export const DEFAULT_CAPACITY = 20_000;
/** The most a paused feed holds back; beyond that the oldest held calls are dropped. */
const MAX_PENDING = 50_000;

/**
 * @param {FeedDeps} deps
 */
export function createCallFeed(deps) {
  const capacity = deps.capacity ?? DEFAULT_CAPACITY;
  const schedule = deps.schedule ?? ((fn) => requestAnimationFrame(fn));
  /** @type {FeedState} */
  let state = { calls: [], pending: 0, paused: false, filter: '', status: 'connecting', version: 0, added: 0 };
  /** @type {Set<string>} */
  let ids = new Set();
  /** Arrived, not yet shown: in arrival order (oldest first). */
  /** @type {CallJson[]} */
  let incoming = [];
  /** @type {CallJson[]} */
  let held = [];
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
    set({ calls, added: fresh.length });
    return fresh.length;
  }

  function flush() {
    flushScheduled = false;
    const arrived = incoming;
    incoming = [];
    if (state.paused) {
      held = held.concat(arrived);
      if (held.length > MAX_PENDING) held = held.slice(held.length - MAX_PENDING);
      set({ pending: held.length, added: 0 });
    } else {
      prepend(arrived);
    }
  }

  /** @param {string} filter */
  async function start(filter) {
    const mine = ++generation;
    stream?.close();
    incoming = [];
    held = [];
    ids = new Set();
    set({ calls: [], pending: 0, filter, status: 'connecting', error: undefined, added: 0 });
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
        if (mine === generation && listed) set({ status: 'live', error: undefined, added: 0 });
      },
      onError() {
        if (mine === generation) set({ status: 'reconnecting', added: 0 });
      },
    });
    const result = await deps.list(filter);
    if (mine !== generation) return;
    listed = true;
    if (!result.ok) {
      set({ status: 'error', error: result.error.message, added: 0 });
      return;
    }
    const calls = Array.isArray(result.value?.calls) ? result.value.calls : [];
    // The list is newest first; prepend wants oldest first.
    prepend([...calls].reverse());
    prepend(early);
    set({ status: 'live', added: 0 });
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
    /** Applies a filter (also the first start). Same filter again: no-op unless `force`. */
    /** @param {string} filter @param {{ force?: boolean }} [options] */
    setFilter(filter, options = {}) {
      if (!options.force && filter === state.filter && generation > 0) return Promise.resolve();
      return start(filter);
    },
    pause() {
      if (!state.paused) set({ paused: true, added: 0 });
    },
    resume() {
      if (!state.paused) return;
      const release = held;
      held = [];
      set({ paused: false, pending: 0, added: 0 });
      prepend(release);
    },
    clear() {
      ids = new Set();
      held = [];
      set({ calls: [], pending: 0, added: 0 });
    },
    close() {
      generation++;
      stream?.close();
      stream = undefined;
    },
  };
}
