/**
 * One proxied connection: the accepted client socket, the upstream socket to the original
 * destination, and the capture tap on the side.
 *
 * Forwarding rules (the tap never changes them):
 * - bytes go through exactly and in order; a chunk is written to the other side before the
 *   tap sees it, and the tap only reads it (Node never reuses a chunk it handed to 'data');
 * - backpressure: a side stops reading while the other side's write buffer is full;
 * - half-close: a FIN from one side becomes `end()` on the other after its pending writes;
 * - reset: an RST (or any socket error) on one side resets the other;
 * - upstream connect failure: the client is reset, and an `upstream_unreachable` record made;
 *   inbound, while the client is still telling what it speaks (a mesh peer's hello or
 *   handshake under way), only once it has: the record then carries the mesh connection id, so
 *   it joins the client sidecar's record of the same call, and the client sidecar sees the
 *   reset after its handshake (not before its ServerHello, which it would take for a peer
 *   without a certificate and retry in plaintext);
 * - no idle timeout: long-lived quiet connections are the application's business.
 *
 * mTLS (when the sidecar has `mtls` hooks):
 * - outbound to a meshed destination: the upstream socket is wrapped in TLS as client (our
 *   certificate, ALPN `meshtap/1`, the chain verified against the trust bundle, the peer's
 *   SPIFFE id checked against the membership feed's expected identities; a refusal resets the
 *   client) and the connection id frame is written first. If the peer ends the handshake
 *   before its ServerHello (closes, resets or sends only an alert: a sidecar without a
 *   certificate), no certificate was verified, and the connection is dialled again in
 *   plaintext with the app's bytes held meanwhile, once and in order (fail-open);
 * - inbound: client bytes are held (not the server's) until the first ones tell mesh mTLS,
 *   app TLS or plaintext apart; mesh mTLS is terminated here and the peer's identity and
 *   connection id learnt before a byte reaches the app. The capture always sees plaintext
 *   (or the app's own TLS), never meshtap's.
 *
 * Connection facts for the records (capture/connection-facts.ts): with capture on, the
 * connection reads the clock when it starts dialling, when the upstream TCP connection is up
 * and when a mesh handshake ends, and notices which side's socket failed with a reset. It
 * hands each fact to the tap once (at most three per connection); nothing of it is per chunk.
 */
import { connect, type Socket } from 'node:net';
import type { CloseReason, NsClock } from '../capture/session.ts';
import type { Observer } from '../../record/record.ts';
import type { OriginalDst } from '../original-dst.ts';
import type { DirectionStats, SidecarStats } from '../metrics.ts';
import type { CaptureChannel, ConnectionCapture } from './capture-channel.ts';
import type { MtlsHooks, OutboundMeshPlan } from '../mtls/plans.ts';
import { ConnectionPhase } from './connection-phase.ts';
import { HELLO_GRACE_MS, MESH_SETUP_TIMEOUT_MS, NO_MESH_ALERT, acceptMeshClient, decideInbound } from './inbound-gate.ts';
import { canFallBackToPlaintext, dialMesh, fallbackForbidden, type MeshDial } from './outbound-mesh.ts';

/** What a record needs to know about the connection an exchange came from. */
export interface ConnectionMeta {
  /** Inbound mesh connections take the client sidecar's id, before any byte is captured. */
  connectionId: string;
  readonly observer: Observer;
  readonly client: { readonly ip: string; readonly port: number };
  readonly dst: OriginalDst;
  /** The hop between the sidecars is meshtap mTLS. */
  mesh: boolean;
  /** Our SPIFFE id and the verified peer's, on mesh connections. */
  localIdentity?: string;
  peerIdentity?: string;
  /** Outbound to a meshed peer that had no identity: sent in plaintext instead (permissive). */
  meshFallback?: boolean;
}

export interface ConnectionEnv {
  observer: Observer;
  clock: NsClock;
  stats: SidecarStats;
  direction: DirectionStats;
  /** Absent when capture is off: forwarding only. */
  capture: CaptureChannel | undefined;
  /** Local address to bind the upstream socket to (inbound: the passthrough source). */
  upstreamLocalAddress: string | undefined;
  newConnectionId: () => string;
  /** Absent: no mTLS (plaintext both ways, as without a CA). */
  mtls: MtlsHooks | undefined;
  /** Both sockets are closed. */
  onClosed: (connection: ProxyConnection) => void;
}

