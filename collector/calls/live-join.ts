/**
 * Joining a live stream of records into calls, for `meshtap tap`: a call is emitted once, as
 * soon as both observations are in; a record whose hop was not meshed (`tls.mesh` false: an
 * unmeshed peer, no partner will come) is emitted at once; a meshed record waits up to `waitMs`
 * for its partner (the two sidecars ship independently), then asks `lookup` for it (it may
 * have been stored without matching the stream's filter) and is emitted with what there is.
 * Timers are injected so that tests drive time.
 */
import type { CallRecordJson } from '../../record/record-json.ts';
import { buildCall, callKey, createJoiner, isPartner, partnerId, type JoinedCall } from './join.ts';

/** How many emitted record ids are remembered to ignore re-sends. */
export const REMEMBERED_IDS = 100_000;

export interface LiveJoinDeps {
  waitMs: number;
  emit: (call: JoinedCall) => void;
  /** The partner record by id, or undefined (not stored, not visible, or the lookup failed). */
  lookup?: (id: string) => Promise<CallRecordJson | undefined>;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export interface LiveJoiner {
  add(record: CallRecordJson): void;
  /** Calls still waiting for a partner. */
  pending(): number;
  /** Emits every waiting call as it stands (no lookup), e.g. on Ctrl-C. */
  flush(): void;
  /** Resolves once no partner lookup is in flight. */
  idle(): Promise<void>;
  /** Forgets every waiting call without emitting it (the output went away); lookups in flight emit nothing. */
  stop(): void;
}

export function createLiveJoiner(deps: LiveJoinDeps): LiveJoiner {
  const joiner = createJoiner();
  const setTimer = deps.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
  const clearTimer = deps.clearTimer ?? ((h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>));
  const waiting = new Map<string, { timer: unknown; call: JoinedCall }>();
  const inFlight = new Set<Promise<void>>();
  // Ids of records already emitted (insertion-ordered, the oldest evicted): a re-sent one stays quiet.
  const emitted = new Set<string>();
  let stopped = false;

  const done = (call: JoinedCall): void => {
    if (stopped) return;
    joiner.forget(call.id);
    for (const r of [call.client, call.server]) {
      if (r === undefined) continue;
      emitted.add(r.id);
      if (emitted.size > REMEMBERED_IDS) emitted.delete(emitted.values().next().value!);
    }
    deps.emit(call);
  };

  const expire = (callId: string): void => {
    const entry = waiting.get(callId);
    if (entry === undefined) return;
    const have = (entry.call.client ?? entry.call.server)!;
    // A clashing record's call (`…#id`) is not the exchange its partner belongs to.
    if (deps.lookup === undefined || callId !== callKey(have)) {
      waiting.delete(callId);
      done(entry.call);
      return;
    }
    const lookup = deps.lookup;
    const p = (async () => {
      let partner: CallRecordJson | undefined;
      try {
        partner = await lookup(partnerId(have));
      } catch {
        partner = undefined;
      }
      // Emitted meanwhile (the partner arrived on the stream, or a flush).
      if (waiting.get(callId) !== entry) return;
      waiting.delete(callId);
      if (partner !== undefined && isPartner(have, partner)) {
        done(have.observer === 'outbound' ? buildCall(callId, have, partner) : buildCall(callId, partner, have));
      } else {
        done(entry.call);
      }
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  return {
    add(record) {
      if (stopped || emitted.has(record.id)) return;
      const outcome = joiner.add(record);
      if (!outcome.added) return;
      const { call } = outcome;
      const held = waiting.get(call.id);
      if (call.one_sided === undefined) {
        if (held !== undefined) {
          clearTimer(held.timer);
          waiting.delete(call.id);
        }
        done(call);
        return;
      }
      if (!record.tls.mesh) {
        done(call);
        return;
      }
      waiting.set(call.id, { call, timer: setTimer(() => expire(call.id), deps.waitMs) });
    },
    pending: () => waiting.size,
    flush() {
      for (const [id, entry] of [...waiting]) {
        clearTimer(entry.timer);
        waiting.delete(id);
        done(entry.call);
      }
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    stop() {
      stopped = true;
      for (const entry of waiting.values()) clearTimer(entry.timer);
      waiting.clear();
    },
  };
}
