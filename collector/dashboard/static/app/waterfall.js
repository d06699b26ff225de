// Trace waterfall model: a trace's records → calls (the CLIENT and SERVER records of one
// exchange joined), nested by parent, with offsets on a shared time axis. Pure.
//
// Clock skew: each half is dated by its own sidecar's clock, and two sidecars' clocks differ
// (on one machine by up to a millisecond, across nodes by their NTP error), which can be more
// than a hop takes: the callee's view then seems to start before the caller's. As Jaeger does,
// a SERVER half that does not fit inside its CLIENT half is moved to sit centred in it (the
// network time split evenly both ways), and everything measured by the same sidecar (the
// callee's own outbound calls, their CLIENT halves) moves with it. The row says by how much.

import { diffUs, endpointName } from './format.js';

/**
 * @typedef {import('./types.js').CallJson} CallJson
 * @typedef {{
 *   key: string, client?: CallJson, server?: CallJson, call: CallJson,
 *   startNs: string, endNs: string, depth: number, parentKey?: string,
 *   offsetUs: number, durationUs: number,
 *   clientBar?: { offsetUs: number, durationUs: number }, serverBar?: { offsetUs: number, durationUs: number },
 *   caller: string, callee: string,
 *   skewUs?: number, linkConfidence?: number,
 * }} WaterfallRow
 */

/** @param {string} a @param {string} b */
const cmpNs = (a, b) => {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
};

/** @param {CallJson} r */
const exchangeKey = (r) => `${r.connection_id}\u0000${r.ordinal}`;

/**
 * @param {CallJson[]} records
 * @returns {{ rows: WaterfallRow[], startNs: string | undefined, totalUs: number }}
 */