function isReset(err: NodeJS.ErrnoException | undefined): boolean {
  return err?.code === 'ECONNRESET' || err?.code === 'EPIPE';
}

const ignore = () => {};

const usBetween = (from: bigint, to: bigint): number => Number((to - from) / 1000n);

/** A TLS socket cannot be reset itself (its handle is not TCP): reset the TCP socket under it. */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

export class ProxyConnection {
  readonly meta: ConnectionMeta;
  readonly acceptedAt: bigint;
  private readonly env: ConnectionEnv;
  /** What bytes are read from and written to on each side (TLS sockets on mesh hops). */
  private client: Socket;
  private upstream: Socket;
  /** The TCP sockets under them: what is reset and what closes. */
  private readonly rawClient: Socket;
  private rawUpstream: Socket;
  private readonly tap: ConnectionCapture | undefined;
  /** Where each side stands (see connection-phase.ts); replaces per-step flags. */
  private readonly phase: ConnectionPhase;
  private clientClosed = false;
  private upstreamClosed = false;
  private reason: CloseReason | undefined;
  private bytesFromClient = 0;
  private bytesFromServer = 0;
  /** Client bytes held while the client phase is `classifying`. */
  private held: Buffer[] = [];
  /** App bytes held while the client is not `open` yet (it must not see them). */
  private heldServer: Buffer[] = [];
  private clientEndHeld = false;
  /**
   * The wait for a meshed pod's ClientHello after the app spoke first (`HELLO_GRACE_MS`):
   * undefined until the app speaks first, then the timer, then 'over' (or at once when the
   * client is not expected to send one).
   */
  private helloGrace: NodeJS.Timeout | 'over' | undefined;
  /** The app could not be reached while the client was still being classified (`upstreamUnreachable`). */
  private deferredUnreachable: { err: NodeJS.ErrnoException; timer: NodeJS.Timeout } | undefined;
  /** The decline alert's close timer, or the mesh setup's cancel. */
  private setupTimer: NodeJS.Timeout | undefined;
  private cancelMeshSetup: (() => void) | undefined;
  /** The outbound mesh handshake while the upstream phase is `mesh-handshake`. */
  private meshDial: MeshDial | undefined;
  /** Why the last outbound mesh handshake refused its peer (for the count). */
  private peerRefusal: string | undefined;
  /** When the current upstream dial started, and when its TCP connection was up (capture on only). */
  private dialStartedAt = 0n;
  private upstreamUpAt: bigint | undefined;

  constructor(client: Socket, dst: OriginalDst, env: ConnectionEnv) {
    this.env = env;
    this.client = client;
    this.rawClient = client;
    this.acceptedAt = env.clock();
    this.meta = {
      connectionId: env.newConnectionId(),
      observer: env.observer,
      client: { ip: client.remoteAddress ?? '', port: client.remotePort ?? 0 },
      dst,
      mesh: false,
    };
    env.direction.active++;
    this.tap = env.capture?.open(this.meta, env.direction);

    client.setNoDelay(true);
    const plan = env.observer === 'outbound' ? env.mtls?.outbound(dst) : undefined;
    const gated = env.observer === 'inbound' && env.mtls !== undefined;
    this.phase = new ConnectionPhase(gated ? 'classifying' : 'open', plan ? 'mesh-handshake' : 'dialing');
    const raw = this.dialUpstream();
    this.rawUpstream = raw;
    this.upstream = raw;
    if (plan) this.upstream = this.meshClient(raw, plan);
    raw.once('connect', () => this.rawConnected(plan !== undefined));
    this.wireUpstream(raw, this.upstream);

    client.on('error', (err) => this.failed('client', err));
    client.on('close', () => this.socketClosed('client'));
    if (gated) {
      const hold = (chunk: Buffer) => this.holdClient(chunk);
      client.on('data', hold);
      client.once('end', () => {
        if (this.phase.client === 'classifying') {
          this.clientEndHeld = true;
          this.classify(false);
        }
      });
    } else {
      this.wireClient(client);
    }
  }

