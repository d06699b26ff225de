// Where a call's time went, as a small timeline: one bar per phase, on one scale, from the
// `timing` object of a joined call (`GET /api/calls?view=call`, collector/calls/timing.ts).
//
// Offsets are on the client's clock. The server's view sits inside the client's, shifted by half
// the network time (the two directions are assumed equal: each sidecar has its own clock, so only
// durations compare). A phase that is part of the client latency (the connect and the mesh TLS
// handshake its request waited for, queueing) is listed under it, indented, and drawn inside its
// bar; the set-up of a connection opened before the call's request is drawn before it.
import { html } from './html.js';
import { diffUs, formatDuration } from './format.js';

/**
 * @typedef {{ client_us?: number, server_us?: number, network_us?: number, connect_us?: number,
 *   tls_handshake_us?: number, client_first_byte_us?: number, server_first_byte_us?: number, queue_us?: number }} Timing
 * @typedef {{ timing?: Timing, protocol?: string, client?: import('./types.js').CallJson, server?: import('./types.js').CallJson }} JoinedCallJson
 * @typedef {{ phase: string, label: string, from: number, us: number, title: string, within?: 'client' }} Phase
 *   `within`: the phase is part of the client latency (listed under it, drawn inside its bar)
 */

/**
 * Whether the connection's set-up (TCP connect, mesh TLS handshake) lies inside the client
 * latency. The client's sidecar dials as it accepts the connection, while the app already sends
 * its request: the first exchange of an HTTP/1 (or database, or TCP) connection waits for the
 * connect and the handshake inside its own latency (and, with both sides seen, they account for
 * part of the network + mesh time). An HTTP/2 or gRPC connection's first stream comes after its
 * preface exchange, when the connection is up: there they come before the call.
 * @param {JoinedCallJson} call
 */
export function setupInsideClient(call) {
  const t = call.timing ?? {};
  const dialUs = (t.connect_us ?? 0) + (t.tls_handshake_us ?? 0);
  const streams = call.protocol === 'http2' || call.protocol === 'grpc';
  // What is measured must have room for it: the network + mesh time when both sides saw the
  // call, else the client latency itself.
  const room = t.network_us ?? t.client_us;
  return dialUs > 0 && !streams && call.client?.ordinal === 0 && room !== undefined && room >= dialUs;
}

/**
 * The phases with their offsets, in µs from the first one's start, in the order they are listed:
 * a set-up before the call, the client latency and the phases within it, then the rest.
 * @param {JoinedCallJson} call
 * @returns {Phase[]}
 */
export function timelinePhases(call) {
  const t = call.timing ?? {};
  const inside = setupInsideClient(call);
  const dialUs = (t.connect_us ?? 0) + (t.tls_handshake_us ?? 0);
  /** @type {Phase[]} The connection's set-up, from the connect's start. */
  const setup = [];
  let at = 0;
  const part = inside ? ' — part of the client latency: the request waited for it' : ' — before the request, not part of the client latency';
  if (t.connect_us !== undefined) {
    setup.push({ phase: 'connect', label: 'TCP connect', from: at, us: t.connect_us, title: `opening the connection (this call opened it)${part}` });
    at += t.connect_us;
  }
  if (t.tls_handshake_us !== undefined) {
    setup.push({ phase: 'tls', label: 'mTLS handshake', from: at, us: t.tls_handshake_us, title: `the sidecars’ mutual TLS handshake${part}` });
    at += t.tls_handshake_us;
  }
  const exchange = inside ? 0 : at;
  /** @type {Phase | undefined} */
  const queue = t.queue_us !== undefined ? { phase: 'queue', label: 'queued', from: exchange, us: t.queue_us, title: 'waiting behind earlier requests on the connection' } : undefined;
  /** @type {Phase[]} */
  const phases = inside ? [] : [...setup];
  if (t.client_us !== undefined) {
    phases.push({ phase: 'client', label: 'client latency', from: exchange, us: t.client_us, title: 'the caller’s view: first request byte to last response byte' });
    if (inside) for (const p of setup) phases.push({ ...p, within: 'client' });
    if (queue) phases.push({ ...queue, title: `${queue.title} — part of the client latency`, within: 'client' });
  } else {
    if (inside) phases.push(...setup);
    if (queue) phases.push(queue);
  }
  const clientReqUs = call.client ? diffUs(call.client.request_end, call.client.start) : undefined;
  if (t.client_first_byte_us !== undefined) {
    phases.push({ phase: 'client-first-byte', label: 'client: first byte', from: exchange + (clientReqUs ?? 0), us: t.client_first_byte_us, title: 'request sent → first response byte, at the client' });
  }
  // The server sees the request half the remaining network time after the connection is up.
  const serverAt = inside ? dialUs + Math.max(0, (t.network_us ?? 0) - dialUs) / 2 : exchange + (t.network_us !== undefined ? Math.max(0, t.network_us) / 2 : 0);
  if (t.network_us !== undefined) {
    const what = inside ? ': the connection set-up above, then both directions through the network and both sidecars' : ': both directions through the network and both sidecars';
    phases.push({ phase: 'network', label: inside ? 'set-up + network + mesh' : 'network + mesh', from: exchange, us: Math.max(0, t.network_us), title: `client latency − server latency${what}` });
  }
  if (t.server_us !== undefined) phases.push({ phase: 'server', label: 'server latency', from: serverAt, us: t.server_us, title: 'the callee’s view, measured by its sidecar' });
  const serverReqUs = call.server ? diffUs(call.server.request_end, call.server.start) : undefined;
  if (t.server_first_byte_us !== undefined) {
    phases.push({ phase: 'server-first-byte', label: 'server: first byte', from: serverAt + (serverReqUs ?? 0), us: t.server_first_byte_us, title: 'request received → first response byte: the app’s own time' });
  }
  return phases;
}

