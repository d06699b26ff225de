/**
 * Completing linked flows across hops: trace id aliases.
 *
 * A sidecar links its pod's outbound calls to the inbound call that caused them
 * (`sidecar/capture/flow-links.ts`): the outbound record carries that inbound call's trace id.
 * The next pod's sidecar sees the same hop from the server side, with no trace context in the
 * request, so its `inbound` record derives a different trace id (from the connection id and
 * ordinal), and the outbound calls *it* links carry that one. The two observations of the hop
 * are twins (same `connection_id` and `ordinal`, meshed), so the collector can tell:
 *
 * - an inbound record without header context whose outbound twin is known with another trace id
 *   takes the twin's;
 * - its own (derived) trace id becomes an alias of the twin's, so the records the next sidecar
 *   linked to it, stored or still to come, end up in the twin's trace. When the twin arrives
 *   after the inbound record, the alias is made then, and what is stored under the old id must
 *   be rewritten (the caller does it with the `rewrites` returned).
 *
 * An app may also start a trace of its own for the work a request without trace context caused
 * (its tracing SDK mints one): the sidecar then names the inbound call's trace on the outbound
 * record (`caused_by_trace_id`, set only when exactly one inbound call was in flight), and the
 * app's new trace becomes an alias of it.
 *
 * Every alias points from a later hop's trace to an earlier one's, so a flow ends in the trace
 * of its first hop whatever the order in which its records arrive.
 *
 * Aliases always join two roots (`resolve` of each side), so the map is a forest and chains
 * (multi-hop flows, any order of arrival) resolve to one id. Stored records hold roots: a record
 * is resolved on its way in, and each new alias comes with a rewrite of the old root.
 *
 * State is bounded by count and age (both tables), evictions counted: a collector replica sees
 * only the hops whose twins it received, so behind a load balancer a chain can stay split;
 * one collector (the lab, a small cluster) sees them all.
 */
import { Gauge, type Registry } from 'prom-client';
import type { CallRecord } from '../record/record.ts';
import type { TraceContextSource } from './otel/ids.ts';

export interface TraceLinksOptions {
  /** Most aliases kept (oldest dropped first). */
  maxAliases: number;
  /** An alias is dropped this long after it was made (ms). */
  aliasTtlMs: number;
  /** Most hops remembered while waiting for their twin. */
  maxExchanges: number;
  /** A hop's twin is waited for this long (ms). */
  exchangeTtlMs: number;
}

export const DEFAULT_TRACE_LINKS: Readonly<TraceLinksOptions> = Object.freeze({
  maxAliases: 100_000,
  aliasTtlMs: 30 * 60_000,
  maxExchanges: 200_000,
  exchangeTtlMs: 10 * 60_000,
});

export interface TraceLinkStats {
  /** Aliases held now. */
  aliases: number;
  /** Hops held now, waiting for (or holding) their twin. */
  exchanges: number;
  /** Aliases made (each one a rewrite of what was stored under the old id). */
  aliased: number;
  /** Inbound records that took their outbound twin's trace id on arrival. */
  adopted: number;
  /** Traces an app started for the work of an inbound call without context, joined to that call's trace. */
  new_trace_joined: number;
  /** Aliases dropped before their time because the table was full, or at their age. */
  aliases_evicted_full: number;
  aliases_evicted_age: number;
  /** Hops dropped because the table was full (the age bound is their normal end). */
  exchanges_evicted_full: number;
}

/** All of a stored trace `from` now belongs to trace `to`. */
export interface TraceRewrite {
  from: string;
  to: string;
}

export interface TraceLinks {
  /** The final trace id for `traceId` as far as is known now (itself when not aliased). */
  resolve(traceId: string): string;
  /**
   * Takes a record whose `trace_id` is already its derived one (see ingest.ts) and says which
   * trace it belongs to, and which stored traces must be rewritten as a consequence.
   */
  observe(record: CallRecord, source: TraceContextSource, nowMs: number): { traceId: string; rewrites: TraceRewrite[] };
  stats(): TraceLinkStats;
}

interface Alias {
  to: string;
  at: number;
}

interface Hop {
  /** The client side's trace id (as resolved when it arrived). */
  outbound?: string;
  /** The server side's own trace id, when it had no header context. */
  inbound?: string;
  at: number;
}