  /** Ends the connection now (drain deadline): both sides closed, capture flushed as `drain`. */
  abort(): void {
    this.reason ??= 'drain';
    this.client.destroy();
    this.rawClient.destroy();
    this.upstream.destroy();
    this.rawUpstream.destroy();
  }

  private dialUpstream(): Socket {
    if (this.tap) this.dialStartedAt = this.env.clock();
    const raw = connect({
      host: this.meta.dst.ip,
      port: this.meta.dst.port,
      localAddress: this.env.upstreamLocalAddress,
      allowHalfOpen: true,
      noDelay: true,
    });
    // Small request/response exchanges must not wait for Nagle (the proxy never coalesces).
    raw.setNoDelay(true);
    return raw;
  }

  /** The upstream TCP connection is up; a mesh hop is connected (and its facts told) once verified. */
  private rawConnected(mesh: boolean): void {
    if (!mesh) this.phase.toUpstream('connected');
    if (this.tap === undefined) return;
    this.upstreamUpAt = this.env.clock();
    if (!mesh) this.tap.fact({ kind: 'connect', us: usBetween(this.dialStartedAt, this.upstreamUpAt) });
  }

  private wireUpstream(raw: Socket, upstream: Socket): void {
    upstream.on('data', (chunk: Buffer) => this.fromServer(chunk));
    upstream.on('drain', () => this.client.resume());
    upstream.on('end', () => this.serverEnded());
    upstream.on('error', (err) => this.failed('server', err));
    if (upstream !== raw) raw.on('error', (err) => this.failed('server', err));
    raw.on('close', () => this.socketClosed('server'));
    if (upstream !== raw) upstream.on('close', () => this.socketClosed('server'));
  }

  private wireClient(client: Socket): void {
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    client.on('drain', () => this.upstream.resume());
    client.on('end', () => this.clientEnded());
  }

  // --- outbound mesh -------------------------------------------------------------------

  private meshClient(raw: Socket, plan: OutboundMeshPlan): Socket {
    const mtls = this.env.mtls!;
    const dial = dialMesh(raw, plan, this.meta.dst.ip, this.meta.connectionId, {
      onRejected: (why) => {
        this.meshDial = undefined;
        mtls.count('outbound', 'peer_rejected', { dst: `${this.meta.dst.ip}:${this.meta.dst.port}`, reason: why });
        this.reason ??= 'error';
        this.env.direction.upstreamConnectFailures++;
        resetSocket(raw);
        resetSocket(this.rawClient);
      },
      onVerified: (peer) => {
        this.meshDial = undefined;
        this.phase.toUpstream('connected');
        this.meta.mesh = true;
        this.meta.localIdentity = plan.localIdentity;
        this.meta.peerIdentity = peer;
        this.tap?.metaChanged();
        if (this.tap && this.upstreamUpAt !== undefined) {
          this.tap.fact({ kind: 'connect', us: usBetween(this.dialStartedAt, this.upstreamUpAt) });
          this.tap.fact({ kind: 'tls_handshake', us: usBetween(this.upstreamUpAt, this.env.clock()) });
        }
        mtls.count('outbound', 'mesh');
      },
    });
    this.meshDial = dial;
    return dial.socket;
  }

  /** Drops the failed mesh hop and dials the destination again in plaintext, replaying the app's bytes. */
  private fallBackToPlaintext(err: NodeJS.ErrnoException): void {
    const pending = this.meshDial!;
    this.meshDial = undefined;
    this.phase.toUpstream('dialing');
    for (const old of [this.upstream, this.rawUpstream]) {
      old.removeAllListeners();
      old.on('error', ignore);
      old.destroy();
    }
    this.meta.meshFallback = true;
    this.tap?.metaChanged();
    this.env.mtls?.count('outbound', 'plaintext_fallback_no_peer_identity', { dst: `${this.meta.dst.ip}:${this.meta.dst.port}`, reason: err.code ?? err.message });
    this.upstreamUpAt = undefined;
    const raw = this.dialUpstream();
    this.rawUpstream = raw;
    this.upstream = raw;
    raw.once('connect', () => this.rawConnected(false));
    this.wireUpstream(raw, raw);
    let flowing = true;
    for (const chunk of pending.held) flowing = raw.write(chunk);
    if (pending.ended) raw.end();
    else if (flowing) this.client.resume();
  }