/**
 * One sentence under the timeline on where the connection's set-up went, or undefined.
 * @param {Phase[]} phases
 */
export function setupNote(phases) {
  const setup = phases.filter((p) => p.phase === 'connect' || p.phase === 'tls');
  if (setup.length === 0) return undefined;
  const names = setup.map((p) => (p.phase === 'connect' ? 'the TCP connect' : 'the mTLS handshake')).join(' and ');
  const inside = setup.every((p) => p.within === 'client');
  if (inside) return `This call opened its connection: ${names} ${setup.length > 1 ? 'are' : 'is'} part of the client latency (the request waited for ${setup.length > 1 ? 'them' : 'it'}).`;
  if (!phases.some((p) => p.phase === 'client')) return undefined;
  return `This call opened its connection: ${names} came before its request and ${setup.length > 1 ? 'are' : 'is'} not part of the client latency.`;
}

/** @param {{ call: JoinedCallJson }} props */
export function CallTimeline({ call }) {
  const phases = timelinePhases(call);
  if (phases.length === 0) return null;
  const total = Math.max(1, ...phases.map((p) => p.from + p.us));
  /** @param {number} us */
  const pct = (us) => `${Math.min(100, Math.max(0, (us / total) * 100)).toFixed(3)}%`;
  const note = setupNote(phases);
  return html`
    <section class="card call-timeline" aria-label="Where the time went">
      <h3>Where the time went</h3>
      <div class="tl" role="list">
        ${phases.map((p) => {
          // The client latency's bar shows its parts inside it, where their own rows draw them.
          const parts = p.phase === 'client' && p.us > 0 ? phases.filter((q) => q.within === 'client') : [];
          /** @param {number} us */
          const inBar = (us) => `${Math.min(100, Math.max(0, (us / p.us) * 100)).toFixed(3)}%`;
          return html`<div class=${`tl-row${p.within ? ' nested' : ''}`} role="listitem" data-phase=${p.phase} data-us=${p.us} data-within=${p.within}>
            <span class="tl-label">${p.within ? html`<span class="tl-nest" aria-hidden="true">↳ </span>` : null}${p.label}${p.within ? html`<span class="visually-hidden">, part of the client latency</span>` : null}</span>
            <span class="tl-track"><span class=${`tl-bar ${p.phase}`} style=${{ left: pct(p.from), width: pct(p.us) }} title=${`${p.label}: ${formatDuration(p.us)} — ${p.title}`}>${parts.map(
              (q) => html`<span class=${`tl-part ${q.phase}`} data-phase=${q.phase} style=${{ left: inBar(q.from - p.from), width: inBar(q.us) }} title=${`${q.label}: ${formatDuration(q.us)} — ${q.title}`}></span>`,
            )}</span></span>
            <span class="tl-value mono">${formatDuration(p.us)}</span>
          </div>`;
        })}
      </div>
      ${note ? html`<p class="tl-note muted">${note}</p>` : null}
    </section>
  `;
}
