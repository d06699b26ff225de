// What the call detail says about a call as a whole, from its joined observations (the client
// sidecar's and the server sidecar's records, `GET /api/calls?view=call`): which sidecars saw
// it, and who called whom, each end as the sidecar beside it saw it. Pure: no DOM.

/**
 * @typedef {import('./types.js').CallJson} CallJson
 * @typedef {import('./types.js').EndpointJson} EndpointJson
 * @typedef {{ id?: string, client?: CallJson, server?: CallJson, one_sided?: 'client' | 'server' }} JoinedJson
 * @typedef {{ label: string, key: string, src: string, dst: string, srcTitle?: string, dstTitle?: string }} IdentityRow
 * @typedef {{ rows: IdentityRow[], both: boolean }} Identities
 */

/** @param {JoinedJson | undefined} joined */
export const seenByBoth = (joined) => joined?.client !== undefined && joined?.server !== undefined;

/** @param {CallJson} call */
const sideOf = (call) => (call.observer === 'inbound' ? 'server' : 'client');

/**
 * What the detail's header says about who saw the call, in the words of the panel below it (its
 * "seen by both sidecars" or "client-only", its Client and Server observation tabs).
 * @param {CallJson} call the observation shown
 * @param {JoinedJson | undefined} joined the call, once looked up
 */
export function seenByText(call, joined) {
  const side = sideOf(call);
  if (seenByBoth(joined)) return `seen by both sidecars · showing the ${side} observation`;
  if (joined) return `seen only by the ${side} sidecar (${side === 'server' ? 'the callee' : 'the caller'})`;
  // Not looked up (yet): what is known is whose record this is.
  return `the ${side} observation (${side === 'server' ? 'the callee' : 'the caller'}'s sidecar)`;
}

/**
 * The ends of the call for the header: the caller as the client saw it, the callee as the server
 * saw it when both sides did; else the shown observation's.
 * @param {CallJson} call
 * @param {JoinedJson | undefined} joined
 * @returns {{ src: EndpointJson | undefined, dst: EndpointJson | undefined }}
 */
export function callEnds(call, joined) {
  if (!joined || !seenByBoth(joined)) return { src: call.src, dst: call.dst };
  const { client, server } = /** @type {{ client: CallJson, server: CallJson }} */ (joined);
  return { src: merged(client.src, server.src), dst: merged(server.dst, client.dst) };
}

/**
 * `first`'s fields, with those it lacks taken from `second`.
 * @param {EndpointJson | undefined} first
 * @param {EndpointJson | undefined} second
 * @returns {EndpointJson | undefined}
 */
function merged(first, second) {
  if (!first || !second) return first ?? second;
  /** @type {Record<string, unknown>} */
  const out = { ...second };
  for (const [k, v] of Object.entries(first)) if (v !== undefined && v !== '') out[k] = v;
  // An address is the ip and port of one observation, never half of each.
  if (first.ip) {
    out.ip = first.ip;
    out.port = first.port;
  }
  return /** @type {EndpointJson} */ (out);
}

const FIELDS = /** @type {const} */ ([
  ['pod', 'pod'],
  ['namespace', 'namespace'],
  ['workload', 'workload'],
  ['kind', 'workload_kind'],
  ['service', 'service'],
  ['node', 'node'],
  ['identity', 'identity'],
]);

/** @param {EndpointJson | undefined} end */
const address = (end) => (end?.ip ? `${end.ip}:${end.port ?? ''}` : '—');

/**
 * The Identities table. A call both sidecars saw: the source as the client's sidecar saw it (its
 * own pod), the destination as the server's saw it (its own pod: name, node, pod IP), each
 * completed by the other side's view, and the address the client dialled (a Service's virtual
 * IP) kept as a row of its own when it is not the pod's. Otherwise: the shown observation's ends.
 * @param {CallJson} call the observation shown
 * @param {JoinedJson | undefined} joined
 * @returns {Identities}
 */
export function identityRows(call, joined) {
  const both = seenByBoth(joined);
  const { src, dst } = callEnds(call, joined);
  /** @param {EndpointJson | undefined} end @param {string} key */
  const value = (end, key) => {
    const v = end ? /** @type {Record<string, unknown>} */ (end)[key] : undefined;
    return v === undefined || v === '' ? '—' : String(v);
  };
  /** @type {IdentityRow[]} */
  const rows = FIELDS.map(([label, key]) => ({ label, key, src: value(src, key), dst: value(dst, key) }));
  rows.push({
    label: 'address',
    key: 'ip',
    src: address(src),
    dst: address(dst),
    ...(both ? { srcTitle: "the caller's address, as its sidecar saw it", dstTitle: "the address of the pod that answered, as its sidecar saw it" } : {}),
  });
  const dialled = both ? address(joined?.client?.dst) : '—';
  if (dialled !== '—' && dialled !== address(dst)) {
    rows.push({ label: 'client dialled', key: 'dialled', src: '', dst: dialled, dstTitle: "the address the caller connected to (a Service's virtual IP, which the cluster sent on to the pod above)" });
  }
  return { rows, both };
}