  // --- inbound classification ----------------------------------------------------------

  private holdClient(chunk: Buffer): void {
    if (this.phase.client !== 'classifying') return;
    this.held.push(chunk);
    this.classify(false);
  }

  private classify(serverFirst: boolean): void {
    if (this.phase.client !== 'classifying') return;
    const held = this.held;
    const bytes = held.length === 1 ? held[0] : Buffer.concat(held);
    const end = this.clientEndHeld;
    const mtls = this.env.mtls!;
    const awaitingHello = serverFirst && bytes.length === 0 && this.awaitingHello(mtls);
    const decision = decideInbound(mtls, bytes, { clientEnded: end, serverFirst, awaitingHello, srcIp: this.meta.client.ip, dst: this.meta.dst });
    if (decision.kind === 'need-more') return;
    this.endHelloGrace();
    this.held = [];
    this.client.removeAllListeners('data');
    this.client.removeAllListeners('end');
    if (decision.kind === 'refuse' && decision.reason === 'mesh_without_identity') {
      this.declineMesh();
      return;
    }
    if (decision.kind === 'refuse') {
      this.phase.toClient('refused');
      mtls.count('inbound', decision.reason, { src: this.meta.client.ip, port: this.meta.dst.port });
      this.reason ??= 'reset';
      this.tap?.disable();
      resetSocket(this.rawClient);
      resetSocket(this.rawUpstream);
      return;
    }
    if (decision.kind === 'mesh') {
      this.meshServer(bytes);
      return;
    }
    mtls.count('inbound', decision.kind === 'plaintext' ? (decision.probe ? 'probe_plaintext' : 'plaintext') : 'app_tls');
    this.phase.toClient('open');
    this.wireClient(this.client);
    if (bytes.length > 0) this.fromClient(bytes);
    this.releaseServer();
    if (end) this.clientEnded();
  }

  /**
   * The app spoke before the client sent a byte: true while a meshed pod's ClientHello is
   * awaited (its sidecar sends it as soon as it is connected; only its app waits for the
   * greeting). Starts the grace on the first call; when it ends, classification goes on.
   */
  private awaitingHello(mtls: MtlsHooks): boolean {
    if (this.helloGrace === 'over') return false;
    if (this.helloGrace !== undefined) return true;
    if (!mtls.inbound.expectsHello(this.meta.client.ip)) {
      this.helloGrace = 'over';
      return false;
    }
    this.helloGrace = setTimeout(() => {
      this.helloGrace = 'over';
      this.classify(true);
    }, HELLO_GRACE_MS);
    this.helloGrace.unref();
    return true;
  }

  private endHelloGrace(): void {
    if (this.helloGrace !== undefined && this.helloGrace !== 'over') clearTimeout(this.helloGrace);
    this.helloGrace = 'over';
  }

  /**
   * A mesh ClientHello and no certificate to answer it with: an alert before any ServerHello
   * tells the client sidecar to come back in plaintext. The app's connection opened for this
   * attempt is dropped unused, and nothing is recorded (the plaintext retry is).
   */
  private declineMesh(): void {
    this.phase.toClient('refused');
    this.env.mtls!.count('inbound', 'mesh_without_identity', { src: this.meta.client.ip, port: this.meta.dst.port });
    this.reason ??= 'reset';
    this.tap?.disable();
    this.heldServer = [];
    const raw = this.rawClient;
    // The client's further bytes are dropped (no 'data' listener left); its close ends ours.
    raw.end(NO_MESH_ALERT);
    this.setupTimer = setTimeout(() => resetSocket(raw), MESH_SETUP_TIMEOUT_MS);
    this.setupTimer.unref();
    resetSocket(this.rawUpstream);
  }

  private releaseServer(): void {
    const pending = this.heldServer;
    this.heldServer = [];
    for (const chunk of pending) this.fromServer(chunk);
    this.settleUnreachable();
  }

