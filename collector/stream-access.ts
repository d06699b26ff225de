/**
 * Live streams held to the credentials that opened them. Every request is authenticated again,
 * but a stream is one request that lasts for hours: without this, signing out of the dashboard
 * (its session removed) or a token revoked in the cluster left the streams already open
 * delivering calls. Each tracked stream keeps the session it came with (or its bearer token);
 * a stream whose session ends is closed at once, and every `recheckMs` each stream's
 * credential is authenticated again (the access control caches its answers) and a refused one
 * closed. The client sees its stream end; reconnecting is then refused with a 401.
 */
import type { Logger } from '../lib/log.ts';
import type { AccessControl } from './auth/access.ts';
import type { StreamClient } from './stream.ts';

/** How a stream was authenticated: a dashboard session, or a bearer token (none with auth off). */
export type StreamCredential = { sessionId: string } | { token: string | undefined };

export interface StreamAccessGuard {
  /** Follows `client` until `closed` emits 'close'. */
  track(client: StreamClient, credential: StreamCredential, closed: { once(event: 'close', listener: () => void): unknown }): void;
  /** Closes the streams of a session that ended (signed out); how many. */
  endSession(sessionId: string): number;
  /** Authenticates every stream's credential again now and closes those refused; how many were closed. */
  recheck(): Promise<number>;
  /** Streams followed now. */
  size(): number;
  stop(): void;
}

export const DEFAULT_STREAM_RECHECK_MS = 60_000;

export function createStreamAccessGuard(deps: {
  access: AccessControl;
  /** The token of a live session; undefined once it ended or expired. */
  sessionToken: (id: string) => string | undefined;
  log: Logger;
  recheckMs?: number;
}): StreamAccessGuard {
  const streams = new Map<StreamClient, StreamCredential>();
  let checking: Promise<number> | undefined;
  const close = (client: StreamClient, why: string): void => {
    if (!streams.delete(client)) return;
    deps.log.info({ reason: why }, 'live stream closed: its credentials no longer give access');
    client.close();
  };
  const recheck = async (): Promise<number> => {
    let closed = 0;
    for (const [client, credential] of [...streams]) {
      const token = 'sessionId' in credential ? deps.sessionToken(credential.sessionId) : credential.token;
      if ('sessionId' in credential && token === undefined) {
        close(client, 'session ended');
        closed++;
        continue;
      }
      let ok = true;
      try {
        const result = await deps.access.authenticate(token);
        // 503: the access check could not be made (the API server away): the stream is kept,
        // as a refusal would be a guess; a 401 is an answer.
        ok = result.ok || result.status === 503;
      } catch {
        ok = true;
      }
      if (!ok && streams.has(client)) {
        close(client, 'access refused');
        closed++;
      }
    }
    return closed;
  };
  const timer = setInterval(() => {
    checking ??= recheck().finally(() => {
      checking = undefined;
    });
  }, deps.recheckMs ?? DEFAULT_STREAM_RECHECK_MS);
  timer.unref();
  return {
    track(client, credential, closed) {
      streams.set(client, credential);
      closed.once('close', () => streams.delete(client));
    },
    endSession(sessionId) {
      let n = 0;
      for (const [client, credential] of [...streams]) {
        if ('sessionId' in credential && credential.sessionId === sessionId) {
          close(client, 'signed out');
          n++;
        }
      }
      return n;
    },
    recheck: () => (checking ??= recheck().finally(() => (checking = undefined))),
    size: () => streams.size,
    stop() {
      clearInterval(timer);
      streams.clear();
    },
  };
}
