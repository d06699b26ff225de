// Where a call's time went, as a small timeline: one bar per phase, on one scale, from the
// `timing` object of a joined call (`GET /api/calls?view=call`, collector/calls/timing.ts).
//
// Offsets are on the client's clock: connect and the mesh TLS handshake come before the
// exchange; the server's view sits inside the client's, shifted by half the network time (the
// two directions are assumed equal: each sidecar has its own clock, so only durations compare).
import { html } from './html.js';
import { diffUs, formatDuration } from './format.js';

/**
 * @typedef {{ client_us?: number, server_us?: number, network_us?: number, connect_us?: number,
 *   tls_handshake_us?: number, client_first_byte_us?: number, server_first_byte_us?: number, queue_us?: number }} Timing
 * @typedef {{ timing?: Timing, client?: import('./types.js').CallJson, server?: import('./types.js').CallJson }} JoinedCallJson
 * @typedef {{ phase: string, label: string, from: number, us: number, title: string }} Phase
 */

/**
 * The phases with their offsets, in µs from the first one's start.
 * @param {JoinedCallJson} call
 * @returns {Phase[]}
 */
export function timelinePhases(call) {
  const t = call.timing ?? {};
  /** @type {Phase[]} */
  const phases = [];
  let at = 0;
  // The client's sidecar dials as it accepts the connection, while the app already sends its
  // request: the first exchange of an HTTP/1 (or database, or TCP) connection waits for the
  // connect and the handshake inside its own latency, and they account for part of the
  // network + mesh time. An HTTP/2 or gRPC connection's first stream comes after its preface
  // exchange, when the connection is up: there they come before the exchange.
  const dialUs = (t.connect_us ?? 0) + (t.tls_handshake_us ?? 0);
  const streams = call.protocol === 'http2' || call.protocol === 'grpc';
  const inside = dialUs > 0 && !streams && call.client?.ordinal === 0 && t.network_us !== undefined && t.network_us >= dialUs;
  const waited = inside ? ' — the request waited for it, inside the client latency' : '';
  if (t.connect_us !== undefined) {
    phases.push({ phase: 'connect', label: 'TCP connect', from: at, us: t.connect_us, title: `opening the connection (this call opened it)${waited}` });
    at += t.connect_us;
  }
  if (t.tls_handshake_us !== undefined) {
    phases.push({ phase: 'tls', label: 'mTLS handshake', from: at, us: t.tls_handshake_us, title: `the sidecars’ mutual TLS handshake${waited}` });
    at += t.tls_handshake_us;
  }
  const exchange = inside ? 0 : at;
  if (t.queue_us !== undefined) phases.push({ phase: 'queue', label: 'queued', from: exchange, us: t.queue_us, title: 'waiting behind earlier requests on the connection' });
  if (t.client_us !== undefined) phases.push({ phase: 'client', label: 'client latency', from: exchange, us: t.client_us, title: 'the caller’s view: first request byte to last response byte' });
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

/** @param {{ call: JoinedCallJson }} props */
export function CallTimeline({ call }) {
  const phases = timelinePhases(call);
  if (phases.length === 0) return null;
  const total = Math.max(1, ...phases.map((p) => p.from + p.us));
  /** @param {number} us */
  const pct = (us) => `${Math.min(100, Math.max(0, (us / total) * 100)).toFixed(3)}%`;
  return html`
    <section class="card call-timeline" aria-label="Where the time went">
      <h3>Where the time went</h3>
      <div class="tl" role="list">
        ${phases.map(
          (p) => html`<div class="tl-row" role="listitem" data-phase=${p.phase} data-us=${p.us}>
            <span class="tl-label">${p.label}</span>
            <span class="tl-track"><span class=${`tl-bar ${p.phase}`} style=${{ left: pct(p.from), width: pct(p.us) }} title=${`${p.label}: ${formatDuration(p.us)} — ${p.title}`}></span></span>
            <span class="tl-value mono">${formatDuration(p.us)}</span>
          </div>`,
        )}
      </div>
    </section>
  `;
}