/** Longest alias chain followed: a chain longer than any real flow means something is wrong. */
const MAX_HOPS = 64;
/** Header contexts are the app's own: an inbound record that has one never follows its twin. */
const OWN_CONTEXT: ReadonlySet<TraceContextSource> = new Set(['traceparent', 'b3']);

export function createTraceLinks(options: Partial<TraceLinksOptions> = {}): TraceLinks {
  const o = { ...DEFAULT_TRACE_LINKS, ...options };
  const aliases = new Map<string, Alias>();
  const hops = new Map<string, Hop>();
  const counts = { aliased: 0, adopted: 0, new_trace_joined: 0, aliases_evicted_full: 0, aliases_evicted_age: 0, exchanges_evicted_full: 0 };

  const expire = (now: number): void => {
    // Both maps are in creation order, so the expired entries are at the front.
    for (const [key, alias] of aliases) {
      if (now - alias.at <= o.aliasTtlMs) break;
      aliases.delete(key);
      counts.aliases_evicted_age++;
    }
    for (const [key, hop] of hops) {
      if (now - hop.at <= o.exchangeTtlMs) break;
      hops.delete(key);
    }
  };

  const resolve = (traceId: string): string => {
    let current = traceId;
    for (let i = 0; i < MAX_HOPS; i++) {
      const next = aliases.get(current);
      if (next === undefined) return current;
      current = next.to;
    }
    return current;
  };

  /** Joins the trees of `from` and `to` (roots only, so no cycle can form). */
  const alias = (from: string, to: string, now: number): TraceRewrite[] => {
    const rootFrom = resolve(from);
    const rootTo = resolve(to);
    if (rootFrom === rootTo) return [];
    if (aliases.size >= o.maxAliases) {
      aliases.delete(aliases.keys().next().value!);
      counts.aliases_evicted_full++;
    }
    aliases.set(rootFrom, { to: rootTo, at: now });
    counts.aliased++;
    return [{ from: rootFrom, to: rootTo }];
  };

  const hopOf = (key: string, now: number): Hop => {
    let hop = hops.get(key);
    if (hop === undefined) {
      if (hops.size >= o.maxExchanges) {
        hops.delete(hops.keys().next().value!);
        counts.exchanges_evicted_full++;
      }
      hop = { at: now };
      hops.set(key, hop);
    }
    return hop;
  };

  return {
    resolve,
    observe(record, source, nowMs) {
      expire(nowMs);
      const own = record.trace_id ?? '';
      const causedBy = record.observer === 'outbound' && own !== '' ? record.caused_by_trace_id : undefined;
      const joined = causedBy !== undefined && causedBy !== own ? alias(own, causedBy, nowMs) : [];
      if (joined.length > 0) counts.new_trace_joined++;
      const traceId = resolve(own);
      // Only a meshed hop has twins: both sidecars share the connection id.
      if (!record.tls.mesh || record.connection_id === '' || own === '') return { traceId, rewrites: joined };
      const key = `${record.connection_id}\u0000${record.ordinal}`;
      if (record.observer === 'outbound') {
        const hop = hopOf(key, nowMs);
        hop.outbound = traceId;
        const rewrites = hop.inbound !== undefined ? alias(hop.inbound, traceId, nowMs) : [];
        return { traceId: resolve(traceId), rewrites: [...joined, ...rewrites] };
      }
      if (OWN_CONTEXT.has(source)) return { traceId, rewrites: joined };
      const hop = hopOf(key, nowMs);
      hop.inbound = own;
      if (hop.outbound === undefined) return { traceId, rewrites: joined };
      const before = resolve(own);
      const rewrites = alias(own, hop.outbound, nowMs);
      const final = resolve(own);
      if (final !== before) counts.adopted++;
      return { traceId: final, rewrites: [...joined, ...rewrites] };
    },
    stats: () => ({ aliases: aliases.size, exchanges: hops.size, ...counts }),
  };
}

/** `/metrics`: the tables' sizes and what they did, from `stats()` at scrape time. */
export function registerTraceLinkMetrics(registry: Registry, links: TraceLinks): void {
  new Gauge({
    name: 'meshtap_collector_trace_links',
    help: 'Trace links across hops: aliases and hops held now; aliased, adopted, new_trace_joined, aliases_evicted_full, aliases_evicted_age, exchanges_evicted_full (cumulative).',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      for (const [kind, n] of Object.entries(links.stats())) this.set({ kind }, n);
    },
  });
}