  private meshServer(hello: Buffer): void {
    const mtls = this.env.mtls!;
    const raw = this.rawClient;
    // Until the handshake ends, the client is in setup: server bytes are held.
    this.phase.toClient('mesh-setup');
    const helloAt = this.tap ? this.env.clock() : 0n;
    const cancel = acceptMeshClient(mtls, raw, hello, {
      onFail: (outcome, reason) => {
        this.cancelMeshSetup = undefined;
        this.phase.toClient('refused');
        mtls.count('inbound', outcome, { src: this.meta.client.ip, reason });
        this.reason ??= 'reset';
        this.tap?.disable();
        resetSocket(raw);
        resetSocket(this.rawUpstream);
      },
      onSecured: (socket) => {
        if (this.tap) this.tap.fact({ kind: 'tls_handshake', us: usBetween(helloAt, this.env.clock()) });
        this.client = socket;
        socket.on('error', (err) => this.failed('client', err));
        socket.on('close', () => this.socketClosed('client'));
      },
      onReady: (socket, facts) => {
        this.cancelMeshSetup = undefined;
        this.meta.connectionId = facts.connectionId;
        this.meta.mesh = true;
        this.meta.peerIdentity = facts.peerIdentity;
        this.meta.localIdentity = facts.localIdentity;
        this.tap?.metaChanged();
        this.phase.toClient('open');
        mtls.count('inbound', 'mesh');
        this.wireClient(socket);
        if (facts.rest.length > 0) this.fromClient(facts.rest);
        this.releaseServer();
      },
    });
    if (cancel === undefined) {
      // No certificate to answer with: decline, so the client sidecar retries in plaintext.
      this.declineMesh();
      return;
    }
    this.cancelMeshSetup = cancel;
  }

  // --- forwarding ------------------------------------------------------------------------

  private fromClient(chunk: Buffer): void {
    this.bytesFromClient += chunk.length;
    this.env.direction.bytesFromClient += chunk.length;
    // Node never reuses a chunk it handed to 'data': keeping the reference is enough.
    this.meshDial?.held.push(chunk);
    const upstream = this.upstream;
    // Read before the write: once forwarded, the peer's sidecar may record the bytes first.
    const seenAt = this.tap ? performance.now() : 0;
    if (!upstream.destroyed && !upstream.write(chunk)) this.client.pause();
    if (this.tap) this.tap.clientData(chunk, seenAt);
  }

  private fromServer(chunk: Buffer): void {
    if (this.phase.clientPending) {
      // Not classified yet (or a mesh handshake in progress): the client must not see app bytes.
      this.heldServer.push(chunk);
      if (this.phase.client === 'classifying') this.classify(true);
      return;
    }
    this.bytesFromServer += chunk.length;
    this.env.direction.bytesFromServer += chunk.length;
    const client = this.client;
    const seenAt = this.tap ? performance.now() : 0;
    if (!client.destroyed && !client.write(chunk)) this.upstream.pause();
    if (this.tap) this.tap.serverData(chunk, seenAt);
  }

  private clientEnded(): void {
    if (this.meshDial) this.meshDial.ended = true;
    if (!this.upstream.destroyed) this.upstream.end();
    if (this.tap) this.tap.clientEnd();
  }

  private serverEnded(): void {
    // A peer closing during the outbound mesh handshake: the handshake error follows and decides.
    if (this.meshDial) return;
    if (this.phase.clientPending) {
      // The app closed before the client was classified: nothing to tell a client we have not placed yet.
      this.reason ??= 'fin';
      this.tap?.disable();
      this.client.destroy();
      this.rawClient.destroy();
      return;
    }
    if (!this.client.destroyed) this.client.end();
    if (this.tap) this.tap.serverEnd();
  }

  private failed(side: 'client' | 'server', err: NodeJS.ErrnoException): void {
    if (side === 'server' && this.phase.upstream !== 'connected') {
      this.upstreamUnreachable(err);
      return;
    }
    if (this.reason === undefined && this.tap && isReset(err)) this.tap.fact({ kind: 'reset', by: side });
    this.reason ??= isReset(err) ? 'reset' : 'error';
    const other = side === 'client' ? this.rawUpstream : this.rawClient;
    if (other.destroyed) return;
    resetSocket(other);
  }

