/**
 * The inbound gate: what the first client bytes are (meshtap mTLS, app TLS, plaintext, or a
 * refusal in strict mode), and for meshtap mTLS the terminated handshake and the connection id
 * frame, before a byte reaches the app. The connection holds the bytes; this decides and sets
 * up, and tells the connection through callbacks.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { OriginalDst } from '../original-dst.ts';
import { decodeConnectionIdFrame } from '../mtls/connection-id-frame.ts';
import { spiffeIdOf } from '../mtls/peer-identity.ts';
import type { MtlsHooks } from '../mtls/plans.ts';

/** Held inbound client bytes beyond which the first bytes are classified as they are. */
export const MAX_HELD_BYTES = 16 * 1024 + 5;
/** How long an inbound mesh client may take to finish its handshake and send the id frame. */
export const MESH_SETUP_TIMEOUT_MS = 10_000;
/**
 * How long the server speaking first waits for a meshed pod's ClientHello before the
 * connection is taken as plaintext (`decideInbound`): the client sidecar sends its hello as
 * soon as it is connected, so it is normally in well within this.
 */
export const HELLO_GRACE_MS = 100;

/**
 * What a sidecar without a certificate answers a mesh ClientHello with: a fatal
 * `no_application_protocol` alert (it cannot speak `meshtap/1` now), before any ServerHello,
 * so the client sidecar knows nothing was verified and retries in plaintext.
 */
export const NO_MESH_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x78]);

export type InboundDecision = ReturnType<MtlsHooks['inbound']['decide']>;

export interface InboundGateState {
  /** The client half-closed: no more bytes will come. */
  clientEnded: boolean;
  /** The app has sent bytes (held) before the connection was classified. */
  serverFirst: boolean;
  /**
   * The server spoke before any client byte, but the client opens with a mesh ClientHello
   * (`expectsHello`) and `HELLO_GRACE_MS` has not passed: wait for it.
   */
  awaitingHello: boolean;
  srcIp: string;
  dst: OriginalDst;
}

/**
 * Classifies the held bytes; `need-more` while they cannot tell yet. What the client sent
 * decides: a client that has begun (a ClientHello in two TCP segments, a probe's request line)
 * does not wait for the server to finish its first message, so the server speaking meanwhile
 * (an HTTP/2 server's SETTINGS, a greeting) changes nothing. The server speaking first decides
 * only for a client that has sent nothing and is not expected to open with a ClientHello (a
 * server-first protocol's client, waiting for the greeting). The client ending or too many
 * held bytes force a decision on what is there.
 */
export function decideInbound(mtls: MtlsHooks, bytes: Buffer, state: InboundGateState): InboundDecision {
  const { clientEnded, serverFirst, awaitingHello, srcIp, dst } = state;
  const forced = clientEnded || bytes.length >= MAX_HELD_BYTES || (serverFirst && bytes.length === 0 && !awaitingHello);
  if (bytes.length > 0) {
    const decision = mtls.inbound.decide({ bytes, serverFirst: false, srcIp, dst });
    if (decision.kind !== 'need-more' || !forced) return decision;
  } else if (!forced) {
    return { kind: 'need-more' };
  }
  return mtls.inbound.decide({ bytes, serverFirst: true, srcIp, dst });
}

export interface MeshAcceptEvents {
  /** The handshake or the id frame failed (or timed out): the connection is to be reset. */
  onFail(outcome: string, reason: string): void;
  /** The handshake verified the client: from now on the TLS socket is the client side (errors, close). */
  onSecured(socket: TLSSocket): void;
  /** The client is a verified mesh peer; `rest` are app bytes that came with the id frame. */
  onReady(socket: TLSSocket, facts: { connectionId: string; peerIdentity: string; localIdentity: string; rest: Buffer }): void;
}

/**
 * Terminates a mesh client's TLS (its ClientHello `hello` already read and put back) and reads
 * its connection id frame. Returns a function that cancels the setup timer; returns undefined
 * when this sidecar has no certificate to answer with (the caller declines the mesh).
 */
export function acceptMeshClient(mtls: MtlsHooks, raw: Socket, hello: Buffer, events: MeshAcceptEvents): (() => void) | undefined {
  const terminator = mtls.inbound.terminator();
  if (!terminator) return undefined;
  let settled = false;
  const timer = setTimeout(() => fail('handshake_failed', 'timeout'), MESH_SETUP_TIMEOUT_MS);
  timer.unref();
  function fail(outcome: string, reason: string): void {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    events.onFail(outcome, reason);
  }
  raw.pause();
  raw.unshift(hello);
  terminator.accept(raw, {
    onError: (err: NodeJS.ErrnoException) => fail('handshake_failed', err.code ?? err.message),
    onSecure: (socket) => {
      const peer = spiffeIdOf(socket.getPeerX509Certificate());
      if (!socket.authorized || peer === undefined) {
        fail('handshake_failed', socket.authorized ? 'the client certificate carries no single SPIFFE URI SAN' : String(socket.authorizationError));
        return;
      }
      events.onSecured(socket);
      let frame: Buffer = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        frame = frame.length === 0 ? chunk : Buffer.concat([frame, chunk]);
        const result = decodeConnectionIdFrame(frame);
        if (result.kind === 'need-more') return;
        socket.off('data', onData);
        socket.off('end', onEarlyEnd);
        if (result.kind === 'invalid') {
          fail('handshake_failed', `bad connection id frame (${result.reason})`);
          return;
        }
        settled = true;
        clearTimeout(timer);
        events.onReady(socket, { connectionId: result.id, peerIdentity: peer, localIdentity: terminator.spiffeId, rest: result.rest });
      };
      const onEarlyEnd = () => fail('handshake_failed', 'closed before the connection id');
      socket.on('data', onData);
      socket.once('end', onEarlyEnd);
    },
  });
  return () => {
    settled = true;
    clearTimeout(timer);
  };
}
