/**
 * `meshtap.v1.Membership/Watch`: the controller's side of the membership feed. Callers are
 * authenticated like the CA's (the same `Authenticator`, the Bearer token in the metadata),
 * so only workloads learn which pods and services exist. Each authenticated stream gets the
 * current snapshot at once (or as soon as there is one) and every later one.
 *
 * Snapshots are whole, so a slow reader never needs a backlog: while a stream's buffer is full
 * only the newest snapshot is kept for it. Streams end on their own (status OK) after
 * `maxStreamAgeMs` (with jitter, so a fleet does not reconnect at once), which makes sidecars
 * come back with a fresh token: a token is checked when a stream opens, and projected tokens
 * expire.
 */
import * as grpc from '@grpc/grpc-js';
import { isMeshtapError } from '../../lib/errors.ts';
import type { Authenticator } from '../../certs/authn/authenticator.ts';
import { bearerTokenOf } from '../../certs/ca-service.ts';
import { loadMembershipServiceDefinition, type WatchRequestMessage } from '../../record/membership-proto.ts';
import type { MembershipHub, PublishedSnapshot } from './hub.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';

export interface MembershipServiceOptions {
  readonly hub: MembershipHub;
  readonly authenticator: Authenticator;
  readonly log?: Logger;
  /** A stream is ended (OK) after this long, plus up to 10 % jitter. Default 30 min. */
  readonly maxStreamAgeMs?: number;
  readonly random?: () => number;
}

export interface MembershipService {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
  /** Open, authenticated streams. */
  streams(): number;
  /** Ends every stream (status UNAVAILABLE: "shutting down, come back elsewhere"). */
  close(): void;
}

/** How an authentication failure is answered: the same mapping as the CA's. */
function statusOf(err: unknown): grpc.status {
  if (!isMeshtapError(err)) return grpc.status.INTERNAL;
  if (err.code === 'CA_ERR_AUTHN_UNAVAILABLE') return grpc.status.UNAVAILABLE;
  if (err.code === 'CA_ERR_TOKEN_IDENTITY' || err.code === 'CA_ERR_BAD_IDENTITY') return grpc.status.PERMISSION_DENIED;
  if (err.code.startsWith('CA_ERR_TOKEN_')) return grpc.status.UNAUTHENTICATED;
  return grpc.status.INTERNAL;
}

/** The proto's definition, with the response serializer letting pre-encoded snapshots through. */
function definitionWithBufferPassThrough(): grpc.ServiceDefinition {
  const base = loadMembershipServiceDefinition();
  const watch = base.Watch;
  return {
    ...base,
    Watch: { ...watch, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : watch.responseSerialize(value)) },
  };
}

export function createMembershipService(options: MembershipServiceOptions): MembershipService {
  const { hub, authenticator } = options;
  const log = options.log ?? silentLogger;
  const maxAgeMs = options.maxStreamAgeMs ?? 30 * 60_000;
  const random = options.random ?? Math.random;
  const open = new Set<grpc.ServerWritableStream<WatchRequestMessage, Buffer>>();
  const closers = new Set<() => void>();

  const Watch: grpc.handleServerStreamingCall<WatchRequestMessage, Buffer> = (call) => {
    const peer = call.getPeer();
    let done = false;
    const cleanups: (() => void)[] = [];
    const finish = (): void => {
      if (done) return;
      done = true;
      for (const fn of cleanups) fn();
      open.delete(call);
    };
    call.on('cancelled', finish);
    call.on('close', finish);
    call.on('error', finish);

    let token: string;
    try {
      token = bearerTokenOf(call.metadata);
    } catch (err) {
      refuse(err);
      return;
    }
    authenticator.authenticate(token).then(
      (workload) => {
        if (done || call.cancelled) return;
        start({ namespace: workload.namespace, serviceAccount: workload.serviceAccount, pod: workload.podName });
      },
      (err: unknown) => refuse(err),
    );

    function refuse(err: unknown): void {
      const code = statusOf(err);
      const known = isMeshtapError(err);
      const fields = { event: 'membership-watch-refused', peer, code: known ? err.code : 'unexpected', status: grpc.status[code], error: known ? err.message : String(err) };
      if (code === grpc.status.UNAVAILABLE || code === grpc.status.INTERNAL) log.error(fields, 'membership watch failed');
      else log.warn(fields, 'membership watch refused');
      const details = known ? `${err.code}: ${err.message}` : 'the controller failed to authenticate the caller; its log has the details';
      if (!done) call.emit('error', { code, details, metadata: new grpc.Metadata() });
      finish();
    }

    function start(who: { namespace: string; serviceAccount: string; pod?: string }): void {
      open.add(call);
      call.sendMetadata(new grpc.Metadata());
      let waitingForDrain = false;
      let pending: Buffer | undefined;
      const send = (bytes: Buffer): void => {
        if (done) return;
        if (waitingForDrain) {
          pending = bytes;
          return;
        }
        if (!call.write(bytes)) {
          waitingForDrain = true;
          call.once('drain', () => {
            waitingForDrain = false;
            const next = pending;
            pending = undefined;
            if (next) send(next);
          });
        }
      };
      const onSnapshot = (p: PublishedSnapshot): void => send(p.bytes);
      cleanups.push(hub.subscribe(onSnapshot));
      const ageTimer = setTimeout(() => {
        if (done) return;
        log.debug?.({ event: 'membership-stream-aged', peer }, 'membership stream ended after its maximum age');
        finish();
        call.end();
      }, Math.round(maxAgeMs * (1 + 0.1 * random())));
      ageTimer.unref?.();
      cleanups.push(() => clearTimeout(ageTimer));
      const closeNow = (): void => {
        if (done) return;
        finish();
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the controller is shutting down', metadata: new grpc.Metadata() });
      };
      closers.add(closeNow);
      cleanups.push(() => closers.delete(closeNow));
      const current = hub.current();
      log.info(
        { event: 'membership-watch', peer, ...who, knownVersion: Number(call.request?.known_version) || 0, version: current?.snapshot.version, streams: open.size },
        'membership watch opened',
      );
      if (current) send(current.bytes);
    }
  };

  return {
    definition: definitionWithBufferPassThrough(),
    implementation: { Watch: Watch as grpc.UntypedHandleCall },
    streams: () => open.size,
    close() {
      for (const fn of [...closers]) fn();
    },
  };
}