  private upstreamUnreachable(err: NodeJS.ErrnoException, settled = false): void {
    if (this.reason !== undefined && this.rawClient.destroyed) return;
    if (!settled && this.deferUnreachable(err)) return;
    const dial = this.meshDial;
    if (dial !== undefined && canFallBackToPlaintext(dial, this.rawUpstream) && !this.rawClient.destroyed) {
      if (!fallbackForbidden(dial)) {
        this.fallBackToPlaintext(err);
        return;
      }
      this.env.mtls?.count('outbound', 'fallback_refused_strict_peer', { dst: `${this.meta.dst.ip}:${this.meta.dst.port}`, reason: err.code ?? err.message });
    }
    if (dial !== undefined) this.peerRefusal = dial.refusal;
    this.meshDial = undefined;
    this.reason ??= 'error';
    this.env.direction.upstreamConnectFailures++;
    if (this.upstream !== this.rawUpstream) {
      // A mesh handshake that failed (the chain, or the peer closing on us).
      const outcome = this.peerRefusal !== undefined ? 'peer_rejected' : 'handshake_failed';
      this.env.mtls?.count('outbound', outcome, { dst: `${this.meta.dst.ip}:${this.meta.dst.port}`, reason: this.peerRefusal ?? err.code ?? err.message });
    }
    this.tap?.unreachable(err.code ?? err.message, this.bytesFromClient);
    resetSocket(this.rawClient);
    resetSocket(this.rawUpstream);
  }

  /**
   * Inbound, the app unreachable while the client is still being classified: when the client
   * is a mesh peer on its way (its hello held or awaited, its handshake under way), the failure
   * waits until the connection id is known (`releaseServer` settles it) — at most the mesh
   * setup's bound, or the hello grace while no byte has come. Otherwise it is handled now.
   */
  private deferUnreachable(err: NodeJS.ErrnoException): boolean {
    if (this.env.observer !== 'inbound' || !this.phase.clientPending) return false;
    const setup = this.clientSpeaking();
    if (!setup && this.env.mtls?.inbound.expectsHello(this.meta.client.ip) !== true) return false;
    if (this.deferredUnreachable !== undefined) return true;
    const timer = setTimeout(() => {
      const deferred = this.deferredUnreachable;
      this.deferredUnreachable = undefined;
      if (deferred === undefined) return;
      // A hello that came meanwhile gets the rest of the mesh setup's time.
      if (!setup && this.clientSpeaking() && this.deferUnreachable(deferred.err)) return;
      this.upstreamUnreachable(deferred.err, true);
    }, setup ? MESH_SETUP_TIMEOUT_MS : HELLO_GRACE_MS);
    timer.unref();
    this.deferredUnreachable = { err, timer };
    return true;
  }

  /** The client has begun: bytes held for classification, or its mesh handshake under way. */
  private clientSpeaking(): boolean {
    return this.phase.client === 'mesh-setup' || (this.phase.client === 'classifying' && this.held.length > 0);
  }

  /** A deferred failure to reach the app, now that the client is classified. */
  private settleUnreachable(): void {
    const deferred = this.deferredUnreachable;
    if (deferred === undefined) return;
    this.deferredUnreachable = undefined;
    clearTimeout(deferred.timer);
    this.upstreamUnreachable(deferred.err, true);
  }

  private countProtocol(protocol: string): void {
    const totals = this.env.direction.connectionsByProtocol;
    totals[protocol] = (totals[protocol] ?? 0) + 1;
  }

  private socketClosed(side: 'client' | 'server'): void {
    if (side === 'client') {
      if (this.clientClosed) return;
      this.clientClosed = true;
      // The app's side is gone: whatever the other side still holds cannot be delivered.
      if (this.phase.client === 'classifying') {
        this.phase.toClient('refused');
        this.held = [];
        if (!this.rawUpstream.destroyed) this.rawUpstream.destroy();
      }
    } else {
      if (this.upstreamClosed) return;
      this.upstreamClosed = true;
    }
    if (!(this.clientClosed && this.upstreamClosed)) return;
    clearTimeout(this.setupTimer);
    if (this.deferredUnreachable !== undefined) clearTimeout(this.deferredUnreachable.timer);
    this.endHelloGrace();
    this.cancelMeshSetup?.();
    this.env.direction.active--;
    if (this.tap) this.tap.close(this.reason ?? 'fin');
    else this.countProtocol('uncaptured');
    this.env.onClosed(this);
  }
}
