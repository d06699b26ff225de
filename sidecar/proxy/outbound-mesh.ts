/**
 * The outbound mesh hop: the upstream socket wrapped in TLS as client — our certificate, ALPN
 * `meshtap/1`, the chain verified against the trust bundle, the peer's SPIFFE id checked
 * against the membership feed's expected identities — and the connection id frame written
 * first. The connection learns the outcome through events; while the handshake runs, the
 * app's bytes written into it are kept here so a peer without an identity (it answered with an
 * alert before any ServerHello) can be dialled again in plaintext with them.
 */
import type { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { MESH_ALPN } from '../mtls/client-hello-alpn.ts';
import { encodeConnectionIdFrame } from '../mtls/connection-id-frame.ts';
import { checkPeerIdentity, spiffeIdFromSan, spiffeIdOf } from '../mtls/peer-identity.ts';
import type { OutboundMeshPlan } from '../mtls/plans.ts';

/**
 * At most this many bytes from a mesh peer whose handshake failed: nothing but one alert
 * record (5-byte header + 2), so no ServerHello and no certificate was seen.
 */
const MAX_NO_HELLO_BYTES = 7;

export interface MeshDialEvents {
  /** The peer proved an expected identity: the hop is meshtap mTLS. */
  onVerified(peerIdentity: string | undefined): void;
  /** The handshake completed but the peer is not one we may talk to (ALPN or identity). */
  onRejected(why: string): void;
}

export interface MeshDial {
  readonly socket: TLSSocket;
  /** The app's bytes written into the handshake so far (replayed on a plaintext retry). */
  readonly held: Buffer[];
  /** The app ended its side during the handshake. */
  ended: boolean;
  /** The TCP connection to the peer was established (so a failure is the peer's answer). */
  rawConnected: boolean;
  /** Why the peer's certificate was refused; undefined when none was seen. */
  refusal: string | undefined;
  /** The membership feed says the peer is in strict mode: no plaintext retry. */
  readonly peerStrict: boolean;
}

export function dialMesh(raw: Socket, plan: OutboundMeshPlan, dstIp: string, connectionId: string, events: MeshDialEvents): MeshDial {
  const dial: { -readonly [K in keyof MeshDial]: MeshDial[K] } = {
    socket: undefined as unknown as TLSSocket,
    held: [],
    ended: false,
    rawConnected: false,
    refusal: undefined,
    peerStrict: plan.peerStrict === true,
  };
  const options: ConnectionOptions & { allowHalfOpen: boolean } = {
    socket: raw,
    // An IP address: no SNI is sent, and no host name is checked (the SPIFFE id is).
    host: dstIp,
    secureContext: plan.secureContext,
    ALPNProtocols: [MESH_ALPN],
    rejectUnauthorized: true,
    allowHalfOpen: true,
    checkServerIdentity: (_host, cert) => {
      const why = checkPeerIdentity(spiffeIdFromSan(cert.subjectaltname), plan.expectedIdentities);
      if (why === undefined) return undefined;
      dial.refusal = why;
      return new Error(why);
    },
  };
  // allowHalfOpen is honoured by tls.connect (a FIN from the app must not close the reply path) though not typed.
  const socket = tlsConnect(options);
  dial.socket = socket;
  raw.once('connect', () => (dial.rawConnected = true));
  socket.once('secureConnect', () => {
    const peer = spiffeIdOf(socket.getPeerX509Certificate());
    const why = socket.alpnProtocol !== MESH_ALPN ? `the peer did not select ALPN ${MESH_ALPN}` : checkPeerIdentity(peer, plan.expectedIdentities);
    if (why !== undefined) events.onRejected(why);
    else events.onVerified(peer);
  });
  socket.write(encodeConnectionIdFrame(connectionId));
  return dial;
}

/**
 * The mesh handshake failed before the peer's ServerHello: nothing of the peer's was verified
 * (that needs its certificate), so this is a peer without an identity, not a refused one.
 */
export function canFallBackToPlaintext(dial: MeshDial, raw: Socket): boolean {
  return dial.rawConnected && dial.refusal === undefined && raw.bytesRead <= MAX_NO_HELLO_BYTES;
}

/**
 * A peer in strict mode refuses plaintext, and a peer that only claims to be strict must not
 * be able to downgrade us: towards it, a failed handshake is a failed connection.
 */
export function fallbackForbidden(dial: MeshDial): boolean {
  return dial.peerStrict;
}