export function buildWaterfall(records) {
  /** @type {Map<string, { client?: CallJson, server?: CallJson }>} */
  const pairs = new Map();
  for (const r of records) {
    const key = exchangeKey(r);
    const pair = pairs.get(key) ?? {};
    if (r.observer === 'inbound') pair.server ??= r;
    else pair.client ??= r;
    pairs.set(key, pair);
  }

  /** @type {WaterfallRow[]} */
  const calls = [];
  for (const [key, pair] of pairs) {
    const call = /** @type {CallJson} */ (pair.client ?? pair.server);
    const halves = [pair.client, pair.server].filter((r) => r !== undefined);
    const startNs = halves.map((r) => r.start).sort(cmpNs)[0];
    const endNs = halves.map((r) => r.end).sort(cmpNs)[halves.length - 1];
    calls.push({
      key,
      client: pair.client,
      server: pair.server,
      call,
      startNs,
      endNs,
      depth: 0,
      offsetUs: 0,
      durationUs: 0,
      caller: endpointName(call.src),
      callee: endpointName(call.dst),
    });
  }

  // Parent by span ids where the records carry them; else the latest-starting call made to the
  // workload that makes this one and in flight when it started (a callee's outgoing calls start
  // while it handles a request; a stream it opened may outlive that request).
  /** @type {Map<string, WaterfallRow>} */
  const bySpan = new Map();
  for (const c of calls) {
    for (const r of [c.client, c.server]) if (r?.span_id) bySpan.set(r.span_id, c);
  }
  const sameEnd = (/** @type {CallJson['src']} */ a, /** @type {CallJson['dst']} */ b) =>
    endpointName(a) === endpointName(b) && (!a?.namespace || !b?.namespace || a.namespace === b.namespace);
  /** @type {Map<string, WaterfallRow>} */
  const byRecordId = new Map();
  for (const c of calls) {
    for (const r of [c.client, c.server]) if (r) byRecordId.set(r.id, c);
  }
  for (const c of calls) {
    // The trace API's own link, when it points at another call (not this call's other half).
    const linked = [c.client?.parent_id, c.server?.parent_id].map((id) => (id ? byRecordId.get(id) : undefined)).find((p) => p && p !== c);
    if (linked) {
      c.parentKey = linked.key;
      continue;
    }
    const parentSpan = c.client?.parent_span_id ?? c.server?.parent_span_id;
    const bySpanId = parentSpan ? bySpan.get(parentSpan) : undefined;
    if (bySpanId && bySpanId !== c) {
      c.parentKey = bySpanId.key;
      continue;
    }
    let best;
    for (const p of calls) {
      if (p === c || !sameEnd(c.call.src, p.call.dst)) continue;
      if (cmpNs(p.startNs, c.startNs) > 0 || cmpNs(p.endNs, c.startNs) < 0) continue;
      if (!best || cmpNs(p.startNs, best.startNs) > 0) best = p;
    }
    if (best) c.parentKey = best.key;
  }

  // Guard against cycles from odd data: a parent chain that comes back to itself is cut.
  const byKey = new Map(calls.map((c) => [c.key, c]));
  for (const c of calls) {
    const seen = new Set([c.key]);
    let p = c.parentKey;
    while (p !== undefined) {
      if (seen.has(p)) {
        c.parentKey = undefined;
        break;
      }
      seen.add(p);
      p = byKey.get(p)?.parentKey;
    }
  }

  /** @type {Map<string | undefined, WaterfallRow[]>} */
  const children = new Map();
  for (const c of calls) {
    const list = children.get(c.parentKey) ?? [];
    list.push(c);
    children.set(c.parentKey, list);
  }
  // Adjusted times (ns, BigInt) of each half, by the shifts described at the top.
  /** @type {Map<WaterfallRow, { client?: [bigint, bigint], server?: [bigint, bigint] }>} */
  const adjusted = new Map();
  /** @type {WaterfallRow[]} */
  const rows = [];
  /** @param {string | undefined} parent @param {number} depth @param {bigint} shift the caller's sidecar's clock correction */
  const walk = (parent, depth, shift) => {
    const list = (children.get(parent) ?? []).map((c) => {
      /** @type {{ client?: [bigint, bigint], server?: [bigint, bigint] }} */
      const times = {};
      if (c.client) times.client = [BigInt(c.client.start) + shift, BigInt(c.client.end) + shift];
      let calleeShift = shift;
      if (c.server) {
        const ss = BigInt(c.server.start);
        const se = BigInt(c.server.end);
        let own = 0n;
        if (times.client && (ss < times.client[0] || se > times.client[1])) {
          const [cs, ce] = times.client;
          own = cs + (ce - cs - (se - ss)) / 2n - ss;
          c.skewUs = Number(own / 1000n);
        }
        times.server = [ss + own, se + own];
        calleeShift = own;
      }
      if (typeof c.client?.link_confidence === 'number') c.linkConfidence = c.client.link_confidence;
      adjusted.set(c, times);
      const starts = [times.client?.[0], times.server?.[0]].filter((t) => t !== undefined);
      return { c, calleeShift, start: starts.reduce((a, b) => (a < b ? a : b)) };
    });
    // Siblings in the order they are drawn: by their start once corrected, never by a raw start
    // that mixes the clocks of different callees' sidecars.
    list.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const { c, calleeShift } of list) {
      c.depth = depth;
      rows.push(c);
      walk(c.key, depth + 1, calleeShift);
    }
  };
  walk(undefined, 0, 0n);

  for (const c of rows) {
    const { client, server } = /** @type {{ client?: [bigint, bigint], server?: [bigint, bigint] }} */ (adjusted.get(c));
    const halves = [client, server].filter((h) => h !== undefined);
    c.startNs = String(halves.map((h) => h[0]).reduce((a, b) => (a < b ? a : b)));
    c.endNs = String(halves.map((h) => h[1]).reduce((a, b) => (a > b ? a : b)));
  }
  const startNs = rows.map((c) => c.startNs).sort(cmpNs)[0];
  const endNs = rows.map((c) => c.endNs).sort(cmpNs)[rows.length - 1];
  const totalUs = startNs === undefined ? 0 : Math.max(1, diffUs(endNs, startNs) ?? 0);
  for (const c of rows) {
    const { client, server } = /** @type {{ client?: [bigint, bigint], server?: [bigint, bigint] }} */ (adjusted.get(c));
    c.offsetUs = diffUs(c.startNs, startNs) ?? 0;
    c.durationUs = diffUs(c.endNs, c.startNs) ?? 0;
    if (client) c.clientBar = { offsetUs: diffUs(String(client[0]), startNs) ?? 0, durationUs: diffUs(String(client[1]), String(client[0])) ?? 0 };
    if (server) c.serverBar = { offsetUs: diffUs(String(server[0]), startNs) ?? 0, durationUs: diffUs(String(server[1]), String(server[0])) ?? 0 };
  }
  return { rows, startNs, totalUs };
}
