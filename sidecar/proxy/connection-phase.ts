/**
 * Where one proxied connection stands, as one explicit state instead of scattered flags. Each
 * side has its own phase because they move at the same time (an inbound connection dials the
 * app while it is still classifying the client's first bytes):
 * - client: `classifying` (inbound with mTLS: the first bytes are held until they tell mesh
 *   mTLS, app TLS and plaintext apart) → `mesh-setup` (terminating the mesh handshake, reading
 *   the connection id) → `open`; or straight to `open`; or `refused` (strict mode, a failed or
 *   declined mesh handshake, the client gone before it was placed), after which the app's
 *   bytes never reach it;
 * - upstream: `dialing` (TCP connect) or `mesh-handshake` (outbound mTLS to a meshed peer) →
 *   `connected`; a mesh handshake that failed before any certificate was seen goes back to
 *   `dialing` once, for the plaintext retry.
 * A transition not listed here is a bug and throws.
 */
export type ClientPhase = 'classifying' | 'mesh-setup' | 'open' | 'refused';
export type UpstreamPhase = 'dialing' | 'mesh-handshake' | 'connected';

const CLIENT_NEXT: Readonly<Record<ClientPhase, readonly ClientPhase[]>> = {
  classifying: ['mesh-setup', 'open', 'refused'],
  'mesh-setup': ['open', 'refused'],
  open: [],
  refused: [],
};

const UPSTREAM_NEXT: Readonly<Record<UpstreamPhase, readonly UpstreamPhase[]>> = {
  dialing: ['connected'],
  'mesh-handshake': ['connected', 'dialing'],
  connected: [],
};

export class ConnectionPhase {
  #client: ClientPhase;
  #upstream: UpstreamPhase;

  constructor(client: ClientPhase, upstream: UpstreamPhase) {
    this.#client = client;
    this.#upstream = upstream;
  }

  get client(): ClientPhase {
    return this.#client;
  }

  get upstream(): UpstreamPhase {
    return this.#upstream;
  }

  /** The client may not see the app's bytes yet: it is still being classified or set up. */
  get clientPending(): boolean {
    return this.#client !== 'open';
  }

  toClient(next: ClientPhase): void {
    if (!CLIENT_NEXT[this.#client].includes(next)) throw new Error(`connection phase: client ${this.#client} → ${next} is not a transition`);
    this.#client = next;
  }

  toUpstream(next: UpstreamPhase): void {
    if (!UPSTREAM_NEXT[this.#upstream].includes(next)) throw new Error(`connection phase: upstream ${this.#upstream} → ${next} is not a transition`);
    this.#upstream = next;
  }
}
