/**
 * The server side of mesh mTLS for sockets the inbound listener already accepted (and
 * peeked at). A `tls.Server` that never listens does the handshake: only a server verifies
 * the client's chain and rejects a failing one (a bare server-side `TLSSocket` asks for the
 * certificate but accepts any), so each peeked socket is handed to it with
 * `emit('connection')` and comes back through `secureConnection` / `tlsClientError`, matched
 * by its remote address and port (unique among open connections of one listener).
 *
 * One server per certificate: a rotation builds a new one for new connections, established
 * ones keep theirs.
 */
import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { MESH_ALPN } from './client-hello-alpn.ts';

export interface MeshHandshake {
  onSecure(socket: TLSSocket): void;
  onError(err: Error): void;
}

export interface MeshTerminator {
  readonly spiffeId: string;
  /** Starts the server handshake on a socket whose peeked bytes were put back with `unshift`. */
  accept(raw: Socket, handshake: MeshHandshake): void;
}

const keyOf = (socket: { remoteAddress?: string; remotePort?: number }) => `${socket.remoteAddress}|${socket.remotePort}`;

export function createMeshTerminator(pem: { keyPem: string; certPem: string; trustBundlePem: string; spiffeId: string }): MeshTerminator {
  const pending = new Map<string, MeshHandshake>();
  const server: Server = createServer({
    key: pem.keyPem,
    cert: pem.certPem,
    ca: pem.trustBundlePem,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: [MESH_ALPN],
    // The proxy owns timeouts and half-close on the plaintext side.
    allowHalfOpen: true,
  });
  const take = (socket: { remoteAddress?: string; remotePort?: number }) => {
    const key = keyOf(socket);
    const handshake = pending.get(key);
    pending.delete(key);
    return handshake;
  };
  server.on('secureConnection', (socket: TLSSocket) => {
    const handshake = take(socket);
    if (handshake) handshake.onSecure(socket);
    else socket.destroy();
  });
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    take(socket)?.onError(err);
    socket.destroy();
  });
  return {
    spiffeId: pem.spiffeId,
    accept(raw, handshake) {
      const key = keyOf(raw);
      pending.set(key, handshake);
      // A failed handshake may close the socket before tlsClientError can be matched to it.
      raw.once('close', () => {
        if (pending.get(key) !== handshake) return;
        pending.delete(key);
        handshake.onError(new Error('closed during the handshake'));
      });
      server.emit('connection', raw);
    },
  };
}
